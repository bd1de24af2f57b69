import { assert, assertEquals } from "../assert.ts";
import { readTree } from "../engine/sandbox.ts";
import { conf, escale, fingerprint } from "./cli_helpers.ts";

async function setup() {
  const dir = await Deno.makeTempDir({ prefix: "escale-cli-" });
  for (const d of ["A", "B", "relay"]) await Deno.mkdir(`${dir}/${d}`);
  return dir;
}

Deno.test("cli: upload client A and download client B through a file relay", async () => {
  const dir = await setup();
  try {
    await conf(
      `${dir}/A.conf`,
      `[A]\nclient = peerA\nlocal path = ${dir}/A\nrelay path = ${dir}/relay\nmode = upload\n`,
    );
    await conf(
      `${dir}/B.conf`,
      `[B]\nclient = peerB\nlocal path = ${dir}/B\nrelay path = ${dir}/relay\nmode = download\n`,
    );
    await Deno.mkdir(`${dir}/A/docs/deep/er`, { recursive: true });
    await Deno.writeTextFile(`${dir}/A/docs/deep/er/report 2026.txt`, "numbers\n");
    await Deno.writeTextFile(`${dir}/A/naïve café.txt`, "unicode\n");
    await Deno.writeTextFile(`${dir}/A/empty`, "");
    await Deno.utime(
      `${dir}/A/empty`,
      new Date("2020-01-02T03:04:05Z"),
      new Date("2020-01-02T03:04:05Z"),
    );
    for (const c of ["A", "B", "A"]) {
      const r = await escale(["run", "--once", "-c", `${dir}/${c}.conf`]);
      assertEquals(r.code, 0, r.stderr);
    }
    assertEquals(await readTree(`${dir}/B`, true), await readTree(`${dir}/A`, true));
    // Only bookkeeping remains on the relay: header and client records.
    const relayFiles = (await fingerprint(`${dir}/relay`)).split("\n").map((l) =>
      l.split(":")[0].slice(dir.length + 7)
    );
    assert(
      relayFiles.every((f) => f === "escale.json" || f.startsWith("clients/")),
      relayFiles.join(", "),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: shared clients both ways, modification, and idle rounds write nothing", async () => {
  const dir = await setup();
  try {
    for (const c of ["A", "B"]) {
      await conf(
        `${dir}/${c}.conf`,
        `log level = info\n[${c}]\nclient = ${c}\nlocal path = ${dir}/${c}\nrelay path = ${dir}/relay\n`,
      );
    }
    await Deno.writeTextFile(`${dir}/A/from-a.txt`, "a");
    await Deno.writeTextFile(`${dir}/B/from-b.txt`, "b");
    const round = async () => {
      for (const c of ["A", "B"]) {
        assertEquals((await escale(["run", "--once", "-c", `${dir}/${c}.conf`])).code, 0);
      }
    };
    await round();
    await round();
    assertEquals(await readTree(`${dir}/A`), { "from-a.txt": "a", "from-b.txt": "b" });
    assertEquals(await readTree(`${dir}/B`), await readTree(`${dir}/A`));
    await Deno.writeTextFile(`${dir}/B/from-a.txt`, "a, edited on B");
    await round();
    await round();
    assertEquals(await Deno.readTextFile(`${dir}/A/from-a.txt`), "a, edited on B");
    const before = await fingerprint(`${dir}/relay`);
    await round();
    assertEquals(await fingerprint(`${dir}/relay`), before, "an idle round wrote to the relay");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: --help lists commands, examples and exit codes; --version prints the version", async () => {
  const h = await escale(["--help"]);
  assertEquals(h.code, 0);
  assert(h.stdout.includes("run") && h.stdout.includes("Exit codes"), h.stdout);
  const r = await escale(["run", "--help"]);
  assert(r.stdout.includes("Examples") && r.stdout.includes("--once"), r.stdout);
  const v = await escale(["--version"]);
  assertEquals(v.code, 0);
  assert(/^\d+\.\d+\.\d+/.test(v.stdout.trim()), v.stdout);
  const bad = await escale(["run", "--no-such-flag"]);
  assertEquals(bad.code, 2);
});
