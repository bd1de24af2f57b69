// `escale migrate DEST`, `escale restore` and `escale fix` never write the native format beside
// Escale 0.7 data (src/legacy/refuse_escale_data.ts).
import { assert, assertEquals } from "../assert.ts";
import { conf, escale } from "../cli/cli_helpers.ts";
import { copyTree, FIXTURES, snapshot } from "./legacy_helpers.ts";
import { withDir } from "./index_helpers.ts";

const PLACEHOLDER = `${FIXTURES}placeholder-plain/after-upload/relay`;
const INDEX = `${FIXTURES}index-1/after-upload/relay`;

/** A section `s` of client `name` on `relay`; returns its configuration file. */
async function section(dir: string, name: string, relay: string): Promise<string> {
  await Deno.mkdir(`${dir}/${name}`, { recursive: true });
  await Deno.mkdir(relay, { recursive: true });
  const path = `${dir}/${name}.conf`;
  await conf(path, `[s]\nclient = ${name}\nlocal path = ${dir}/${name}\nrelay path = ${relay}\n`);
  return path;
}

/** A native relay at `${dir}/relay` with one file of client A. */
async function nativeRelay(dir: string): Promise<string> {
  const c = await section(dir, "A", `${dir}/relay`);
  await Deno.writeTextFile(`${dir}/A/one.txt`, "one");
  const r = await escale(["run", "--once", "-c", c]);
  assertEquals(r.code, 0, r.stderr);
  return c;
}

function oneLine(stderr: string): void {
  assertEquals(stderr.trim().split("\n").length, 1, stderr);
}

Deno.test("legacy refusal: migrate DEST into a folder holding Escale 0.7 data stops (exit 7), nothing written", async () => {
  await withDir(async (dir) => {
    const c = await nativeRelay(dir);
    await copyTree(PLACEHOLDER, `${dir}/old`);
    const before = await snapshot(`${dir}/old`);
    const text = await Deno.readTextFile(c);
    const r = await escale(["migrate", "-c", c, `${dir}/old`]);
    assertEquals(r.code, 7, r.stderr);
    oneLine(r.stderr);
    assert(r.stderr.includes("an Escale 0.7 relay (placeholder layout, found "), r.stderr);
    assert(r.stderr.includes("choose an empty destination"), r.stderr);
    assertEquals(await snapshot(`${dir}/old`), before);
    assertEquals(await Deno.readTextFile(c), text, "the section still points at its relay");
    assert(!(await Deno.stat(`${dir}/relay/moved.json`).catch(() => null)));
  });
});

Deno.test("legacy refusal: migrate DEST of a section on an Escale 0.7 relay points to --to-native (exit 2), no folder made", async () => {
  await withDir(async (dir) => {
    await copyTree(INDEX, `${dir}/relay`);
    const c = await section(dir, "B", `${dir}/relay`);
    const before = await snapshot(`${dir}/relay`);
    const r = await escale(["migrate", "-c", c, `${dir}/new`]);
    assertEquals(r.code, 2, r.stderr);
    oneLine(r.stderr);
    assert(r.stderr.includes("an Escale 0.7 relay (index layout, found .0."), r.stderr);
    assert(r.stderr.includes('"escale migrate --to-native"'), r.stderr);
    assert(!(await Deno.stat(`${dir}/new`).catch(() => null)), "no destination folder left");
    assertEquals(await snapshot(`${dir}/relay`), before);
  });
});

Deno.test("legacy refusal: restore into an Escale 0.7 relay stops (exit 7), even with --force", async () => {
  await withDir(async (dir) => {
    const a = await nativeRelay(dir);
    const archive = `${dir}/b.tar`;
    assertEquals((await escale(["backup", "-c", a, archive])).code, 0);
    await copyTree(PLACEHOLDER, `${dir}/old`);
    const c = await section(dir, "B", `${dir}/old`);
    const before = await snapshot(`${dir}/old`);
    for (const force of [[], ["--force"]]) {
      const r = await escale(["restore", ...force, "-c", c, archive]);
      assertEquals(r.code, 7, r.stderr);
      oneLine(r.stderr);
      assert(r.stderr.includes("holds an Escale 0.7 relay (placeholder layout"), r.stderr);
      assert(r.stderr.includes("choose an empty destination"), r.stderr);
      assertEquals(await snapshot(`${dir}/old`), before);
    }
  });
});

Deno.test("legacy refusal: fix on a relay that now holds Escale 0.7 data stops (exit 2), no header written", async () => {
  await withDir(async (dir) => {
    const c = await nativeRelay(dir);
    // The client synchronised with a native relay; its folder now holds Escale's relay instead.
    await Deno.remove(`${dir}/relay`, { recursive: true });
    await copyTree(INDEX, `${dir}/relay`);
    const before = await snapshot(`${dir}/relay`);
    const r = await escale(["fix", "-c", c]);
    assertEquals(r.code, 2, r.stderr);
    oneLine(r.stderr);
    assert(r.stderr.includes("an Escale 0.7 relay (index layout"), r.stderr);
    assert(r.stderr.includes("--to-native"), r.stderr);
    assertEquals(await snapshot(`${dir}/relay`), before);
  });
});
