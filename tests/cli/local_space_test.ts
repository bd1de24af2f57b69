// A puller whose local disk fills up (issue 18): a clear "no space left on the local disk" and
// exit 8, never "internal error", and the round completes once there is room. The local folder
// is a real 1 MiB tmpfs, which needs root (CI runs as root).
import { assert, assertEquals, sameBytes } from "../assert.ts";
import { conf, escale } from "./cli_helpers.ts";

async function sh(cmd: string, args: string[]): Promise<{ ok: boolean; err: string }> {
  const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
  return { ok: out.success, err: new TextDecoder().decode(out.stderr).trim() };
}

/** Incompressible bytes (getRandomValues gives at most 64 KiB per call). */
function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

for (
  const [name, files] of [
    ["one big file (streamed to disk)", { "big.bin": 3 * 1024 * 1024 }],
    [
      "a batch of small files (written in memory-sized pieces)",
      Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`s${i}.bin`, 50_000])),
    ],
  ] as [string, Record<string, number>][]
) {
  Deno.test(`cli: a full local disk on the puller is exit 8 with a clear message: ${name}`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "escale-localspace-" });
    let mounted = false;
    try {
      for (const d of ["A", "B", "relay"]) await Deno.mkdir(`${dir}/${d}`);
      const m = await sh("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", `${dir}/B`]);
      if (!m.ok) {
        console.log(`skipped: cannot mount a tmpfs (${m.err || "mount failed"}); run as root`);
        return;
      }
      mounted = true;
      for (const c of ["A", "B"]) {
        await conf(
          `${dir}/${c}.conf`,
          `[${c}]\nclient name = ${c}\nlocal path = ${dir}/${c}\nrelay path = ${dir}/relay\n`,
        );
      }
      const run = (c: string) => escale(["run", "--once", "-c", `${dir}/${c}.conf`]);
      for (const [f, size] of Object.entries(files)) {
        await Deno.writeFile(`${dir}/A/${f}`, randomBytes(size));
      }
      assertEquals((await run("B")).code, 0);
      assertEquals((await run("A")).code, 0);
      const full = await run("B");
      assertEquals(full.code, 8, full.stderr);
      const lines = full.stderr.trim().split("\n");
      assertEquals(lines.length, 1, full.stderr);
      assert(/: no space left on the local disk/.test(lines[0]), lines[0]);
      assert(!lines[0].includes("internal error"), lines[0]);

      // Room again: the next round completes and nothing is lost.
      assert((await sh("mount", ["-o", "remount,size=16m", `${dir}/B`])).ok, "remount");
      const again = await run("B");
      assertEquals(again.code, 0, again.stderr);
      for (const f of Object.keys(files)) {
        const want = await Deno.readFile(`${dir}/A/${f}`);
        assert(sameBytes(await Deno.readFile(`${dir}/B/${f}`), want), `${f} differs`);
      }
    } finally {
      if (mounted) await sh("umount", [`${dir}/B`]);
      await Deno.remove(dir, { recursive: true });
    }
  });
}
