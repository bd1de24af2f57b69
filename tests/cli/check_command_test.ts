import { assert, assertEquals } from "../assert.ts";
import { gzipSync } from "node:zlib";
import { conf, escale } from "./cli_helpers.ts";

async function setup(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "escale-cli-check-" });
  for (const d of ["A", "B", "relay"]) await Deno.mkdir(`${dir}/${d}`);
  for (const [c, mode] of [["A", "upload"], ["B", "download"]]) {
    await conf(
      `${dir}/${c}.conf`,
      `[${c}]\nclient = ${c}\nlocal path = ${dir}/${c}\nrelay path = ${dir}/relay\nmode = ${mode}\n`,
    );
  }
  await Deno.writeTextFile(`${dir}/A/a.txt`, "some content");
  for (const c of ["B", "A"]) {
    assertEquals((await escale(["run", "--once", "-c", `${dir}/${c}.conf`])).code, 0);
  }
  return dir;
}

Deno.test("cli check: exit 0 on a sound relay, 6 with the damaged object named, --json report", async () => {
  const dir = await setup();
  try {
    const ok = await escale(["check", "--read-data", "-c", `${dir}/A.conf`]);
    assertEquals(ok.code, 0, ok.stderr);
    assert(
      /is sound: 2 clients, 1 commits, 1 data objects .*1 files read/.test(ok.stdout),
      ok.stdout,
    );
    const [obj] = [...Deno.readDirSync(`${dir}/relay/data`)].map((e) => e.name);
    await Deno.remove(`${dir}/relay/data/${obj}`);
    const bad = await escale(["check", "-c", `${dir}/B.conf`]);
    assertEquals(bad.code, 6, bad.stderr);
    assertEquals(bad.stdout.trim().split("\n").length, 1);
    assert(bad.stdout.includes(`damaged: 1 problems (data/${obj}: missing)`), bad.stdout);
    const json = await escale(["check", "--json", "-c", `${dir}/B.conf`]);
    assertEquals(json.code, 6);
    const events = json.stdout.trim().split("\n").map((l) => JSON.parse(l));
    const result = events.at(-1);
    assertEquals(result.event, "result");
    assertEquals(result.report.damaged[0].key, `data/${obj}`);
    assertEquals(result.report.damaged[0].problem, "missing");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli check: --help has examples; a missing relay folder is one line", async () => {
  const help = await escale(["check", "--help"]);
  assertEquals(help.code, 0);
  assert(help.stdout.includes("Examples:") && help.stdout.includes("--read-data"), help.stdout);
  const dir = await Deno.makeTempDir({ prefix: "escale-cli-check-" });
  try {
    await conf(`${dir}/x.conf`, `[x]\nlocal path = ${dir}\nrelay path = ${dir}/nowhere\n`);
    const r = await escale(["check", "-c", `${dir}/x.conf`]);
    assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert(r.code !== 0 && !r.stderr.includes("    at "), r.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli check --read-data: a truncated, a changed and a forged object each exit 6, named", async () => {
  const dir = await setup();
  try {
    const [name] = [...Deno.readDirSync(`${dir}/relay/data`)].map((e) => e.name);
    const obj = `data/${name}`;
    const path = `${dir}/relay/${obj}`;
    const original = await Deno.readFile(path);
    const check = async (...extra: string[]) => {
      const r = await escale(["check", ...extra, "-c", `${dir}/B.conf`]);
      assertEquals(r.stdout.trim().split("\n").length, 1, r.stdout);
      return r;
    };

    await Deno.writeFile(path, original.subarray(0, original.length - 3));
    const truncated = await check("--read-data");
    assertEquals(truncated.code, 6, truncated.stdout + truncated.stderr);
    assert(truncated.stdout.includes(`damaged: 1 problems (${obj}: truncated)`), truncated.stdout);

    const changed = original.slice();
    changed[0] ^= 1;
    await Deno.writeFile(path, changed);
    assertEquals((await check()).code, 0, "same size: only --read-data can tell");
    const wrong = await check("--read-data");
    assertEquals(wrong.code, 6, wrong.stdout + wrong.stderr);
    assert(wrong.stdout.includes(`damaged: 1 problems (${obj}: wrong-hash)`), wrong.stdout);

    await Deno.writeFile(path, original);
    const forged = "commits/00000000000000aa-0000000001";
    await Deno.writeFile(
      `${dir}/relay/${forged}`,
      gzipSync(JSON.stringify({
        v: 1,
        client: "00000000000000aa",
        seq: 1,
        time: new Date().toISOString(),
        objects: [],
        entries: [{
          op: "del",
          path: "../../etc/passwd",
          vv: { "00000000000000aa": 1 },
          origin: "00000000000000aa",
        }],
      })),
    );
    const bad = await check("--read-data");
    assertEquals(bad.code, 6, bad.stdout + bad.stderr);
    assert(bad.stdout.includes(`damaged: 1 problems (${forged}: malformed)`), bad.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli check: orphan data objects are named in the summary, the first five and how many more", async () => {
  const dir = await setup();
  try {
    const orphans = [1, 2, 3, 4, 5, 6, 7].map((n) => `data/00000000000000bb-000000000${n}-0000`);
    for (const o of orphans) await Deno.writeTextFile(`${dir}/relay/${o}`, "junk");
    const r = await escale(["check", "-c", `${dir}/B.conf`]);
    assertEquals(r.code, 0, r.stdout + r.stderr);
    assertEquals(r.stdout.trim().split("\n").length, 1, r.stdout);
    assert(
      r.stdout.includes(`7 orphan data objects (${orphans.slice(0, 5).join(", ")} … and 2 more)`),
      r.stdout,
    );
    const json = await escale(["check", "--json", "-c", `${dir}/B.conf`]);
    const report = JSON.parse(json.stdout.trim().split("\n").at(-1)!).report;
    assertEquals(report.orphans.map((o: { key: string }) => o.key).sort(), orphans);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
