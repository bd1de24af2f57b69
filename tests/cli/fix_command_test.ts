import { assert, assertEquals } from "../assert.ts";
import { readTree } from "../engine/sandbox.ts";
import { conf, escale } from "./cli_helpers.ts";
import { startWebDavServer } from "../servers/webdav_server.ts";

const clients = ["A", "B", "C"];

async function setup(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "escale-cli-fix-" });
  for (const d of [...clients, "relay"]) await Deno.mkdir(`${dir}/${d}`);
  for (const c of clients) {
    await conf(
      `${dir}/${c}.conf`,
      `[${c}]\nclient = ${c}\nlocal path = ${dir}/${c}\nrelay path = ${dir}/relay\n`,
    );
  }
  return dir;
}

/** One round of client `c`: the files it downloaded (from its --json events). */
async function round(dir: string, c: string): Promise<string[]> {
  const r = await escale(["run", "--once", "--json", "-c", `${dir}/${c}.conf`]);
  assertEquals(r.code, 0, r.stderr);
  return r.stdout.trim().split("\n").map((l) => JSON.parse(l))
    .filter((e) => e.event === "file-done" && e.direction === "down").map((e) => e.path);
}

Deno.test("cli fix: a deleted relay is rebuilt; nothing is downloaded again and a deletion made just before the loss holds", async () => {
  const dir = await setup();
  try {
    await Deno.writeTextFile(`${dir}/A/shared.txt`, "everyone has this");
    await Deno.writeTextFile(`${dir}/B/doomed.txt`, "C deletes this just before the loss");
    for (let i = 0; i < 2; i++) for (const c of clients) await round(dir, c);
    for (const c of clients) {
      assertEquals(Object.keys(await readTree(`${dir}/${c}`)), ["doomed.txt", "shared.txt"]);
    }
    await Deno.remove(`${dir}/C/doomed.txt`);
    await round(dir, "C"); // publishes the deletion, which A and B never see:
    await Deno.remove(`${dir}/relay`, { recursive: true });
    await Deno.mkdir(`${dir}/relay`);

    const dry = await escale(["fix", "--dry-run", "-c", `${dir}/C.conf`]);
    assertEquals(dry.code, 0, dry.stderr);
    assert(
      dry.stdout.includes("would have: header rewritten, 2 client records restored"),
      dry.stdout,
    );
    assertEquals([...Deno.readDirSync(`${dir}/relay`)].length, 0, "--dry-run wrote to the relay");

    const fix = await escale(["fix", "-c", `${dir}/C.conf`]);
    assertEquals(fix.code, 0, fix.stderr);
    assert(fix.stdout.includes("header rewritten, 2 client records restored"), fix.stdout);
    for (const c of ["A", "B", "C", "A", "B"]) {
      assertEquals(await round(dir, c), [], `${c} downloaded again what it had`);
    }
    for (const c of clients) {
      assertEquals(await readTree(`${dir}/${c}`), { "shared.txt": "everyone has this" }, c);
    }
    // The clients carry on syncing through the rebuilt relay.
    await Deno.writeTextFile(`${dir}/B/after.txt`, "new");
    await round(dir, "B");
    assertEquals(await round(dir, "A"), ["after.txt"]);
    const check = await escale(["check", "-c", `${dir}/A.conf`]);
    assertEquals(check.code, 0, check.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli run: a client that synchronised with a relay now wiped stops (exit 7) instead of creating a new one; fix rebuilds it, --force starts afresh", async () => {
  const dir = await setup();
  try {
    await Deno.writeTextFile(`${dir}/A/kept.txt`, "k");
    await Deno.writeTextFile(`${dir}/A/gone.txt`, "deleted before the loss");
    for (const c of ["A", "B", "A", "B"]) await round(dir, c);
    await Deno.remove(`${dir}/A/gone.txt`);
    await round(dir, "A"); // the deletion B never sees
    await Deno.remove(`${dir}/relay`, { recursive: true });
    await Deno.mkdir(`${dir}/relay`);
    // B (a cron client) runs first: it must not re-create the relay with gone.txt in it.
    const b = await escale(["run", "--once", "-c", `${dir}/B.conf`]);
    assertEquals(b.code, 7, b.stderr);
    const lines = b.stderr.trim().split("\n");
    assert(lines.some((l) => l.includes("wiped or lost") && l.includes("escale fix")), b.stderr);
    assertEquals([...Deno.readDirSync(`${dir}/relay`)].length, 0, "the refused client wrote");
    // A brand-new client (no state) may create a relay, so C is not affected; A rebuilds.
    const fix = await escale(["fix", "-c", `${dir}/A.conf`]);
    assertEquals(fix.code, 0, fix.stderr);
    for (const c of ["B", "A", "B"]) await round(dir, c);
    assertEquals(await readTree(`${dir}/B`), { "kept.txt": "k" });
    // --force starts a new relay when that is what the user wants.
    await Deno.remove(`${dir}/relay`, { recursive: true });
    await Deno.mkdir(`${dir}/relay`);
    const forced = await escale(["run", "--once", "--force", "-c", `${dir}/B.conf`]);
    assertEquals(forced.code, 0, forced.stderr);
    assert([...Deno.readDirSync(`${dir}/relay`)].some((e) => e.name === "escale.json"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli fix: removes expired leases, old temporary objects and settled orphan data; keeps the rest", async () => {
  const dir = await setup();
  try {
    await Deno.writeTextFile(`${dir}/A/a.txt`, "a");
    await round(dir, "B");
    await round(dir, "A");
    const relay = `${dir}/relay`;
    const old = new Date(Date.now() - 2 * 24 * 3600 * 1000);
    await Deno.mkdir(`${relay}/leases`, { recursive: true });
    await Deno.writeTextFile(
      `${relay}/leases/maintenance`,
      JSON.stringify({ owner: "killed", expires: "2020-01-01T00:00:00Z" }),
    );
    await Deno.writeTextFile(`${relay}/data/.escale-part-dead`, "half");
    await Deno.utime(`${relay}/data/.escale-part-dead`, old, old);
    await Deno.writeTextFile(`${relay}/data/.escale-part-fresh`, "in flight");
    await Deno.writeTextFile(`${relay}/data/00000000000000ab-0000000003-0000`, "old orphan");
    await Deno.utime(`${relay}/data/00000000000000ab-0000000003-0000`, old, old);
    await Deno.writeTextFile(`${relay}/data/00000000000000ab-0000000004-0000`, "maybe in flight");
    const before = [...Deno.readDirSync(`${relay}/data`)].map((e) => e.name).sort();

    const dry = await escale(["fix", "--dry-run", "--json", "-c", `${dir}/A.conf`]);
    assertEquals(dry.code, 0, dry.stderr);
    const plan = JSON.parse(dry.stdout.trim().split("\n").at(-1)!).plan;
    assertEquals(plan.staleLeases, ["leases/maintenance"]);
    assertEquals(plan.temporary.map((t: { key: string }) => t.key), ["data/.escale-part-dead"]);
    assertEquals(plan.orphans.map((t: { key: string }) => t.key), [
      "data/00000000000000ab-0000000003-0000",
    ]);
    assertEquals([...Deno.readDirSync(`${relay}/data`)].map((e) => e.name).sort(), before);
    // Plain output names what would go, on the one summary line.
    const plain = await escale(["fix", "--dry-run", "-c", `${dir}/A.conf`]);
    assertEquals(plain.code, 0, plain.stderr);
    assertEquals(plain.stdout.trim().split("\n").length, 1, plain.stdout);
    assert(
      plain.stdout.includes(
        "would have: 1 expired leases removed (leases/maintenance), 1 temporary objects removed (data/.escale-part-dead), 1 orphan data objects removed (data/00000000000000ab-0000000003-0000)",
      ),
      plain.stdout,
    );
    assertEquals([...Deno.readDirSync(`${relay}/data`)].map((e) => e.name).sort(), before);

    const fix = await escale(["fix", "-c", `${dir}/A.conf`]);
    assertEquals(fix.code, 0, fix.stderr);
    const after = [...Deno.readDirSync(`${relay}/data`)].map((e) => e.name).sort();
    assertEquals(
      after,
      before.filter((n) => n !== ".escale-part-dead" && !n.includes("0000000003")),
    );
    assertEquals([...Deno.readDirSync(`${relay}/leases`)], []);
    assertEquals(await round(dir, "B"), ["a.txt"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli fix --dry-run: a long list of what would be removed is cut to its first five", async () => {
  const dir = await setup();
  try {
    await Deno.writeTextFile(`${dir}/A/a.txt`, "a");
    await round(dir, "B");
    await round(dir, "A");
    const old = new Date(Date.now() - 2 * 24 * 3600 * 1000);
    const orphans = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => `data/00000000000000ab-000000000${n}-0000`);
    for (const o of orphans) {
      await Deno.writeTextFile(`${dir}/relay/${o}`, "old orphan");
      await Deno.utime(`${dir}/relay/${o}`, old, old);
    }
    const dry = await escale(["fix", "--dry-run", "-c", `${dir}/A.conf`]);
    assertEquals(dry.code, 0, dry.stderr);
    assertEquals(dry.stdout.trim().split("\n").length, 1, dry.stdout);
    assert(
      dry.stdout.includes(
        `would have: 8 orphan data objects removed (${
          orphans.slice(0, 5).join(", ")
        } … and 3 more)`,
      ),
      dry.stdout,
    );
    for (const o of orphans) assert(await Deno.stat(`${dir}/relay/${o}`), `${o} was removed`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli fix: an encrypted relay is rebuilt with the same passphrase; check reads it", async () => {
  const dir = await setup();
  try {
    const key = `${dir}/relay.key`;
    assertEquals((await escale(["ctl", "keygen", key])).code, 0);
    for (const c of ["A", "B"]) {
      await conf(
        `${dir}/${c}.conf`,
        `[${c}]\nclient = ${c}\nlocal path = ${dir}/${c}\nrelay path = ${dir}/relay\npassphrase = ${key}\n`,
      );
    }
    await Deno.writeTextFile(`${dir}/A/secret.txt`, "encrypted content");
    for (const c of ["A", "B", "A"]) await round(dir, c);
    await Deno.remove(`${dir}/relay`, { recursive: true });
    await Deno.mkdir(`${dir}/relay`);
    const fix = await escale(["fix", "-c", `${dir}/A.conf`]);
    assertEquals(fix.code, 0, fix.stderr);
    const header = JSON.parse(await Deno.readTextFile(`${dir}/relay/escale.json`));
    assert(header.encryption !== null);
    assertEquals(await round(dir, "B"), []);
    const check = await escale(["check", "--read-data", "-c", `${dir}/B.conf`]);
    assertEquals(check.code, 0, check.stdout + check.stderr);
    assert(check.stdout.includes("1 files read and verified"), check.stdout);
    await Deno.writeTextFile(`${dir}/B/from-b.txt`, "after the rebuild");
    await round(dir, "B");
    assertEquals(await round(dir, "A"), ["from-b.txt"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli fix: a client that never synchronised with the relay cannot rebuild it", async () => {
  const dir = await setup();
  try {
    const r = await escale(["fix", "-c", `${dir}/A.conf`]);
    assertEquals(r.code, 2, r.stderr);
    assert(r.stderr.includes("never synchronised"), r.stderr);
    assertEquals(r.stderr.trim().split("\n").length, 1);
    assertEquals([...Deno.readDirSync(`${dir}/relay`)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli fix: a change the rebuilding client never received comes back from its author", async () => {
  const dir = await setup();
  try {
    await Deno.writeTextFile(`${dir}/A/base.txt`, "base");
    for (const c of ["A", "B", "A", "B"]) await round(dir, c);
    await Deno.writeTextFile(`${dir}/B/only-b.txt`, "published by B, lost before A saw it");
    await round(dir, "B");
    await Deno.remove(`${dir}/relay`, { recursive: true });
    await Deno.mkdir(`${dir}/relay`);
    assertEquals((await escale(["fix", "-c", `${dir}/A.conf`])).code, 0);
    for (const c of ["B", "A", "B", "A"]) await round(dir, c);
    assertEquals(await readTree(`${dir}/A`), await readTree(`${dir}/B`));
    assertEquals(await readTree(`${dir}/A`), {
      "base.txt": "base",
      "only-b.txt": "published by B, lost before A saw it",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli fix through WebDAV (Apache): a lost relay is rebuilt, a stale temporary object removed", async () => {
  const dav = await startWebDavServer({ password: "dav-Fix-7710" });
  const dir = await setup();
  try {
    const cred = `${dir}/dav.credential`;
    await Deno.writeTextFile(cred, `${dav.user}:${dav.password}\n`, { mode: 0o600 });
    for (const c of ["A", "B"]) {
      await conf(
        `${dir}/${c}.conf`,
        `[${c}]\nclient = ${c}\nlocal path = ${dir}/${c}\nhost address = ${dav.url}relay-fix\nsecret file = ${cred}\n`,
      );
    }
    await Deno.writeTextFile(`${dir}/A/kept.txt`, "kept");
    await Deno.writeTextFile(`${dir}/B/gone.txt`, "deleted by A just before the loss");
    for (const c of ["A", "B", "A", "B"]) await round(dir, c);
    await Deno.remove(`${dir}/A/gone.txt`);
    await round(dir, "A");
    // The relay is wiped through the server, and a killed upload left its temporary object.
    const auth = { Authorization: `Basic ${btoa(`${dav.user}:${dav.password}`)}` };
    const dav_ = async (method: string, path: string, body?: string) => {
      const r = await fetch(`${dav.url}${path}`, { method, headers: auth, body });
      await r.body?.cancel();
      assert(r.status < 300, `${method} ${path}: ${r.status}`);
    };
    await dav_("DELETE", "relay-fix/");
    await dav_("MKCOL", "relay-fix/");
    await dav_("MKCOL", "relay-fix/data/");
    await dav_("PUT", "relay-fix/data/.escale-part-killed", "half an upload");
    const served = `${dav.dataDir}/relay-fix`;
    const old = new Date(Date.now() - 2 * 3600 * 1000);
    await Deno.utime(`${served}/data/.escale-part-killed`, old, old);
    const fix = await escale(["fix", "-c", `${dir}/A.conf`]);
    assertEquals(fix.code, 0, fix.stderr);
    assert(fix.stdout.includes("1 temporary objects removed"), fix.stdout);
    assert(!(await Deno.stat(`${served}/data/.escale-part-killed`).catch(() => null)));
    assertEquals(await round(dir, "B"), []);
    assertEquals(await readTree(`${dir}/B`), { "kept.txt": "kept" });
    assert(!fix.stdout.includes(dav.password) && !fix.stderr.includes(dav.password));
  } finally {
    await Deno.remove(dir, { recursive: true });
    await dav.stop();
  }
});

Deno.test("cli fix: --help shows examples", async () => {
  const help = await escale(["fix", "--help"]);
  assertEquals(help.code, 0, help.stderr);
  assert(help.stdout.includes("Examples:"), help.stdout);
  assert(help.stdout.includes("escale fix -r photos --dry-run"), help.stdout);
});
