// SIGKILL at chosen points of migrate, backup and restore (ESCALE_FAULTS stalls the process at
// one relay operation, then the test kills it); a re-run must converge with nothing missing,
// copied twice or left half-written.
import { assert, assertEquals } from "../assert.ts";
import { conf, escale, killDuring } from "./cli_helpers.ts";

const root = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/** A relay where A published a few data objects that B has not taken yet. */
async function setup(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "escale-maint-kill-" });
  for (const d of ["A", "B", "relay"]) await Deno.mkdir(`${dir}/${d}`);
  for (const c of ["A", "B"]) {
    await conf(
      `${dir}/${c}.conf`,
      `[r]\nclient = ${c}\nlocal path = ${dir}/${c}\nrelay path = ${dir}/relay\nchunk size = 64KB\n`,
    );
  }
  await Deno.writeTextFile(`${dir}/A/big.bin`, "0123456789".repeat(40_000));
  await Deno.writeTextFile(`${dir}/A/small.txt`, "small");
  for (const c of ["B", "A"]) {
    assertEquals((await escale(["run", "--once", "-c", `${dir}/${c}.conf`])).code, 0);
  }
  return dir;
}

function walk(dir: string, out: string[] = [], rel = ""): string[] {
  for (const e of Deno.readDirSync(dir)) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory) walk(`${dir}/${e.name}`, out, p);
    else out.push(p);
  }
  return out.sort();
}

function lastJson(r: { stdout: string }) {
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!);
}

