import { assert, assertEquals } from "../assert.ts";
import { readTree } from "../engine/sandbox.ts";
import { conf, escale } from "./cli_helpers.ts";

/**
 * A section's `max retries` governs every write of a round, through the stack a real run opens
 * (ESCALE_FAULTS injects the failure under its one retry layer), on an encrypted section: a data
 * object, a commit and a client record each survive one failure with `max retries = 1`, and with
 * `max retries = 0` the round stops with exit 3 after one attempt.
 */
const WRITES: [string, string][] = [
  ["a data object", "^data/"],
  ["a commit", "^commits/"],
  ["a client record", "^clients/"],
];

async function round(maxRetries: number, match: string) {
  const dir = await Deno.makeTempDir({ prefix: "escale-write-retries-" });
  try {
    for (const d of ["A", "B", "relay"]) await Deno.mkdir(`${dir}/${d}`);
    assertEquals((await escale(["ctl", "keygen", `${dir}/relay.key`])).code, 0);
    const section = (name: string, mode: string) =>
      `[${name}]\nclient = ${name}\nlocal path = ${dir}/${name}\nrelay path = ${dir}/relay\n` +
      `mode = ${mode}\npassphrase = ${dir}/relay.key\nmax retries = ${maxRetries}\n`;
    await conf(`${dir}/A.conf`, section("A", "upload"));
    await conf(`${dir}/B.conf`, section("B", "download"));
    await Deno.writeTextFile(`${dir}/A/report.txt`, "quarterly numbers\n");
    const a = await escale(["run", "--once", "-c", `${dir}/A.conf`], {
      ESCALE_FAULTS: `write:fail:1:${match}`,
    });
    const b = a.code === 0 ? await escale(["run", "--once", "-c", `${dir}/B.conf`]) : undefined;
    return { a, b, tree: b ? await readTree(`${dir}/B`) : undefined };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

for (const [what, match] of WRITES) {
  Deno.test(`cli run, encrypted: max retries = 1 rides out one failed write of ${what}`, async () => {
    const { a, b, tree } = await round(1, match);
    assertEquals(a.code, 0, a.stdout + a.stderr);
    assertEquals(b?.code, 0, b?.stderr);
    assertEquals(tree, { "report.txt": "quarterly numbers\n" });
  });

  Deno.test(`cli run, encrypted: max retries = 0 stops at the first failed write of ${what}`, async () => {
    const { a } = await round(0, match);
    assertEquals(a.code, 3, a.stdout + a.stderr);
    assert(a.stderr.includes("injected fault"), a.stderr);
    assert(a.stderr.includes("still failing after 1 attempt"), a.stderr);
  });
}
