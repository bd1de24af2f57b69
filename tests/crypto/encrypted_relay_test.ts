import { assert, assertBytes, assertEquals, failure, sameBytes } from "../assert.ts";
import { conformanceSteps } from "../relay/conformance.ts";
import { EncryptedRelay } from "../../src/crypto/encrypted_relay.ts";
import { createCryptoParams } from "../../src/crypto/key_params.ts";
import {
  cipherSize,
  HEADER_SIZE,
  SegmentCipher,
  TAG_SIZE,
} from "../../src/crypto/segment_cipher.ts";
import { MemoryRelay } from "../../src/relay/memory_relay.ts";
import { FileRelay } from "../../src/relay/file_relay.ts";
import {
  type Body,
  openBody,
  type ReadOptions,
  type Relay,
  type WriteOptions,
} from "../../src/relay/relay.ts";
import { collect, concat as joinParts, toArray } from "../../src/util/streams.ts";
import { CHEAP, pattern, testKeys } from "./helpers.ts";

const S = 64 * 1024;
const Z = S + TAG_SIZE;

function chunks(data: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream({
    pull(c) {
      if (off >= data.length) return c.close();
      c.enqueue(data.slice(off, off + size));
      off += size;
    },
  });
}

async function setup(): Promise<{ inner: MemoryRelay; relay: EncryptedRelay }> {
  const inner = new MemoryRelay();
  return { inner, relay: new EncryptedRelay(inner, await testKeys()) };
}

/** Reads `key` in full and returns the integrity error and the plaintext delivered before it. */
async function readUntilError(relay: Relay, key: string, opts?: ReadOptions, what = key) {
  const got: Uint8Array[] = [];
  let delivered = 0;
  const err = await failure(
    async () => {
      for await (const c of await relay.read(key, opts)) {
        got.push(c);
        delivered += c.length;
      }
    },
    "integrity",
    what,
  );
  assert(err.message.includes(`relay object ${key} failed authentication`), err.message);
  return { err, delivered, got };
}

function mutate(inner: MemoryRelay, key: string, f: (d: Uint8Array) => Uint8Array): void {
  const o = inner.objects.get(key);
  if (!o) throw new Error(`${key} missing`);
  inner.objects.set(key, { data: f(o.data.slice()), mtime: o.mtime });
}

Deno.test("encrypted relay over a memory relay passes the conformance suite", async (t) => {
  await conformanceSteps(t, new EncryptedRelay(new MemoryRelay(), await testKeys()), "conf");
});

