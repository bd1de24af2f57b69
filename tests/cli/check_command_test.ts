import { assert, assertEquals } from "../assert.ts";
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
