import { assert, assertBytes, assertEquals } from "../assert.ts";
import { createCipheriv, createDecipheriv, createHash } from "node:crypto";
import { EncryptedRelay } from "../../src/crypto/encrypted_relay.ts";
import {
  createCryptoParams,
  type CryptoParams,
  openCryptoParams,
} from "../../src/crypto/key_params.ts";
import {
  cipherSize,
  HEADER_SIZE,
  plainSize,
  SegmentCipher,
  TAG_SIZE,
} from "../../src/crypto/segment_cipher.ts";
import { MemoryRelay } from "../../src/relay/memory_relay.ts";
import { collect } from "../../src/util/streams.ts";
import { CHEAP, pattern } from "./helpers.ts";

const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((h) => parseInt(h, 16)));
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("node:crypto chacha20-poly1305 matches RFC 8439 §2.8.2", () => {
  const key = hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
  const nonce = hex("070000004041424344454647");
  const aad = hex("50515253c0c1c2c3c4c5c6c7");
  const plain = enc(
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the " +
      "future, sunscreen would be it.",
  );
  const c = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
  c.setAAD(aad, { plaintextLength: plain.length });
  const ct = new Uint8Array(c.update(plain));
  c.final();
  assertEquals(
    toHex(ct),
    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b" +
      "1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc" +
      "3ff4def08e4b7a9de576d26586cec64b6116",
    "ciphertext",
  );
  assertEquals(toHex(new Uint8Array(c.getAuthTag())), "1ae10b594f09e26a7e902ecbd0600691", "tag");
  const d = createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
  d.setAAD(aad, { plaintextLength: ct.length });
  d.setAuthTag(hex("1ae10b594f09e26a7e902ecbd0600692"));
  d.update(ct);
  let refused = false;
  try {
    d.final();
  } catch {
    refused = true;
  }
  assert(refused, "a wrong tag was accepted");
});

Deno.test("sealed sizes and plaintext sizes are inverse; impossible sizes are recognised", () => {
  for (const s of [1024, 65536]) {
    for (const p of [0, 1, s - 1, s, s + 1, 2 * s, 10 * s + 7]) {
      assertEquals(plainSize(cipherSize(p, s), s), p, `size ${p} / segment ${s}`);
    }
    let valid = 0;
    for (let c = 0; c < HEADER_SIZE + 3 * (s + TAG_SIZE); c++) {
      const p = plainSize(c, s);
      if (p !== null) {
        valid++;
        assertEquals(cipherSize(p, s), c, `sealed size ${c}`);
      }
    }
    assertEquals(valid, 3 * s, `number of possible sealed sizes below 3 segments (segment ${s})`);
  }
  assertEquals(plainSize(HEADER_SIZE + 15, 1024), null, "shorter than one tag");
  assertEquals(plainSize(HEADER_SIZE + 1024 + TAG_SIZE, 1024), null, "no final segment");
});

/** The vectors of docs/crypto.md §7, computed by tests/crypto/reference_impl.py. */
const VECTOR_PARAMS: CryptoParams = {
  version: 1,
  kdf: {
    algorithm: "argon2id",
    version: 19,
    memoryKiB: 8192,
    iterations: 1,
    parallelism: 1,
    salt: "AAECAwQFBgcICQoLDA0ODw",
  },
  cipher: "chacha20-poly1305",
  segmentSize: 1024,
  check: "AImAG60nSI-WsNSryZyf4fLFKYremTHP-0vw-iEyZy0",
};
const VECTOR_SHA256 = "2106159a4265d989e633fc10e45f2702adb8961d61c1d26753b14ff4f29486f0";

