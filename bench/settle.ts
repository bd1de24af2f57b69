/**
 * What every benchmark does before each timed command, so that no tool pays for another's
 * leftovers:
 * - `sync`: the previous command's dirty pages are written back now, not during the next one.
 * - a warm scratch write: on this kind of VM (firecracker), the first time the guest touches a
 *   page of memory the host has not backed yet costs a fault on the host. A command that grows
 *   the page cache into such memory writes files about ten times slower (measured: 1 GiB into
 *   a new file took 3.7–4.3 s; right after 4 GiB had been written and deleted, 0.45–1.0 s).
 *   Writing then deleting a scratch file of the size the next command will write leaves that
 *   much freed, already backed memory for it, whichever tool runs.
 */
export async function settle(scratchDir: string, warmBytes: number): Promise<void> {
  await new Deno.Command("sync").output();
  if (warmBytes <= 0) return;
  const path = `${scratchDir}/.bench-warm-scratch`;
  const f = Deno.openSync(path, { write: true, create: true, truncate: true });
  try {
    const buf = new Uint8Array(1024 * 1024).fill(1);
    for (let done = 0; done < warmBytes; done += buf.length) {
      let off = 0;
      while (off < buf.length) off += f.writeSync(buf.subarray(off));
    }
  } finally {
    f.close();
  }
  // Deleting a file whose pages are still dirty drops them without any disk write.
  Deno.removeSync(path);
}

/** Median of a list of numbers (the lower middle for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}
