/**
 * What the network benchmarks share: timing a command (wall and CPU seconds, peak RSS, from
 * /usr/bin/time), making the test data, comparing trees, and describing the machine.
 */
import { run } from "../tests/servers/harness.ts";

/** One command's cost, as /usr/bin/time measured it (peak RSS: its largest process). */
export interface Timed {
  seconds: number;
  /** user + system CPU seconds: on 2 cores, tells a CPU-bound command from a waiting one */
  cpu: number;
  rssMiB: number;
}

/** Runs `cmd` under /usr/bin/time with RCLONE_CONFIG=/dev/null; throws on failure. */
export async function timed(cmd: string[], env: Record<string, string> = {}): Promise<Timed> {
  const out = await new Deno.Command("/usr/bin/time", {
    args: ["-f", "%e %U %S %M", ...cmd],
    env: { RCLONE_CONFIG: "/dev/null", NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(out.stderr).trim().split("\n");
  if (!out.success) {
    throw new Error(`${cmd.slice(0, 3).join(" ")} failed: ${err.slice(-15).join("\n")}`);
  }
  const [s, user, sys, kb] = err[err.length - 1].split(" ").map(Number);
  return { seconds: s, cpu: +(user + sys).toFixed(2), rssMiB: Math.round(kb / 1024) };
}

export function loadAvg(): string {
  return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
}

/** `files` files of `size` bytes, 100 per folder, each with distinct contents. */
export async function makeTree(dir: string, files: number, size: number): Promise<void> {
  const block = new Uint8Array(size).map((_, i) => (i * 131 + 7) & 0xff);
  for (let d = 0; d * 100 < files; d++) {
    await Deno.mkdir(`${dir}/d${d}`, { recursive: true });
    for (let f = 0; f < 100 && d * 100 + f < files; f++) {
      // Distinct contents, so that no tool can deduplicate its way out of the work.
      block[0] = f;
      block[1] = d & 0xff;
      block[2] = d >> 8;
      await Deno.writeFile(`${dir}/d${d}/f${f}.bin`, block);
    }
  }
}

/** One file of `bytes` random (incompressible) bytes. */
export async function makeBig(path: string, bytes: number): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  // Random bytes: incompressible, like most big files users sync.
  const buf = new Uint8Array(8 * 1024 * 1024);
  for (let i = 0; i < buf.length; i += 65536) crypto.getRandomValues(buf.subarray(i, i + 65536));
  for (let done = 0; done < bytes; done += buf.length) {
    buf[0] = (done >> 23) & 0xff;
    await f.write(buf.subarray(0, Math.min(buf.length, bytes - done)));
  }
  f.close();
}

/** Whether two trees hold the same files (escale's own `.escale` folder aside). */
export async function same(a: string, b: string): Promise<boolean> {
  const out = await new Deno.Command("diff", {
    args: ["-r", "-q", "-x", ".escale", a, b],
    stdout: "null",
    stderr: "null",
  }).output();
  return out.success;
}

export async function sync(): Promise<void> {
  // Flush what the previous command wrote, so its writeback is not billed to the next one.
  await new Deno.Command("sync").output();
}

/** Date, CPU, memory and the versions of every program measured, as markdown list lines. */
export async function machine(): Promise<string> {
  const mem = Deno.readTextFileSync("/proc/meminfo").match(/MemTotal:\s+(\d+)/)?.[1];
  const cpu = Deno.readTextFileSync("/proc/cpuinfo").match(/model name\s*:\s*(.+)/)?.[1];
  const rclone = (await run("rclone", ["version"])).split("\n")[0];
  const deno = (await run(Deno.execPath(), ["--version"])).split("\n")[0];
  return [
    `- date: ${new Date().toISOString()}`,
    `- nproc: ${navigator.hardwareConcurrency} (${cpu?.trim() ?? "unknown CPU"}), memory: ${
      (Number(mem) / 1024 / 1024).toFixed(1)
    } GiB`,
    `- ${deno}, ${rclone}, Apache ${
      (await run("/usr/sbin/apache2", ["-v"])).match(/Apache\/(\S+)/)?.[1]
    }, ${(await run("proftpd", ["--version"])).trim()}, moto_server ${
      (await run("python3", ["-c", "import moto; print(moto.__version__)"])).trim()
    }`,
  ].join("\n");
}
