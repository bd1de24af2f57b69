import { createHash } from "node:crypto";
import { packTar, unpackTar } from "modern-tar";
import { assert, assertEquals } from "../assert.ts";
import { readTree } from "../engine/sandbox.ts";
import { conf, escale, fingerprint } from "./cli_helpers.ts";

async function setup(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "escale-cli-backup-" });
  for (const d of ["A", "B", "relay", "relay2"]) await Deno.mkdir(`${dir}/${d}`);
  for (const c of ["A", "B"]) {
    await conf(
      `${dir}/${c}.conf`,
      `[${c}]\nclient = ${c}\nlocal path = ${dir}/${c}\nrelay path = ${dir}/relay\n`,
    );
  }
  await conf(
    `${dir}/other.conf`,
    `[A]\nclient = A\nlocal path = ${dir}/A\nrelay path = ${dir}/relay2\n`,
  );
  return dir;
}

async function round(dir: string, c: string): Promise<string[]> {
  const r = await escale(["run", "--once", "--json", "-c", `${dir}/${c}.conf`]);
  assertEquals(r.code, 0, r.stderr);
  return r.stdout.trim().split("\n").map((l) => JSON.parse(l))
    .filter((e) => e.event === "file-done" && e.direction === "down").map((e) => e.path);
}

async function relayObjects(relay: string): Promise<Record<string, string>> {
  const t = await readTree(relay);
  delete t["leases"];
  return t;
}

