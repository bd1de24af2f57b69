// Real crashes: an `escale run` process is SIGKILLed while a chosen relay operation hangs
// (ESCALE_FAULTS stalls it), then normal runs must end with identical trees and a clean relay.
import { assert, assertEquals } from "../assert.ts";
import { conf, escale, killDuring } from "./cli_helpers.ts";
import { readTree } from "../engine/sandbox.ts";

const CASES: [string, "A" | "B", string][] = [
  ["while sending the second data object", "A", "write:stall:2:^data/"],
  ["while writing the commit", "A", "write:stall:1:^commits/"],
  ["while receiving a data object", "B", "read:stall:1:^data/"],
];

Deno.test("cli: SIGKILL at chosen steps, then normal runs converge", async (t) => {
  for (const [name, victim, fault] of CASES) {
    await t.step(name, async () => {
      const dir = await Deno.makeTempDir({ prefix: "escale-kill-" });
      try {
        for (const d of ["A", "B", "relay"]) await Deno.mkdir(`${dir}/${d}`);
        for (const c of ["A", "B"]) {
          await conf(
            `${dir}/${c}.conf`,
            `[${c}]\nclient = ${c}\nlocal path = ${dir}/${c}\nrelay path = ${dir}/relay\nchunk size = 64KB\n`,
          );
        }
        await Deno.writeTextFile(`${dir}/A/big.bin`, "abcdefgh".repeat(64 * 1024));
        for (let i = 0; i < 10; i++) await Deno.writeTextFile(`${dir}/A/f${i}.txt`, `file ${i}`);
        const run = async (c: string) =>
          assertEquals((await escale(["run", "--once", "-c", `${dir}/${c}.conf`])).code, 0, c);
        await run("B");
        if (victim === "B") await run("A");
        await killDuring(["run", "--once", "-c", `${dir}/${victim}.conf`], fault);
        for (const c of ["A", "B", "A", "B", "A"]) await run(c);
        const ta = await readTree(`${dir}/A`);
        assertEquals(await readTree(`${dir}/B`), ta);
        assertEquals(Object.keys(ta).length, 11);
        assert(!Object.keys(ta).some((p) => p.includes(".escale-tmp-")), "temporary file left");
        const relay: string[] = [];
        for (const sub of ["", "commits", "data"]) {
          for (const e of Deno.readDirSync(`${dir}/relay/${sub}`)) {
            if (e.isFile) relay.push(`${sub}/${e.name}`);
          }
        }
        assertEquals(relay, ["/escale.json"]);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
});
