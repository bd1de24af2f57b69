// Configuration and local-folder problems found before the relay is touched (issue 18): a bad
// filter or `cache dir` is one file:line error, and the relay folder stays empty.
import { assert, assertEquals } from "../assert.ts";
import { readTree } from "../engine/sandbox.ts";
import { conf, escale, fingerprint } from "./cli_helpers.ts";

function oneLineError(stderr: string, pattern: RegExp): void {
  const lines = stderr.trim().split("\n").filter((l) => !l.includes("warning"));
  assertEquals(lines.length, 1, `expected one line, got:\n${stderr.slice(0, 2000)}`);
  assert(pattern.test(lines[0]), `"${lines[0].slice(0, 500)}" does not match ${pattern}`);
  assert(!lines[0].includes("internal error"), lines[0].slice(0, 500));
  assert(lines[0].length < 400, `a line of ${lines[0].length} characters`);
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "escale-conferr-" });
  try {
    await Deno.mkdir(`${dir}/local`);
    await Deno.mkdir(`${dir}/relay`);
    await Deno.writeTextFile(`${dir}/local/f.txt`, "content");
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const relayIsEmpty = (dir: string) =>
  assertEquals([...Deno.readDirSync(`${dir}/relay`)].map((e) => e.name), []);

Deno.test("cli: a /regex/ filter that cannot compile is a file:line error before the relay is written", async () => {
  await withDir(async (dir) => {
    // Valid syntax for V8 (which failed only on its first use, "Stack overflow"), but nested
    // deeper than RE2 accepts.
    await conf(
      `${dir}/A.conf`,
      `[A]\nlocal path = ${dir}/local\nrelay path = ${dir}/relay\ninclude = /${"(".repeat(5_000)}a${
        ")".repeat(5_000)
      }\n`,
    );
    const before = await fingerprint(dir);
    const r = await escale(["run", "--once", "-c", `${dir}/A.conf`]);
    assertEquals(r.code, 2, r.stderr.slice(0, 2000));
    oneLineError(
      r.stderr,
      /A\.conf:4: 'include': invalid regular expression .*: expression nests too deeply$/,
    );
    relayIsEmpty(dir);
    assertEquals(await fingerprint(dir), before, "something was written");
  });
});

Deno.test("cli: 50,000 wildcards, as one pattern or as a list, are matched and synced", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/local/p123.txt`, "listed");
    await Deno.mkdir(`${dir}/B`);
    const list = Array.from({ length: 50_000 }, (_, i) => `p${i}*`).join(", ");
    await conf(
      `${dir}/A.conf`,
      `[A]\nclient name = A\nlocal path = ${dir}/local\nrelay path = ${dir}/relay\n` +
        `include = ${list}\nexclude = ${"a*".repeat(50_000)}\n`,
    );
    await conf(
      `${dir}/B.conf`,
      `[B]\nclient name = B\nlocal path = ${dir}/B\nrelay path = ${dir}/relay\n`,
    );
    for (const c of ["B", "A", "B"]) {
      const r = await escale(["run", "--once", "-c", `${dir}/${c}.conf`]);
      assertEquals(r.code, 0, `${c}: ${r.stderr.slice(0, 2000)}`);
    }
    assertEquals(await readTree(`${dir}/B`), { "p123.txt": "listed" });
  });
});

Deno.test("cli: 'cache dir' naming a file is a file:line error, exit 2, nothing written", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/cache`, "a file");
    for (
      const [where, text] of [
        ["section", `[A]\ncache dir = ${dir}/cache\nlocal path = ${dir}/local\n`],
        ["global", `cache dir = ${dir}/cache\n[A]\nlocal path = ${dir}/local\n`],
        ["below a file", `[A]\ncache dir = ${dir}/cache/sub\nlocal path = ${dir}/local\n`],
      ]
    ) {
      await conf(`${dir}/A.conf`, `${text}relay path = ${dir}/relay\n`);
      const before = await fingerprint(dir);
      for (const args of [["run", "--once"], ["ctl", "access", `${dir}/local/f.txt`, "r-"]]) {
        const r = await escale([...args, "-c", `${dir}/A.conf`]);
        assertEquals(r.code, 2, `${where} ${args[0]}: ${r.stderr}`);
        oneLineError(
          r.stderr,
          /A\.conf:[12]: 'cache dir' .*\/cache(\/sub)? is (a file|inside a file)/,
        );
      }
      relayIsEmpty(dir);
      assertEquals(await fingerprint(dir), before, `${where}: something was written`);
    }
  });
});

Deno.test("cli: a state folder blocked by a file is named, and the relay is left alone", async () => {
  await withDir(async (dir) => {
    // The default state folder of a configuration outside ~/.config is <config dir>/.escale/.
    await Deno.writeTextFile(`${dir}/.escale`, "not a folder");
    await conf(`${dir}/A.conf`, `[A]\nlocal path = ${dir}/local\nrelay path = ${dir}/relay\n`);
    const r = await escale(["run", "--once", "-c", `${dir}/A.conf`]);
    assertEquals(r.code, 1, r.stderr);
    oneLineError(
      r.stderr,
      new RegExp(`cannot create the state folder ${dir}/\\.escale/A: ${dir}/\\.escale is a file`),
    );
    relayIsEmpty(dir);
  });
});