Deno.test("SIGKILL during migrate: the re-run resumes without copying again and converges", async () => {
  const dir = await setup();
  try {
    const source = walk(`${dir}/relay`);
    await killDuring(["migrate", "-c", `${dir}/A.conf`, `${dir}/new`], "write:stall:3:^data/");
    assert(!walk(`${dir}/new`).includes("escale.json"), "the header came before the data");
    const r = await escale(["migrate", "--json", "-c", `${dir}/A.conf`, `${dir}/new`]);
    assertEquals(r.code, 0, r.stderr);
    const res = lastJson(r);
    assertEquals(res.kept, 2, JSON.stringify(res)); // the two objects that arrived before the kill
    const moved = walk(`${dir}/new`).filter((k) => !k.startsWith("leases/"));
    assertEquals(moved, source.filter((k) => !k.startsWith("leases/")));
    assertEquals(walk(`${dir}/relay`), [...source, "moved.json"].sort());
    assertEquals((await escale(["check", "--read-data", "-c", `${dir}/A.conf`])).code, 0);
    const b = await escale(["run", "--once", "-c", `${dir}/B.conf`]);
    assertEquals(b.code, 11, b.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

for (
  const [when, fault, movedFirst] of [
    ["while writing a commit", "write:stall:1:^commits/", false],
    ["while writing the header, last", "write:stall:1:^escale.json$", false],
    ["after the moved record, before the configuration", "list:stall:2:^commits$", true],
  ] as const
) {
  Deno.test(`SIGKILL during migrate ${when}: the re-run completes the move`, async () => {
    const dir = await setup();
    try {
      const source = walk(`${dir}/relay`);
      await killDuring(["migrate", "-c", `${dir}/A.conf`, `${dir}/new`], fault);
      assertEquals(walk(`${dir}/relay`).includes("moved.json"), movedFirst);
      assert(!(await Deno.readTextFile(`${dir}/A.conf`)).includes(`${dir}/new`));
      const r = await escale(["migrate", "--json", "-c", `${dir}/A.conf`, `${dir}/new`]);
      assertEquals(r.code, 0, r.stderr);
      const res = lastJson(r);
      assert(res.kept > 0, JSON.stringify(res));
      assertEquals(walk(`${dir}/new`).filter((k) => !k.startsWith("leases/")), source);
      assert((await Deno.readTextFile(`${dir}/A.conf`)).includes(`${dir}/new`));
      assertEquals((await escale(["check", "--read-data", "-c", `${dir}/A.conf`])).code, 0);
      assertEquals((await escale(["run", "--once", "-c", `${dir}/B.conf`])).code, 11);
      assertEquals((await escale(["run", "--once", "-c", `${dir}/A.conf`])).code, 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("SIGKILL during backup leaves no archive; during restore, the re-run resumes", async () => {
  const dir = await setup();
  try {
    const archive = `${dir}/b.tar.gz`;
    await killDuring(["backup", "-c", `${dir}/A.conf`, archive], "read:stall:3:^data/");
    assert(!(await Deno.stat(archive).catch(() => null)), "a half archive has the final name");
    assertEquals((await escale(["backup", "-c", `${dir}/A.conf`, archive])).code, 0);
    const source = walk(`${dir}/relay`);
    await conf(
      `${dir}/C.conf`,
      `[r]\nclient = A\nlocal path = ${dir}/A\nrelay path = ${dir}/restored\n`,
    );
    await Deno.mkdir(`${dir}/restored`);
    await killDuring(["restore", "-c", `${dir}/C.conf`, archive], "write:stall:3:^data/");
    assert(!walk(`${dir}/restored`).includes("escale.json"), "the header came before the data");
    const r = await escale(["restore", "--json", "-c", `${dir}/C.conf`, archive]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals((lastJson(r)).kept, 2);
    assertEquals(walk(`${dir}/restored`).filter((k) => !k.startsWith("leases/")), source);
    assertEquals((await escale(["check", "--read-data", "-c", `${dir}/C.conf`])).code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Small deterministic generator, so that a failing point can be replayed with SEED=… */
function seeded(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

Deno.test("SIGKILL at random relay operations of migrate, backup and restore: each re-run converges", async () => {
  const seed = Number(Deno.env.get("SEED") ?? Date.now() % 100_000);
  const pick = seeded(seed);
  const dir = await setup();
  try {
    const source = walk(`${dir}/relay`);
    const objects = source.length;
    const at = (n: number) => 1 + pick(n);
    const replay = (what: string, n: number) => `SEED=${seed}: ${what} killed at operation ${n}`;
    // migrate: any write to the destination, from the first data object to the header
    let n = at(objects);
    await killDuring(["migrate", "-c", `${dir}/A.conf`, `${dir}/new`], `write:stall:${n}:.`);
    let r = await escale(["migrate", "-c", `${dir}/A.conf`, `${dir}/new`]);
    assertEquals(r.code, 0, `${replay("migrate", n)}: ${r.stderr}`);
    assertEquals(walk(`${dir}/new`).filter((k) => !k.startsWith("leases/")), source);
    assertEquals((await escale(["check", "--read-data", "-c", `${dir}/A.conf`])).code, 0);
    // backup: any read of the relay
    const archive = `${dir}/b.tar`;
    n = at(objects);
    await killDuring(["backup", "-c", `${dir}/A.conf`, archive], `read:stall:${n}:.`);
    assert(!(await Deno.stat(archive).catch(() => null)), replay("backup", n));
    r = await escale(["backup", "-c", `${dir}/A.conf`, archive]);
    assertEquals(r.code, 0, `${replay("backup", n)}: ${r.stderr}`);
    // restore: any write to the empty relay
    await conf(
      `${dir}/C.conf`,
      `[r]\nclient = A\nlocal path = ${dir}/A\nrelay path = ${dir}/restored\n`,
    );
    await Deno.mkdir(`${dir}/restored`);
    n = at(objects);
    await killDuring(["restore", "-c", `${dir}/C.conf`, archive], `write:stall:${n}:.`);
    r = await escale(["restore", "-c", `${dir}/C.conf`, archive]);
    assertEquals(r.code, 0, `${replay("restore", n)}: ${r.stderr}`);
    const restored = walk(`${dir}/restored`).filter((k) => !k.startsWith("leases/"));
    assertEquals(restored, walk(`${dir}/new`).filter((k) => !k.startsWith("leases/")));
    const check = await escale(["check", "--read-data", "-c", `${dir}/C.conf`]);
    assertEquals(check.code, 0, `${replay("restore", n)}: ${check.stdout}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a migrate cut by the network resumes when run again, keeping what arrived", async () => {
  const dir = await setup();
  try {
    const source = walk(`${dir}/relay`);
    await Deno.writeTextFile(`${dir}/A.conf`, "max retries = 0\n", { append: true });
    const child = await new Deno.Command(`${root}/scripts/escale`, {
      args: ["migrate", "-c", `${dir}/A.conf`, `${dir}/new`],
      // The third data object's upload breaks half-way, and is not retried.
      env: { NO_COLOR: "1", ESCALE_FAULTS: "write:cut:3:^data/" },
      stdin: "null",
    }).output();
    const stderr = new TextDecoder().decode(child.stderr);
    assert(child.code !== 0, "the cut migration succeeded");
    assertEquals(stderr.trim().split("\n").length, 1, stderr);
    assert(!walk(`${dir}/relay`).includes("moved.json"), "moved before the copy was complete");
    const r = await escale(["migrate", "--json", "-c", `${dir}/A.conf`, `${dir}/new`]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(lastJson(r).kept, 2, r.stdout);
    assertEquals(walk(`${dir}/new`).filter((k) => !k.startsWith("leases/")), source);
    assertEquals((await escale(["check", "--read-data", "-c", `${dir}/A.conf`])).code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
