// An index update goes through a pusher and a puller without either holding it in memory: the
// tar is packed and unpacked one chunk and one bzip2 block at a time. Deno's own memory (about
// 60 MiB) and the garbage its collector leaves for a while (about 60 MiB more) come on top of
// what a round holds, so the bound is the update's size plus a little: holding the update would
// pass it by far.
import { assert, assertEquals } from "../assert.ts";
import { conf, escaleWithPeak } from "../cli/cli_helpers.ts";
import { withDir } from "./index_helpers.ts";

const MIB = 1024 * 1024;
const SIZE = 128 * MIB;

Deno.test("legacy index: a 128 MiB update is published and taken without holding it in memory", async () => {
  await withDir(async (dir) => {
    for (const d of ["A", "B", "relay"]) await Deno.mkdir(`${dir}/${d}`);
    for (const [c, mode] of [["A", "upload"], ["B", "download"]]) {
      await conf(
        `${dir}/${c}.conf`,
        `[r]\nclient = ${c}\nlocal path = ${dir}/${c}\nrelay path = ${dir}/relay\nmode = ${mode}\nrelay format = escale-0.7\nindex = 1\n`,
      );
    }
    const f = await Deno.open(`${dir}/A/big.bin`, { write: true, create: true });
    // Mostly zeros: bzip2 is quick on them (its run-length step), and the plaintext, which is
    // what a round could hold, stays 128 MiB. Each MiB differs, so no two bzip2 blocks match.
    const block = new Uint8Array(MIB);
    for (let i = 0; i < SIZE / MIB; i++) {
      crypto.getRandomValues(block.subarray(0, 4096));
      block.fill(0, 4096);
      for (let j = 4096; j < MIB; j += 4096) block[j] = i + j;
      await f.write(block);
    }
    f.close();
    for (const c of ["A", "B"]) {
      const r = await escaleWithPeak(["run", "--once", "-c", `${dir}/${c}.conf`]);
      assertEquals(r.code, 0, `${c}: ${r.stderr}`);
      console.log(`${c}: peak RSS ${Math.round(r.kib / 1024)} MiB`);
      assert(
        r.kib * 1024 < SIZE + 32 * MIB,
        `${c}: peak RSS ${Math.round(r.kib / 1024)} MiB for 128 MiB`,
      );
    }
    const a = await Deno.stat(`${dir}/A/big.bin`);
    const b = await Deno.stat(`${dir}/B/big.bin`);
    assertEquals(b.size, a.size);
  });
});
