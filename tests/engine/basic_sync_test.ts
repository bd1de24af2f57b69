import { assert, assertEquals } from "../assert.ts";
import { readTree, Sandbox } from "./sandbox.ts";
import { MemoryRelay } from "../../src/relay/memory_relay.ts";

Deno.test("upload client to download client: same tree and mtimes, relay emptied of data", async () => {
  const relay = new MemoryRelay();
  const sb = await Sandbox.create(relay);
  try {
    const a = await sb.client("A", "upload");
    const b = await sb.client("B", "download");
    await a.write("hello.txt", "hello\n", new Date("2024-05-01T10:00:00Z"));
    await a.write("sub dir/ünïcødé name.txt", "unicode\n");
    await a.write("deep/a/b/c/d/e/f.txt", "deep");
    await a.write("empty.bin", "");
    await b.sync(); // registers B as a puller
    const s = await a.sync();
    assertEquals(s.uploaded, 4);
    await b.sync();
    assertEquals(await readTree(b.root, true), await readTree(a.root, true));
    await a.sync(); // releases acknowledged commits
    const keys = [...relay.objects.keys()].sort();
    assert(
      keys.every((k) => !k.startsWith("data/") && !k.startsWith("commits/")),
      `left on relay: ${keys}`,
    );
  } finally {
    await sb.cleanup();
  }
});

Deno.test("shared clients exchange both ways; a modification propagates; idle rounds write nothing", async () => {
  const relay = new MemoryRelay();
  const sb = await Sandbox.create(relay);
  try {
    const a = await sb.client("A");
    const b = await sb.client("B");
    await a.write("a.txt", "from A");
    await b.write("b.txt", "from B");
    for (let i = 0; i < 2; i++) {
      await a.sync();
      await b.sync();
    }
    assertEquals(await a.tree(), { "a.txt": "from A", "b.txt": "from B" });
    assertEquals(await b.tree(), { "a.txt": "from A", "b.txt": "from B" });
    await a.write("b.txt", "changed by A");
    await a.sync();
    await b.sync();
    assertEquals(await b.read("b.txt"), "changed by A");
    await a.sync();
    await b.sync();
    const snapshot = JSON.stringify([...relay.objects.entries()].map(([k, v]) => [k, v.mtime]));
    const sa = await a.sync();
    const sbb = await b.sync();
    assertEquals(sa.relayWrites + sbb.relayWrites, 0);
    assertEquals(
      JSON.stringify([...relay.objects.entries()].map(([k, v]) => [k, v.mtime])),
      snapshot,
    );
  } finally {
    await sb.cleanup();
  }
});

Deno.test("many small files travel in few data objects; a big file is chunked", async () => {
  const relay = new MemoryRelay();
  const sb = await Sandbox.create(relay);
  try {
    const a = await sb.client("A", "upload", {
      chunkSize: 256 * 1024,
      maxPageSize: 64 * 1024 * 1024,
    });
    const b = await sb.client("B", "download");
    for (let i = 0; i < 500; i++) await a.write(`small/${i}.txt`, `file ${i} `.repeat(50));
    const big = "0123456789abcdef".repeat(64 * 1024); // 1 MiB
    await a.write("big.bin", big);
    await b.sync();
    await a.sync();
    const data = [...relay.objects.keys()].filter((k) => k.startsWith("data/"));
    assert(data.length <= 8, `${data.length} data objects`);
    await b.sync();
    assertEquals(await readTree(b.root), await readTree(a.root));
  } finally {
    await sb.cleanup();
  }
});
