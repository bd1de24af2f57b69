import { assert, assertEquals } from "../assert.ts";
import { Sandbox } from "../engine/sandbox.ts";
import { FileRelay } from "../../src/relay/file_relay.ts";
import { checkRelay } from "../../src/maintenance/check_relay.ts";
import { openExistingStore } from "../../src/maintenance/open_existing_store.ts";
import { gzipSync } from "node:zlib";

/** A file relay where A published three files that B has not pulled yet (commits still there). */
async function relayWithCommits(): Promise<{ sb: Sandbox; relayDir: string }> {
  const relayDir = await Deno.makeTempDir({ prefix: "escale-relay-" });
  const sb = await Sandbox.create(new FileRelay(relayDir));
  const a = await sb.client("A");
  await sb.client("B", "download");
  await a.write("one.txt", "first file");
  await a.write("sub/two.txt", "second file, a little longer");
  await a.write("big.bin", "x".repeat(200_000)); // spans several 64 KiB data objects
  await sb.clients.get("B")!.sync(); // B registers as a puller, so A's commits stay
  await a.sync();
  return { sb, relayDir };
}

async function check(relayDir: string, readData = false) {
  const relay = new FileRelay(relayDir);
  const opened = await openExistingStore(relay, { mode: "none" });
  return await checkRelay(relay, opened?.store ?? null, { readData });
}

async function dataKeys(relayDir: string): Promise<string[]> {
  const out = [];
  for await (const e of Deno.readDir(`${relayDir}/data`)) out.push(`data/${e.name}`);
  return out.sort();
}

Deno.test("check: a sound relay is sound, with and without --read-data", async () => {
  const { sb, relayDir } = await relayWithCommits();
  try {
    const r = await check(relayDir, true);
    assertEquals(r.damaged, []);
    assert(r.ok);
    assertEquals(r.clients, 2);
    assertEquals(r.filesVerified, 3);
    assert(r.dataObjects >= 4, `${r.dataObjects}`);
    assertEquals(r.orphans, []);
  } finally {
    await sb.cleanup();
    await Deno.remove(relayDir, { recursive: true });
  }
});

Deno.test("check: a truncated data object is named", async () => {
  const { sb, relayDir } = await relayWithCommits();
  try {
    const victim = (await dataKeys(relayDir))[0];
    const bytes = await Deno.readFile(`${relayDir}/${victim}`);
    await Deno.writeFile(`${relayDir}/${victim}`, bytes.subarray(0, bytes.length - 10));
    const r = await check(relayDir);
    assert(!r.ok);
    assertEquals(r.damaged.map((d) => [d.key, d.problem]), [[victim, "truncated"]]);
  } finally {
    await sb.cleanup();
    await Deno.remove(relayDir, { recursive: true });
  }
});

Deno.test("check: a missing data object is named", async () => {
  const { sb, relayDir } = await relayWithCommits();
  try {
    const victim = (await dataKeys(relayDir)).at(-1)!;
    await Deno.remove(`${relayDir}/${victim}`);
    const r = await check(relayDir);
    assertEquals(r.damaged.map((d) => [d.key, d.problem]), [[victim, "missing"]]);
  } finally {
    await sb.cleanup();
    await Deno.remove(relayDir, { recursive: true });
  }
});

Deno.test("check: content changed in place is found by --read-data only", async () => {
  const { sb, relayDir } = await relayWithCommits();
  try {
    const victim = (await dataKeys(relayDir))[0];
    const bytes = await Deno.readFile(`${relayDir}/${victim}`);
    bytes[0] ^= 1;
    await Deno.writeFile(`${relayDir}/${victim}`, bytes);
    assert((await check(relayDir)).ok);
    const r = await check(relayDir, true);
    assertEquals(r.damaged.map((d) => d.problem), ["wrong-hash"]);
    assert(r.damaged[0].key.split(", ").includes(victim), r.damaged[0].key);
    assert(r.damaged[0].message.includes('"big.bin"'), r.damaged[0].message);
  } finally {
    await sb.cleanup();
    await Deno.remove(relayDir, { recursive: true });
  }
});

Deno.test("check: a forged commit is named, and orphans and stale leases are listed", async () => {
  const { sb, relayDir } = await relayWithCommits();
  try {
    const forged = "commits/00000000000000aa-0000000001";
    const body = {
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
    };
    await Deno.writeFile(`${relayDir}/${forged}`, gzipSync(JSON.stringify(body)));
    await Deno.writeTextFile(`${relayDir}/data/00000000000000bb-0000000001-0000`, "junk");
    await Deno.mkdir(`${relayDir}/leases`);
    await Deno.writeTextFile(
      `${relayDir}/leases/maintenance`,
      JSON.stringify({ owner: "gone", expires: "2020-01-01T00:00:00Z" }),
    );
    const r = await check(relayDir);
    assertEquals(r.damaged.map((d) => [d.key, d.problem]), [[forged, "malformed"]]);
    assertEquals(r.orphans.map((o) => o.key), ["data/00000000000000bb-0000000001-0000"]);
    assertEquals(r.leases.map((l) => [l.key, l.stale]), [["leases/maintenance", true]]);
  } finally {
    await sb.cleanup();
    await Deno.remove(relayDir, { recursive: true });
  }
});

Deno.test("check: a relay without a header is damaged", async () => {
  const relayDir = await Deno.makeTempDir({ prefix: "escale-relay-" });
  try {
    const r = await check(relayDir);
    assert(!r.ok);
    assertEquals(r.damaged.map((d) => [d.key, d.problem]), [["escale.json", "missing"]]);
  } finally {
    await Deno.remove(relayDir, { recursive: true });
  }
});
