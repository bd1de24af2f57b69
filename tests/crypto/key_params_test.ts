import { assert, assertBytes, assertEquals, failure } from "../assert.ts";
import {
  createCryptoParams,
  type CryptoParams,
  openCryptoParams,
} from "../../src/crypto/key_params.ts";
import { EncryptedRelay } from "../../src/crypto/encrypted_relay.ts";
import type { RelayKeys } from "../../src/crypto/relay_keys.ts";
import { MemoryRelay } from "../../src/relay/memory_relay.ts";
import { collect } from "../../src/util/streams.ts";
import { CHEAP, pattern } from "./helpers.ts";

const enc = (s: string) => new TextEncoder().encode(s);

/** Two key sets are the same when one opens what the other sealed. */
async function sameKeys(a: RelayKeys, b: RelayKeys): Promise<boolean> {
  const inner = new MemoryRelay();
  const data = pattern(70_000);
  await new EncryptedRelay(inner, a).write("data/probe", data);
  try {
    const got = await collect(await new EncryptedRelay(inner, b).read("data/probe"));
    return got.length === data.length;
  } catch {
    return false;
  }
}

Deno.test("default parameters: argon2id 19 MiB x 2, recorded in the header, JSON round trip", async () => {
  const t0 = performance.now();
  const { params, keys } = await createCryptoParams(enc("correct horse battery staple"));
  const ms = performance.now() - t0;
  console.log(
    `argon2id m=${params.kdf.memoryKiB} KiB t=${params.kdf.iterations}: ${ms.toFixed(0)} ms`,
  );
  assertEquals(params.kdf.algorithm, "argon2id", "kdf");
  assertEquals(params.kdf.memoryKiB, 19456, "memory");
  assertEquals(params.kdf.iterations, 2, "iterations");
  assertEquals(params.kdf.parallelism, 1, "parallelism");
  assertEquals(params.cipher, "chacha20-poly1305", "cipher");
  assertEquals(params.segmentSize, 65536, "segment size");
  const stored = JSON.parse(JSON.stringify(params)) as CryptoParams;
  const reopened = await openCryptoParams(stored, enc("correct horse battery staple"));
  assert(await sameKeys(keys, reopened), "the reopened keys differ");
});

Deno.test("a wrong secret fails with kind key and one line", async () => {
  const { params } = await createCryptoParams(enc("right"), CHEAP);
  const err = await failure(() => openCryptoParams(params, enc("wrong")), "key", "wrong");
  assertEquals(err.message, "wrong passphrase or key for this relay", "message");
  assertEquals(err.exitCode, 5, "exit code");
});

Deno.test("each salt gives other keys; cost settings are recorded and honoured", async () => {
  const a = await createCryptoParams(enc("same"), CHEAP);
  const b = await createCryptoParams(enc("same"), { ...CHEAP, segmentSize: 4096 });
  assert(a.params.kdf.salt !== b.params.kdf.salt, "two relays got the same salt");
  assert(!(await sameKeys(a.keys, b.keys)), "two relays got the same keys");
  assertEquals(b.params.segmentSize, 4096, "segment size recorded");
  assertEquals(b.keys.segmentSize, 4096, "segment size in the keys");
  assertEquals(a.params.kdf.memoryKiB, 8192, "memory recorded");
  assertEquals(a.params.kdf.iterations, 1, "iterations recorded");
});

Deno.test("altered parameters are refused", async () => {
  const secret = enc("s3cret");
  const { params } = await createCryptoParams(secret, CHEAP);
  const alter = (f: (p: CryptoParams) => void): CryptoParams => {
    const p = structuredClone(params);
    f(p);
    return p;
  };
  // Changes a wrong key could also explain are reported as one.
  for (
    const [what, p] of [
      ["segment size", alter((p) => (p.segmentSize = 4096))],
      [
        "salt",
        alter((p) => (p.kdf.salt = params.kdf.salt.replace(/^./, (c) => c === "A" ? "B" : "A"))),
      ],
      ["iterations", alter((p) => (p.kdf.iterations = 2))],
      ["check", alter((p) => (p.check = params.check.replace(/^./, (c) => c === "A" ? "B" : "A")))],
    ] as const
  ) {
    await failure(() => openCryptoParams(p, secret), "key", what);
  }
  // Things this version cannot do say so.
  for (
    const [what, p, text] of [
      ["cipher", alter((p) => ((p as { cipher: string }).cipher = "aes-256-gcm")), "cipher"],
      ["version", alter((p) => (p.version = 2)), "format version 2"],
      ["kdf", alter((p) => ((p.kdf as { algorithm: string }).algorithm = "scrypt")), "derivation"],
    ] as const
  ) {
    const e = await failure(() => openCryptoParams(p, secret), "key", what);
    assert(e.message.includes(text) && e.message.includes("does not support"), e.message);
  }
  // Malformed or hostile values are refused before any key derivation runs.
  for (
    const [what, p] of [
      ["huge memory", alter((p) => (p.kdf.memoryKiB = 1e9))],
      ["tiny memory", alter((p) => (p.kdf.memoryKiB = 64))],
      ["many iterations", alter((p) => (p.kdf.iterations = 10_000))],
      ["fractional", alter((p) => (p.kdf.iterations = 1.5))],
      ["huge segments", alter((p) => (p.segmentSize = 2 ** 30))],
      ["short salt", alter((p) => (p.kdf.salt = "AAAA"))],
      ["padded salt", alter((p) => (p.kdf.salt = params.kdf.salt + "="))],
      ["argon2 version", alter((p) => (p.kdf.version = 16))],
      ["empty check", alter((p) => (p.check = ""))],
      ["short check", alter((p) => (p.check = params.check.slice(0, 22)))],
      ["no kdf", alter((p) => delete (p as Partial<CryptoParams>).kdf)],
      ["string version", alter((p) => ((p as { version: unknown }).version = "1"))],
    ] as const
  ) {
    // Kind "integrity" and this message come only from the parameter check: a derivation that
    // ran first would fail as "key" (or not finish, for the huge memory).
    const e = await failure(() => openCryptoParams(p, secret), "integrity", what);
    assert(e.message.startsWith("relay header has invalid encryption parameters"), e.message);
  }
  await failure(
    () => openCryptoParams(null as unknown as CryptoParams, secret),
    "integrity",
    "null",
  );
});

Deno.test("an empty secret is a configuration error", async () => {
  await failure(() => createCryptoParams(new Uint8Array(0), CHEAP), "config", "empty");
});

Deno.test("keys never show up in JSON or in printed values", async () => {
  const { keys } = await createCryptoParams(enc("print me not"), CHEAP);
  assertEquals(JSON.stringify({ keys }), '{"keys":"[RelayKeys]"}', "JSON");
  assertEquals(Deno.inspect(keys), "RelayKeys { [hidden] }", "inspect");
  const salt = new Uint8Array(16);
  assertBytes(keys.objectKey(salt), keys.objectKey(salt), "object keys are deterministic");
});

Deno.test("costs outside the accepted range are refused when creating a relay", async () => {
  let err: unknown;
  await createCryptoParams(enc("x"), { memoryKiB: 1024 }).catch((e) => (err = e));
  assert(err instanceof RangeError, `expected a RangeError, got ${err}`);
});
