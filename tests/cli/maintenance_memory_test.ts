// backup, restore and migrate stream: a relay several times larger than the memory bound goes
// through each of them with a peak RSS far below its size.
import { assert, assertEquals } from "../assert.ts";
import { conf, escaleWithPeak } from "./cli_helpers.ts";

Deno.test("backup, restore and migrate of a 320 MiB relay stay well below its size in memory", async () => {
  const dir = await Deno.makeTempDir({ prefix: "escale-maint-mem-" });
  try {
    for (const d of ["A", "B", "relay", "restored"]) await Deno.mkdir(`${dir}/${d}`);
    for (const [c, mode] of [["A", "upload"], ["B", "download"]]) {
      await conf(
        `${dir}/${c}.conf`,
        `[r]\nclient = ${c}\nlocal path = ${dir}/${c}\nrelay path = ${dir}/relay\nmode = ${mode}\nmaxpagesize = 1GB\n`,
      );
    }
    await conf(
      `${dir}/R.conf`,
      `[r]\nclient = R\nlocal path = ${dir}/B\nrelay path = ${dir}/restored\n`,
    );
    const f = await Deno.open(`${dir}/A/big.bin`, { write: true, create: true });
    const block = crypto.getRandomValues(new Uint8Array(65536));
    for (let i = 0; i < 320 * 16; i++) await f.write(block);
    f.close();
    assertEquals((await escaleWithPeak(["run", "--once", "-c", `${dir}/B.conf`])).code, 0);
    assertEquals((await escaleWithPeak(["run", "--once", "-c", `${dir}/A.conf`])).code, 0);
    const steps: [string, string[]][] = [
      ["backup", ["backup", "-c", `${dir}/A.conf`, `${dir}/b.tar`]],
      ["restore", ["restore", "-c", `${dir}/R.conf`, `${dir}/b.tar`]],
      ["migrate", ["migrate", "-c", `${dir}/R.conf`, `${dir}/moved`]],
    ];
    for (const [name, args] of steps) {
      const r = await escaleWithPeak(args);
      assertEquals(r.code, 0, `${name}: ${r.stderr}`);
      assert(
        r.kib < 250 * 1024,
        `${name}: peak RSS ${Math.round(r.kib / 1024)} MiB for a 320 MiB relay`,
      );
      console.log(`${name}: peak RSS ${Math.round(r.kib / 1024)} MiB`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