Deno.test("encrypted relay over a file relay passes the conformance suite", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    const inner = await new FileRelay(dir).open();
    await conformanceSteps(t, new EncryptedRelay(inner, await testKeys()), "conf");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("round trips at segment boundaries, as bytes and as odd-sized streams", async () => {
  const { inner, relay } = await setup();
  for (const n of [0, 1, S - 1, S, S + 1, 3 * S, 5 * 1024 * 1024 + 3]) {
    const data = pattern(n, n + 1);
    for (
      const [how, body] of [
        ["bytes", data],
        ["1000-byte chunks", () => chunks(data, 1000)],
        ["segment+7 chunks", () => chunks(data, S + 7)],
      ] as const
    ) {
      await relay.write("data/obj", body, { size: n });
      const stored = inner.objects.get("data/obj")!.data;
      assertEquals(stored.length, cipherSize(n, S), `sealed size of ${n} bytes (${how})`);
      assertBytes(await collect(await relay.read("data/obj")), data, `${n} bytes (${how})`);
      assertEquals((await relay.stat("data/obj"))?.size, n, `stat size of ${n} bytes`);
    }
  }
});

Deno.test("range reads at and across segment boundaries", async () => {
  const { relay } = await setup();
  const n = 3 * S + 100;
  const data = pattern(n, 5);
  await relay.write("data/r", data);
  const cases: [number, number | undefined][] = [
    [0, S],
    [0, 0],
    [S - 1, 2],
    [S, S],
    [S, 1],
    [S + 5, undefined],
    [2 * S - 1, S + 2],
    [3 * S, 100],
    [3 * S + 99, 1],
    [3 * S + 99, 1000],
    [n, undefined],
    [n, 10],
    [n + 1, undefined],
    [5 * S, undefined],
    [5 * S + 3, 7],
  ];
  for (const [offset, length] of cases) {
    const end = length === undefined ? n : Math.min(n, offset + length);
    const want = offset >= n ? new Uint8Array(0) : data.subarray(offset, end);
    const got = await collect(await relay.read("data/r", { offset, length }));
    assertBytes(got, want, `range offset=${offset} length=${length}`);
  }
});

/** Counts the bytes the inner relay hands out, to prove ranged reads skip what they do not need. */
class CountingRelay extends MemoryRelay {
  transferred = 0;
  writeChunks: number[] = [];
  lastWriteSize: number | undefined;
  override async read(key: string, opts?: ReadOptions): Promise<ReadableStream<Uint8Array>> {
    const data = await collect(await super.read(key, opts));
    this.transferred += data.length;
    return openBody(data);
  }
  override async write(key: string, body: Body, opts?: WriteOptions): Promise<void> {
    this.lastWriteSize = opts?.size;
    const parts: Uint8Array[] = [];
    for await (const c of openBody(body)) {
      this.writeChunks.push(c.length);
      parts.push(c);
    }
    await super.write(key, joinParts(parts), opts);
  }
}

Deno.test("a ranged read fetches only the header and the segments it needs", async () => {
  const inner = new CountingRelay();
  const relay = new EncryptedRelay(inner, await testKeys());
  const data = pattern(5 * 1024 * 1024, 9);
  await relay.write("data/big", data);
  inner.transferred = 0;
  const got = await collect(await relay.read("data/big", { offset: 40 * S - 1, length: 2 }));
  assertBytes(got, data.subarray(40 * S - 1, 40 * S + 1), "2 bytes across a boundary");
  assert(inner.transferred <= HEADER_SIZE + 2 * Z, `transferred ${inner.transferred} bytes`);
});

Deno.test("writes keep memory bounded and announce the sealed size", async () => {
  const inner = new CountingRelay();
  const relay = new EncryptedRelay(inner, await testKeys());
  const data = pattern(5 * 1024 * 1024 + 11, 2);
  await relay.write("data/one-chunk", data, { size: data.length });
  const biggest = Math.max(...inner.writeChunks);
  assert(biggest <= HEADER_SIZE + 16 * Z, `a ${biggest}-byte chunk reached the inner relay`);
  assertEquals(inner.lastWriteSize, cipherSize(data.length, S), "size passed to the inner relay");
  assertEquals(
    inner.objects.get("data/one-chunk")!.data.length,
    cipherSize(data.length, S),
    "stored size",
  );
});

Deno.test("a flipped byte anywhere fails authentication and names the object", async () => {
  const { inner, relay } = await setup();
  const n = 3 * S + 1000;
  const data = pattern(n, 3);
  const seg = (i: number) => HEADER_SIZE + i * Z;
  const places: [string, number, number][] = [
    // [where, byte position, segments that may be delivered before the error]
    ["version byte", 0, 0],
    ["salt", 5, 0],
    ["nonce prefix", 20, 0],
    ["first segment", seg(0) + 10, 0],
    ["middle segment", seg(1) + 1234, 1],
    ["middle segment tag", seg(2) - 3, 1],
    ["last full segment tag", seg(3) - 1, 2],
    ["final segment", seg(3) + 500, 3],
    ["final segment tag", seg(3) + 1000 + 15, 3],
  ];
  for (const [where, pos, okSegments] of places) {
    await relay.write("data/ab12", data);
    mutate(inner, "data/ab12", (d) => {
      d[pos] ^= 0x01;
      return d;
    });
    const { delivered, got } = await readUntilError(relay, "data/ab12", undefined, where);
    assert(delivered <= okSegments * S, `${where}: ${delivered} bytes delivered before the error`);
    assertBytes(
      joinParts(got),
      data.subarray(0, delivered),
      where,
    );
  }
  // A ranged read of an intact segment still fails when the header was altered.
  await relay.write("data/ab12", data);
  mutate(inner, "data/ab12", (d) => {
    d[10] ^= 0x80;
    return d;
  });
  await readUntilError(relay, "data/ab12", { offset: 2 * S, length: 10 });
});

Deno.test("truncation is detected, wherever the object is cut", async () => {
  const { inner, relay } = await setup();
  const cases: [string, number, (len: number) => number][] = [
    ["drop the final segment", 3 * S + 1000, () => HEADER_SIZE + 3 * Z],
    ["cut mid-segment", 3 * S + 1000, () => HEADER_SIZE + Z + 777],
    ["cut inside the final tag", 3 * S + 1000, (len) => len - 1],
    ["drop the empty final segment", 2 * S, (len) => len - TAG_SIZE],
    ["keep only the header", 100, () => HEADER_SIZE],
    ["cut inside the header", 100, () => 10],
    ["empty object", 0, () => 0],
  ];
  for (const [what, n, cut] of cases) {
    await relay.write("data/cut", pattern(n, 4));
    mutate(inner, "data/cut", (d) => d.slice(0, cut(d.length)));
    await readUntilError(relay, "data/cut", undefined, what);
  }
  // Past the new end, a ranged read must not mistake the cut for the end of the object.
  await relay.write("data/cut", pattern(3 * S + 1000, 4));
  mutate(inner, "data/cut", (d) => d.slice(0, HEADER_SIZE + 2 * Z + TAG_SIZE));
  await readUntilError(relay, "data/cut", { offset: 3 * S + 500 });
  await readUntilError(relay, "data/cut", { offset: 2 * S, length: 5 });
});

Deno.test("swapped, copied or extended objects fail authentication", async () => {
  const { inner, relay } = await setup();
  const a = pattern(2 * S + 10, 11);
  const b = pattern(2 * S + 10, 12);
  await relay.write("data/aa", a);
  await relay.write("data/bb", b);
  const da = inner.objects.get("data/aa")!;
  const db = inner.objects.get("data/bb")!;
  inner.objects.set("data/aa", db);
  inner.objects.set("data/bb", da);
  await readUntilError(relay, "data/aa");
  await readUntilError(relay, "data/bb");
  // A replayed commit under another name: same bytes, new key.
  await relay.write("commits/c-0000000001", a);
  inner.objects.set("commits/c-0000000002", inner.objects.get("commits/c-0000000001")!);
  await readUntilError(relay, "commits/c-0000000002");

  const extensions: [string, number, (d: Uint8Array) => Uint8Array][] = [
    [
      "append a copy of a full segment",
      2 * S + 10,
      (d) => concat(d, d.subarray(HEADER_SIZE, HEADER_SIZE + Z)),
    ],
    ["append a tag-sized tail", 2 * S + 10, (d) => concat(d, new Uint8Array(TAG_SIZE))],
    [
      "append after an empty final segment",
      2 * S,
      (d) => concat(d, d.subarray(d.length - TAG_SIZE)),
    ],
    ["append one byte", 5, (d) => concat(d, new Uint8Array(1))],
  ];
  for (const [what, n, f] of extensions) {
    await relay.write("data/ext", pattern(n, 13));
    mutate(inner, "data/ext", f);
    const { delivered } = await readUntilError(relay, "data/ext", undefined, what);
    assert(delivered <= n, `${what}: delivered ${delivered} bytes`);
  }
});

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

Deno.test("objects sealed with another key fail authentication", async () => {
  const { inner, relay } = await setup();
  await relay.write("data/k", pattern(1000));
  const other = await createCryptoParams(new TextEncoder().encode("other"), CHEAP);
  await readUntilError(new EncryptedRelay(inner, other.keys), "data/k");
});

Deno.test("no plaintext reaches the inner relay", async () => {
  const { inner, relay } = await setup();
  const needle = "Zebra-Quokka-Invoice-2031.pdf";
  const text = new TextEncoder().encode(`${needle} `.repeat(20_000));
  await relay.write("data/n1", text);
  await relay.write("data/n2", new TextEncoder().encode(needle));
  await relay.write("data/n3", () => chunks(text, 4097));
  const probe = new TextEncoder().encode(needle.slice(0, 12));
  for (const [key, o] of inner.objects) {
    assert(indexOf(o.data, probe) < 0, `${key} holds the plaintext`);
  }
  assertBytes(await collect(await relay.read("data/n3")), text, "read back");
});

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

Deno.test("plain keys pass through; sizes are plaintext sizes; no rename", async () => {
  const { inner, relay } = await setup();
  const header = new TextEncoder().encode('{"format":"escale"}');
  await relay.write("escale.json", header);
  assertBytes(inner.objects.get("escale.json")!.data, header, "the header is stored as it is");
  assertBytes(await collect(await relay.read("escale.json")), header, "and read as it is");
  await relay.write("data/x", pattern(S + 5));
  await relay.write("data/y", pattern(0));
  const listed = (await toArray(relay.list("data"))).map((e) => `${e.key}:${e.size}`);
  assertEquals(listed.join(","), `data/x:${S + 5},data/y:0`, "listing");
  assertEquals(
    (await toArray(relay.list(""))).find((e) => e.key === "escale.json")?.size,
    header.length,
    "plain size",
  );
  mutate(inner, "data/y", (d) => d.slice(0, 7));
  assertEquals((await relay.stat("data/y"))?.size, 7, "an impossible size is reported as it is");
  assertEquals(relay.capabilities.rangeRead, true, "capabilities.rangeRead from the inner relay");
  assertEquals(await relay.stat("data/none"), null, "stat of a missing object");
  await failure(async () => await relay.read("data/none"), "not-found", "read missing");
  await failure(
    async () => await relay.read("data/none", { offset: 3 * S }),
    "not-found",
    "ranged read missing",
  );
  await relay.delete("data/x");
  assertEquals(inner.objects.has("data/x"), false, "delete passes through");
  const custom = new EncryptedRelay(inner, await testKeys(), { plainKeys: ["meta/plain"] });
  await custom.write("escale.json", header);
  assert(
    !sameBytes(inner.objects.get("escale.json")!.data, header),
    "custom plainKeys replace the default",
  );
});

Deno.test("reads open a huge source chunk a few segments at a time", async () => {
  const { inner, relay } = await setup();
  await relay.write("data/huge", pattern(8 * 1024 * 1024, 21));
  const original = SegmentCipher.prototype.open;
  let opened = 0;
  SegmentCipher.prototype.open = function (this: SegmentCipher, ...args) {
    opened++;
    return original.apply(this, args);
  };
  try {
    // The memory relay hands out the whole object as one chunk.
    const reader = (await relay.read("data/huge")).getReader();
    await reader.read();
    assert(opened <= 2 * 16, `${opened} segments opened for the first read`);
    await reader.cancel();
    assert(inner.objects.has("data/huge"), "object still there");
  } finally {
    SegmentCipher.prototype.open = original;
  }
});