Deno.test("the test vectors of docs/crypto.md", async () => {
  const keys = await openCryptoParams(VECTOR_PARAMS, enc("escale test vector"));
  const header = hex("01" + "101112131415161718191a1b1c1d1e1f" + "20212223242526");
  const plain = Uint8Array.from({ length: 2100 }, (_, i) => i % 251);
  const cipher = SegmentCipher.fromHeader(keys, "data/ab12", header)!;
  const sealed = new Uint8Array(cipherSize(plain.length, 1024));
  sealed.set(header);
  const n = Math.floor(plain.length / 1024);
  for (let i = 0; i <= n; i++) {
    const part = plain.subarray(i * 1024, i < n ? (i + 1) * 1024 : plain.length);
    cipher.sealInto(i, i === n, part, sealed, HEADER_SIZE + i * (1024 + TAG_SIZE));
  }
  assertEquals(sealed.length, 2172, "sealed size");
  assertEquals(createHash("sha256").update(sealed).digest("hex"), VECTOR_SHA256, "sealed bytes");
  const inner = new MemoryRelay();
  await inner.write("data/ab12", sealed);
  const got = await collect(await new EncryptedRelay(inner, keys).read("data/ab12"));
  assertBytes(got, plain, "EncryptedRelay opens the vector");
});

const PY = "tests/crypto/reference_impl.py";
const hasPython = (() => {
  try {
    const r = new Deno.Command("python3", {
      args: ["-c", "import cryptography.hazmat.primitives.kdf.argon2"],
      stdout: "null",
      stderr: "null",
    }).outputSync();
    return r.success;
  } catch {
    return false;
  }
})();

async function py(...args: string[]): Promise<{ code: number; out: string }> {
  const r = await new Deno.Command("python3", { args: [PY, ...args], stderr: "inherit" }).output();
  return { code: r.code, out: new TextDecoder().decode(r.stdout) };
}

Deno.test({
  name: "the Python reference implementation of docs/crypto.md interoperates both ways",
  ignore: !hasPython,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const vectors = JSON.parse((await py("vectors")).out);
      assertEquals(JSON.stringify(vectors.params), JSON.stringify(VECTOR_PARAMS), "vector params");
      assertEquals(vectors.sealedSha256, VECTOR_SHA256, "vector digest");

      const secret = "pässwörd with spaces";
      const { params, keys } = await createCryptoParams(enc(secret), {
        ...CHEAP,
        segmentSize: 1024,
      });
      await Deno.writeTextFile(`${dir}/params.json`, JSON.stringify(params));
      await Deno.writeTextFile(`${dir}/secret`, secret + "\n", { mode: 0o600 });
      await Deno.writeTextFile(`${dir}/wrong`, "not it\n", { mode: 0o600 });
      const inner = new MemoryRelay();
      const relay = new EncryptedRelay(inner, keys);
      for (const n of [0, 1, 1024, 5000]) {
        const key = `data/py-${n}`;
        const data = pattern(n, n);
        await relay.write(key, data);
        await Deno.writeFile(`${dir}/sealed`, inner.objects.get(key)!.data);
        const opened = await py(
          "open",
          `${dir}/params.json`,
          `${dir}/secret`,
          key,
          `${dir}/sealed`,
          `${dir}/plain`,
        );
        assertEquals(opened.code, 0, `python opens ${n} bytes`);
        assertBytes(await Deno.readFile(`${dir}/plain`), data, `python's plaintext of ${n} bytes`);
        const moved = await py(
          "open",
          `${dir}/params.json`,
          `${dir}/secret`,
          "data/other",
          `${dir}/sealed`,
          `${dir}/plain`,
        );
        assertEquals(moved.code, 3, `python refuses ${n} bytes under another key`);

        await Deno.writeFile(`${dir}/plain`, data);
        const sealed = await py(
          "seal",
          `${dir}/params.json`,
          `${dir}/secret`,
          key,
          `${dir}/plain`,
          `${dir}/sealed`,
        );
        assertEquals(sealed.code, 0, "python seals");
        await inner.write(key, await Deno.readFile(`${dir}/sealed`));
        assertBytes(await collect(await relay.read(key)), data, `escale opens python's ${n} bytes`);
      }
      const wrong = await py("keys", `${dir}/params.json`, `${dir}/wrong`);
      assertEquals(wrong.code, 4, "python refuses the wrong secret");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
