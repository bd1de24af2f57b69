// Big new files are not hashed by the scan but while they are sent (scan.ts, push.ts), and
// received big files are checked by the hashing worker (hasher.ts). These scenarios cover the
// paths where that matters: the commit's hash, conflicts with an unhashed local file, and a
// publication interrupted before its commit.
import { createHash } from "node:crypto";
import { assert, assertEquals } from "../assert.ts";
import { type Client, readTree, withSandbox } from "./sandbox.ts";
import { MemoryRelay } from "../../src/relay/memory_relay.ts";
import { FaultRelay } from "../../src/relay/fault_relay.ts";
import { WORKER_MIN } from "../../src/engine/hasher.ts";

function bigData(seed: number): Uint8Array {
  const b = new Uint8Array(WORKER_MIN + 4096 + seed);
  for (let i = 0; i < b.length; i += 65536) crypto.getRandomValues(b.subarray(i, i + 65536));
  return b;
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

async function writeBig(c: Client, path: string, data: Uint8Array): Promise<void> {
  await Deno.mkdir(`${c.root}/${path}`.replace(/\/[^/]*$/, ""), { recursive: true });
  await Deno.writeFile(`${c.root}/${path}`, data);
}

async function commitHashes(relay: MemoryRelay): Promise<string[]> {
  const out: string[] = [];
  for (const [k, v] of relay.objects) {
    if (!k.startsWith("commits/")) continue;
    const text = await new Response(
      new Blob([v.data.slice()]).stream().pipeThrough(new DecompressionStream("gzip")),
    ).text();
    for (const e of JSON.parse(text).entries) if (e.hash) out.push(e.hash);
  }
  return out;
}

Deno.test("a new big file is hashed while sent: the commit and the state carry its SHA-256", async () => {
  const relay = new MemoryRelay();
  await withSandbox(async (sb) => {
    const a = await sb.client("A", "upload", { chunkSize: 1024 * 1024 });
    const b = await sb.client("B", "download");
    await b.sync();
    const data = bigData(1);
    await writeBig(a, "dir/big.bin", data);
    await a.write("small.txt", "small");
    await a.sync();
    assertEquals((await commitHashes(relay)).includes(sha(data)), true);
    assertEquals((await a.repo()).state.getFile("dir/big.bin")?.hash, sha(data));
    await b.sync();
    assertEquals(sha(await Deno.readFile(`${b.root}/dir/big.bin`)), sha(data));
    assertEquals(await b.read("small.txt"), "small");
    // Published and hashed: the next round has nothing to send.
    assertEquals((await a.sync()).relayWrites, 0);
    assertEquals((await a.repo()).state.countDirty(), 0);
  }, relay);
});

Deno.test("an unhashed local big file meets a remote one at the same path: contents decide", async () => {
  const relay = new MemoryRelay();
  await withSandbox(async (sb) => {
    const a = await sb.client("A", "shared", { chunkSize: 1024 * 1024 });
    const b = await sb.client("B", "shared", { chunkSize: 1024 * 1024 });
    await a.sync();
    await b.sync();
    const same = bigData(2);
    const mine = bigData(3);
    const theirs = bigData(4);
    await writeBig(a, "same.bin", same);
    await writeBig(b, "same.bin", same);
    await writeBig(a, "clash.bin", theirs);
    await writeBig(b, "clash.bin", mine);
    await a.sync();
    const s = await b.sync(); // B's copies are new and unhashed when A's commit arrives
    assertEquals(s.conflicts, 1, b.lines.join("\n"));
    const names = [...Deno.readDirSync(b.root)].map((e) => e.name).sort();
    assertEquals(names.filter((n) => n.startsWith("same")), ["same.bin"]);
    assertEquals(names.filter((n) => n.startsWith("clash")).length, 2, names.join(", "));
    await a.sync();
    await b.sync();
    await a.sync();
    assertEquals(
      [...Deno.readDirSync(a.root)].map((e) => e.name).sort(),
      names,
    );
    assertEquals(sha(await Deno.readFile(`${b.root}/same.bin`)), sha(same));
  }, relay);
});

for (
  const [step, match, nth] of [["a data object", /^data\//, 3], [
    "the commit",
    /^commits\//,
    1,
  ]] as const
) {
  Deno.test(`a publication of an unhashed big file cut at ${step} resumes with the right hash`, async () => {
    const mem = new MemoryRelay();
    const relay = new FaultRelay(mem);
    await withSandbox(async (sb) => {
      const a = await sb.client("A", "upload", { chunkSize: 1024 * 1024, transfers: 1 });
      const b = await sb.client("B", "download");
      await b.sync();
      const data = bigData(5);
      await writeBig(a, "big.bin", data);
      relay.arm([{ op: "write", match, nth, action: "fail", kind: "permanent" }]);
      let failed = false;
      await a.sync().catch(() => (failed = true));
      assert(failed, "the write should have failed");
      relay.arm([]);
      a.close(); // as after a crash: only the state database survives
      await a.sync();
      assertEquals(await commitHashes(mem), [sha(data)]);
      await b.sync();
      assertEquals(sha(await Deno.readFile(`${b.root}/big.bin`)), sha(data));
      assertEquals(Object.keys(await b.tree()), ["big.bin"]);
    }, relay);
  });
}

Deno.test("a large batch of small files is written by both threads and recorded once", async () => {
  const relay = new MemoryRelay();
  await withSandbox(async (sb) => {
    const a = await sb.client("A", "shared");
    const b = await sb.client("B", "shared");
    await b.sync();
    for (let i = 0; i < 300; i++) {
      await a.write(`d${i % 7}/f${i}.txt`, `file ${i}\n`, new Date(1_700_000_000_000 + i * 1000));
    }
    await a.sync();
    const s = await b.sync();
    assertEquals(s.downloaded, 300);
    assertEquals(await readTree(b.root, true), await readTree(a.root, true));
    assertEquals((await b.repo()).state.countDirty(), 0);
    // Every file was recorded with its real stat: nothing looks changed, nothing is published.
    assertEquals((await b.sync()).relayWrites, 0);
  }, relay);
});

Deno.test("a renamed big file is hashed by the scan after all, so it travels as a move", async () => {
  const relay = new MemoryRelay();
  await withSandbox(async (sb) => {
    const a = await sb.client("A", "upload", { chunkSize: 1024 * 1024 });
    const b = await sb.client("B", "download");
    await b.sync();
    const data = bigData(6);
    await writeBig(a, "big.bin", data);
    await a.sync();
    await b.sync();
    await a.mv("big.bin", "renamed/big.bin");
    const s = await a.sync();
    assertEquals(s.uploadedBytes, 0);
    const r = await b.sync();
    assertEquals(r.movedLocal, 1);
    assertEquals(sha(await Deno.readFile(`${b.root}/renamed/big.bin`)), sha(data));
  }, relay);
});
