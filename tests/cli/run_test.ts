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

Deno.test("cli: a log file inside the synchronised folder never travels, and idle rounds write nothing", async () => {
  const dir = await setup();
  try {
    for (const c of ["A", "B"]) {
      await conf(
        `${dir}/${c}.conf`,
        `log file = ${dir}/${c}/${c}.log\nlog rotate = 2\n` +
          `[${c}]\nlocal path = ${dir}/${c}\nrelay path = ${dir}/relay\n`,
      );
    }
    await Deno.writeTextFile(`${dir}/A/doc.txt`, "doc\n");
    const run = async (c: string) => {
      const r = await escale(["run", "--once", "-v", "-c", `${dir}/${c}.conf`]);
      assertEquals(r.code, 0, r.stderr);
    };
    const commits = () => [...Deno.readDirSync(`${dir}/relay/commits`)].length;
    for (const c of ["A", "B", "A", "B"]) await run(c);
    assertEquals(commits(), 0);
    for (const c of ["A", "B", "A"]) await run(c);
    assertEquals(commits(), 0, "an idle round published a commit");
    assertEquals(Object.keys(await readTree(`${dir}/B`)).sort(), ["B.log", "doc.txt"]);
    assertEquals(Object.keys(await readTree(`${dir}/A`)).sort(), ["A.log", "doc.txt"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: a file that cannot be written is listed by ctl status; the round still succeeds", async () => {
  const dir = await setup();
  try {
    for (const c of ["A", "B"]) {
      await conf(
        `${dir}/${c}.conf`,
        `[${c}]\nlocal path = ${dir}/${c}\nrelay path = ${dir}/relay\n`,
      );
    }
    await Deno.writeTextFile(`${dir}/A/x`, "a file named x\n");
    await Deno.writeTextFile(`${dir}/A/y.txt`, "y\n");
    await Deno.mkdir(`${dir}/B/x`);
    await Deno.writeTextFile(`${dir}/B/x/inner.txt`, "in a folder named x\n");
    for (const c of ["A", "B"]) {
      const r = await escale(["run", "--once", "-c", `${dir}/${c}.conf`]);
      assertEquals(r.code, 0, r.stderr);
      if (c === "B") assert(/1 file not synchronised/.test(r.stderr), r.stderr);
    }
    assertEquals(await Deno.readTextFile(`${dir}/B/y.txt`), "y\n");
    const st = await escale(["ctl", "status", "-c", `${dir}/B.conf`]);
    assertEquals(st.code, 0, st.stderr);
    assert(/1 file not synchronised/.test(st.stdout), st.stdout);
    assert(
      / x: cannot be written here since .*: a folder of that name is in the way$/m.test(st.stdout),
      st.stdout,
    );
    const json = await escale(["ctl", "status", "--json", "-c", `${dir}/B.conf`]);
    const problems = JSON.parse(json.stdout).sections[0].status.repo.problems;
    assertEquals(problems.map((p: { path: string }) => p.path), ["x"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