for (const ext of ["tar", "tar.gz", "tar.bz2"]) {
  Deno.test(`cli backup/restore (${ext}): same objects back, clients download nothing again`, async () => {
    const dir = await setup();
    try {
      await Deno.writeTextFile(`${dir}/A/one.txt`, "one");
      await Deno.writeTextFile(`${dir}/A/two.txt`, "two".repeat(10_000));
      await round(dir, "B");
      await round(dir, "A"); // A's commit waits for B: data and commit are on the relay
      const before = await relayObjects(`${dir}/relay`);
      const archive = `${dir}/backup.${ext}`;
      const b = await escale(["backup", "-c", `${dir}/A.conf`, archive]);
      assertEquals(b.code, 0, b.stderr);
      assert(/backed up .* 5 objects/.test(b.stdout), b.stdout);
      assert(!(await Deno.stat(`${archive}.part`).catch(() => null)));
      assertEquals((await Deno.stat(archive)).mode! & 0o777, 0o600);

      // The relay is lost; restore refuses a non-empty one, then fills an empty one.
      await Deno.remove(`${dir}/relay`, { recursive: true });
      await Deno.mkdir(`${dir}/relay`);
      await Deno.writeTextFile(`${dir}/relay/stranger.txt`, "not ours");
      await Deno.mkdir(`${dir}/relay/data`);
      await Deno.writeTextFile(`${dir}/relay/data/00000000000000aa-0000000001-0000`, "x");
      const refused = await escale(["restore", "-c", `${dir}/B.conf`, archive]);
      assertEquals(refused.code, 7, refused.stderr);
      assert(refused.stderr.includes("is not empty (1 objects"), refused.stderr);
      assertEquals(refused.stderr.trim().split("\n").length, 1);
      await Deno.remove(`${dir}/relay/data`, { recursive: true });
      const r = await escale(["restore", "-c", `${dir}/B.conf`, archive]);
      assertEquals(r.code, 0, r.stderr);
      const after = await relayObjects(`${dir}/relay`);
      delete after["stranger.txt"];
      assertEquals(after, before);
      assertEquals(await round(dir, "B"), ["one.txt", "two.txt"]);
      assertEquals(await round(dir, "A"), []);
      assertEquals(await readTree(`${dir}/B`), await readTree(`${dir}/A`));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("cli restore: a damaged archive is refused before anything is written; --force replaces a relay", async () => {
  const dir = await setup();
  try {
    await Deno.writeTextFile(`${dir}/A/one.txt`, "one".repeat(1000));
    await round(dir, "B");
    await round(dir, "A");
    const archive = `${dir}/b.tar`;
    assertEquals((await escale(["backup", "-c", `${dir}/A.conf`, archive])).code, 0);
    const bytes = await Deno.readFile(archive);
    const at = new TextDecoder("latin1").decode(bytes).indexOf("one".repeat(100));
    assert(at > 0);
    bytes[at] ^= 1;
    await Deno.writeFile(`${dir}/bad.tar`, bytes);
    const before = await fingerprint(`${dir}/relay2`);
    const bad = await escale(["restore", "-c", `${dir}/other.conf`, `${dir}/bad.tar`]);
    assertEquals(bad.code, 6, bad.stderr);
    assert(bad.stderr.includes("does not match the manifest"), bad.stderr);
    assertEquals(await fingerprint(`${dir}/relay2`), before);

    // --force: relay2 held another relay; it now holds exactly the backup.
    await conf(
      `${dir}/C.conf`,
      `[C]\nclient = C\nlocal path = ${dir}/B\nrelay path = ${dir}/relay2\n`,
    );
    await escale(["run", "--once", "-c", `${dir}/C.conf`]);
    const refused = await escale(["restore", "-c", `${dir}/other.conf`, archive]);
    assertEquals(refused.code, 7);
    const forced = await escale(["restore", "--force", "-c", `${dir}/other.conf`, archive]);
    assertEquals(forced.code, 0, forced.stderr);
    assertEquals(await relayObjects(`${dir}/relay2`), await relayObjects(`${dir}/relay`));
    // A second run finds everything in place and copies nothing.
    const again = await escale(["restore", "--json", "-c", `${dir}/other.conf`, archive]);
    assertEquals(again.code, 0, again.stderr);
    const res = JSON.parse(again.stdout.trim().split("\n").at(-1)!);
    assertEquals([res.written, res.kept], [0, 5]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli restore: a live relay whose clients moved on since the backup is refused; identical objects are resumed", async () => {
  const dir = await setup();
  try {
    await Deno.writeTextFile(`${dir}/A/one.txt`, "one");
    await round(dir, "B");
    await round(dir, "A");
    const archive = `${dir}/b.tar`;
    assertEquals((await escale(["backup", "-c", `${dir}/A.conf`, archive])).code, 0);
    // The clients carry on: their records move past the backup's (acknowledgements, sequences).
    await Deno.writeTextFile(`${dir}/A/two.txt`, "two");
    for (const c of ["A", "B", "A"]) await round(dir, c);
    const keys = Object.keys(await relayObjects(`${dir}/relay`));
    assertEquals(keys.filter((k) => !k.startsWith("clients/")), ["escale.json"], "all released");
    const before = await fingerprint(`${dir}/relay`);
    const refused = await escale(["restore", "-c", `${dir}/B.conf`, archive]);
    assertEquals(refused.code, 7, refused.stdout + refused.stderr);
    assertEquals(refused.stderr.trim().split("\n").length, 1, refused.stderr);
    assert(
      /is not empty \(\d+ objects .*differs from the backup's/.test(refused.stderr),
      refused.stderr,
    );
    assertEquals(await fingerprint(`${dir}/relay`), before);

    // A restore cut short (no header yet, a data object missing) holds only the backup's own
    // objects: run again without --force, it completes.
    await Deno.remove(`${dir}/relay`, { recursive: true });
    await Deno.mkdir(`${dir}/relay`);
    assertEquals((await escale(["restore", "-c", `${dir}/B.conf`, archive])).code, 0);
    const full = await relayObjects(`${dir}/relay`);
    await Deno.remove(`${dir}/relay/escale.json`);
    const [obj] = [...Deno.readDirSync(`${dir}/relay/data`)].map((e) => e.name);
    await Deno.remove(`${dir}/relay/data/${obj}`);
    const resumed = await escale(["restore", "--json", "-c", `${dir}/B.conf`, archive]);
    assertEquals(resumed.code, 0, resumed.stderr);
    const res = JSON.parse(resumed.stdout.trim().split("\n").at(-1)!);
    assertEquals([res.written, res.kept], [2, 3]);
    assertEquals(await relayObjects(`${dir}/relay`), full);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli restore: a manifest of another version, a key listed twice or one that is no relay object is refused before anything is written", async () => {
  const dir = await setup();
  try {
    await Deno.writeTextFile(`${dir}/A/one.txt`, "one");
    await round(dir, "B");
    await round(dir, "A");
    const archive = `${dir}/b.tar`;
    assertEquals((await escale(["backup", "-c", `${dir}/A.conf`, archive])).code, 0);
    const entries = await unpackTar(await Deno.readFile(archive));
    const last = entries.at(-1)!;
    assertEquals(last.header.name, "escale-backup.json");
    const manifest = JSON.parse(new TextDecoder().decode(last.data));
    /** The archive again, its manifest changed by `edit`, plus `extra` entries before it. */
    const forged = async (
      name: string,
      edit: (m: typeof manifest) => void,
      extra: { name: string; data: Uint8Array<ArrayBuffer> }[] = [],
    ) => {
      const m = structuredClone(manifest);
      edit(m);
      const data = new TextEncoder().encode(JSON.stringify(m));
      const more = extra.map((e) => ({ header: { ...last.header, ...e, size: e.data.length } }));
      await Deno.writeFile(
        `${dir}/${name}`,
        await packTar([
          ...entries.slice(0, -1),
          ...more.map((e, i) => ({ header: e.header, data: extra[i].data })),
          { header: { ...last.header, size: data.length }, data },
        ]),
      );
      return `${dir}/${name}`;
    };
    const stray = new TextEncoder().encode("not a relay object");
    const cases: [string, number, string][] = [
      [
        await forged("v2.tar", (m) => (m.version = 2)),
        2,
        "backup format version 2 is not supported by this escale (it reads version 1)",
      ],
      [
        await forged("twice.tar", (m) => m.objects.push(m.objects[1])),
        6,
        `not a valid escale backup manifest (${manifest.objects[1].key} listed twice)`,
      ],
      [
        await forged("stray.tar", (m) =>
          m.objects.splice(1, 0, {
            key: "notes/stray.txt",
            size: stray.length,
            sha256: createHash("sha256").update(stray).digest("hex"),
          }), [{ name: "notes/stray.txt", data: stray }]),
        6,
        'not a valid escale backup manifest (object "notes/stray.txt")',
      ],
    ];
    const before = await fingerprint(`${dir}/relay2`);
    for (const [file, code, message] of cases) {
      const r = await escale(["restore", "-c", `${dir}/other.conf`, file]);
      assertEquals(r.code, code, `${file}: ${r.stderr}`);
      assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert(r.stderr.includes(message), r.stderr);
      assertEquals(await fingerprint(`${dir}/relay2`), before, `${file}: something was written`);
    }
    // The untouched archive restores there.
    assertEquals((await escale(["restore", "-c", `${dir}/other.conf`, archive])).code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli backup/restore of an encrypted relay: stored encrypted, no key needed to restore, clients resume", async () => {
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
    await Deno.writeTextFile(`${dir}/A/one.txt`, "first secret words");
    await round(dir, "B");
    await round(dir, "A");
    assertEquals(await round(dir, "B"), ["one.txt"]);
    await Deno.writeTextFile(`${dir}/A/two.txt`, "second secret words");
    await round(dir, "A"); // two.txt waits on the relay for B
    const archive = `${dir}/enc.tar`;
    const b = await escale(["backup", "-c", `${dir}/A.conf`, archive]);
    assertEquals(b.code, 0, b.stderr);
    const bytes = new TextDecoder("latin1").decode(await Deno.readFile(archive));
    assert(
      !bytes.includes("secret words") && !bytes.includes("two.txt"),
      "plaintext in the archive",
    );
    const manifest = (await unpackTar(await Deno.readFile(archive))).at(-1)!;
    assert(JSON.parse(new TextDecoder().decode(manifest.data)).encrypted, "not said encrypted");
    const before = await relayObjects(`${dir}/relay`);

    await Deno.remove(`${dir}/relay`, { recursive: true });
    await Deno.mkdir(`${dir}/relay`);
    // Restoring needs no key: this configuration has none.
    await conf(
      `${dir}/nokey.conf`,
      `[A]\nclient = A\nlocal path = ${dir}/A\nrelay path = ${dir}/relay\n`,
    );
    const r = await escale(["restore", "-c", `${dir}/nokey.conf`, archive]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(await relayObjects(`${dir}/relay`), before);
    assertEquals(await round(dir, "B"), ["two.txt"]);
    assertEquals(await round(dir, "A"), []);
    assertEquals(await readTree(`${dir}/B`), await readTree(`${dir}/A`));
    const check = await escale(["check", "--read-data", "-c", `${dir}/B.conf`]);
    assertEquals(check.code, 0, check.stdout + check.stderr);
    await Deno.writeTextFile(`${dir}/B/three.txt`, "after the restore");
    await round(dir, "B");
    assertEquals(await round(dir, "A"), ["three.txt"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli backup and restore: --help shows examples", async () => {
  for (const cmd of ["backup", "restore"]) {
    const help = await escale([cmd, "--help"]);
    assertEquals(help.code, 0, help.stderr);
    assert(help.stdout.includes("Examples:"), help.stdout);
    assert(help.stdout.includes(`escale ${cmd} -r photos `), help.stdout);
  }
  const restore = await escale(["restore", "--help"]);
  assert(restore.stdout.includes("--force"), restore.stdout);
});
