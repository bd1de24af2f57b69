// Space release through the command line (issue 4): puller count, eviction, puller timeout and
// disk quota.
import { assert, assertEquals } from "../assert.ts";
import { conf, escale } from "./cli_helpers.ts";
import { readTree } from "../engine/sandbox.ts";

async function setup(
  clients: Record<string, string>,
  extraA = "",
): Promise<{ dir: string; run: (c: string) => Promise<string> }> {
  const dir = await Deno.makeTempDir({ prefix: "escale-space-" });
  await Deno.mkdir(`${dir}/relay`);
  for (const [name, mode] of Object.entries(clients)) {
    await Deno.mkdir(`${dir}/${name}`);
    await conf(
      `${dir}/${name}.conf`,
      `[${name}]\nclient = ${name}\nlocal path = ${dir}/${name}\nrelay path = ${dir}/relay\nmode = ${mode}\n${
        name === "A" ? extraA : ""
      }`,
    );
  }
  const run = async (c: string) => {
    const r = await escale(["run", "--once", "-c", `${dir}/${c}.conf`]);
    assertEquals(r.code, 0, `${c}: ${r.stderr}`);
    return r.stderr;
  };
  return { dir, run };
}

function relayData(dir: string): string[] {
  const out: string[] = [];
  for (const sub of ["commits", "data"]) {
    try {
      for (const e of Deno.readDirSync(`${dir}/relay/${sub}`)) out.push(`${sub}/${e.name}`);
    } catch { /* not created yet */ }
  }
  return out;
}

Deno.test("cli: puller count 2 keeps data until two pullers have it (Escale's bug fixed)", async () => {
  const { dir, run } = await setup(
    { A: "upload", B: "download", C: "download" },
    "puller count = 2\n",
  );
  try {
    await run("B");
    await run("C");
    await Deno.writeTextFile(`${dir}/A/f.txt`, "for two pullers");
    await run("A");
    await run("B");
    await run("A");
    assert(relayData(dir).length > 0, "released after one puller");
    await run("C");
    await run("A");
    assertEquals(relayData(dir), []);
    assertEquals(await readTree(`${dir}/B`), { "f.txt": "for two pullers" });
    assertEquals(await readTree(`${dir}/C`), { "f.txt": "for two pullers" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: evicting a vanished puller releases the space; it gets everything if it returns", async () => {
  const { dir, run } = await setup({ A: "upload", B: "download", C: "download" });
  try {
    await run("B");
    await run("C");
    await Deno.writeTextFile(`${dir}/A/f.txt`, "data");
    await run("A");
    await run("B");
    await run("A");
    assert(relayData(dir).length > 0, "released without C");
    const bad = await escale(["ctl", "evict", "-c", `${dir}/A.conf`, "nobody"]);
    assertEquals(bad.code, 2);
    assert(bad.stderr.includes("C ("), bad.stderr);
    const ev = await escale(["ctl", "evict", "-c", `${dir}/A.conf`, "C"]);
    assertEquals(ev.code, 0, ev.stderr);
    assert(ev.stdout.includes("evicted C"), ev.stdout);
    await run("A");
    assertEquals(relayData(dir), []);
    const back = await run("C");
    assert(back.includes("evicted"), back);
    await run("A");
    await run("C");
    assertEquals(await readTree(`${dir}/C`), { "f.txt": "data" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: a puller silent for longer than 'puller timeout' is no longer waited for", async () => {
  const { dir, run } = await setup({ A: "upload", B: "download" }, "puller timeout = 6s\n");
  try {
    await run("B");
    await Deno.writeTextFile(`${dir}/A/f.txt`, "data");
    await run("A");
    assert(relayData(dir).length > 0);
    // The timeout leaves room for slow process starts on a loaded machine: B's comeback round
    // and A's next round must fall within it for A to count B as alive again.
    await new Promise((r) => setTimeout(r, 6500));
    await run("A");
    assertEquals(relayData(dir), []);
    await run("B"); // comes back: asks for a full copy
    await run("A");
    await run("B");
    assertEquals(await readTree(`${dir}/B`), { "f.txt": "data" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: disk quota makes the pusher wait, not fail, and everything arrives in the end", async () => {
  const { dir, run } = await setup({ A: "upload", B: "download" }, "disk quota = 1MB\n");
  try {
    await run("B");
    const payload = "q".repeat(600 * 1024);
    for (const f of ["one", "two", "three"]) await Deno.writeTextFile(`${dir}/A/${f}.bin`, payload);
    const first = await run("A");
    assert(first.includes("disk quota reached"), first);
    const sizes = relayData(dir).filter((k) => k.startsWith("data/"))
      .map((k) => Deno.statSync(`${dir}/relay/${k}`).size).reduce((a, b) => a + b, 0);
    assert(sizes <= 1024 * 1024, `${sizes} bytes on the relay`);
    for (let i = 0; i < 4; i++) {
      await run("B");
      await run("A");
    }
    assertEquals(Object.keys(await readTree(`${dir}/B`)).sort(), [
      "one.bin",
      "three.bin",
      "two.bin",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
