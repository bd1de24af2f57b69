import { createCipheriv, createDecipheriv } from "node:crypto";
import type { RelayKeys } from "./relay_keys.ts";

/**
 * The sealed object format (docs/crypto.md §4):
 *
 *   header (24 bytes) = version (1) || salt (16) || nonce prefix (7)
 *   then segments 0..n, each = ciphertext || tag (16); every segment but the last holds exactly
 *   `segmentSize` plaintext bytes, the last (the "final" segment) holds 0..segmentSize-1 bytes.
 *
 * Making the final segment always shorter than a full one (an empty final segment follows a
 * plaintext that is a multiple of the segment size) means a writer can seal every full segment
 * as soon as it has it, and a reader knows from a segment's length alone whether it is final.
 */
export const FORMAT_VERSION = 1;
export const HEADER_SIZE = 24;
export const TAG_SIZE = 16;
const SALT_SIZE = 16;
const PREFIX_SIZE = 7;
const MAX_SEGMENTS = 2 ** 32;
const ALGORITHM = "chacha20-poly1305";

/** Size of the sealed object for `plain` plaintext bytes. */
export function cipherSize(plain: number, segmentSize: number): number {
  return HEADER_SIZE + plain + TAG_SIZE * (Math.floor(plain / segmentSize) + 1);
}

/** Plaintext size of a sealed object of `cipher` bytes, or null when no plaintext gives it. */
export function plainSize(cipher: number, segmentSize: number): number | null {
  const body = cipher - HEADER_SIZE;
  if (!Number.isSafeInteger(cipher) || body < TAG_SIZE) return null;
  const full = Math.floor(body / (segmentSize + TAG_SIZE));
  const rest = body - full * (segmentSize + TAG_SIZE);
  if (rest < TAG_SIZE) return null;
  return full * segmentSize + rest - TAG_SIZE;
}

/** Seals and opens the segments of one relay object. */
export class SegmentCipher {
  readonly header: Uint8Array;
  readonly #key: Uint8Array;
  readonly #objectKey: Uint8Array;

  private constructor(header: Uint8Array, key: Uint8Array, objectKey: string) {
    this.header = header;
    this.#key = key;
    this.#objectKey = new TextEncoder().encode(objectKey);
  }

  /** A cipher for a new object, with a fresh random header. */
  static create(keys: RelayKeys, objectKey: string): SegmentCipher {
    const header = new Uint8Array(HEADER_SIZE);
    header[0] = FORMAT_VERSION;
    crypto.getRandomValues(header.subarray(1));
    return new SegmentCipher(header, keys.objectKey(header.subarray(1, 1 + SALT_SIZE)), objectKey);
  }

  /** The cipher of an existing object, or null when its header is not one we can read. */
  static fromHeader(keys: RelayKeys, objectKey: string, header: Uint8Array): SegmentCipher | null {
    if (header.length !== HEADER_SIZE || header[0] !== FORMAT_VERSION) return null;
    const h = header.slice();
    return new SegmentCipher(h, keys.objectKey(h.subarray(1, 1 + SALT_SIZE)), objectKey);
  }

  #nonce(index: number, final: boolean): Uint8Array {
    if (!Number.isInteger(index) || index < 0 || index >= MAX_SEGMENTS) {
      throw new RangeError(`segment index ${index} is out of range`);
    }
    const n = new Uint8Array(12);
    n.set(this.header.subarray(1 + SALT_SIZE), 0);
    new DataView(n.buffer).setUint32(PREFIX_SIZE, index);
    n[11] = final ? 1 : 0;
    return n;
  }

  /** AAD = version || final flag || segment index (u32 BE) || UTF-8 object key. */
  #aad(index: number, final: boolean): Uint8Array {
    const a = new Uint8Array(6 + this.#objectKey.length);
    a[0] = FORMAT_VERSION;
    a[1] = final ? 1 : 0;
    new DataView(a.buffer).setUint32(2, index);
    a.set(this.#objectKey, 6);
    return a;
  }

  /** Seals `plain` as segment `index` into `out` at `pos` (plain.length + TAG_SIZE bytes). */
  sealInto(index: number, final: boolean, plain: Uint8Array, out: Uint8Array, pos: number): void {
    const c = createCipheriv(ALGORITHM, this.#key, this.#nonce(index, final), {
      authTagLength: TAG_SIZE,
    });
    c.setAAD(this.#aad(index, final), { plaintextLength: plain.length });
    out.set(c.update(plain), pos);
    c.final();
    out.set(c.getAuthTag(), pos + plain.length);
  }

  /** The plaintext of a sealed segment, or null when it fails authentication. */
  open(index: number, final: boolean, sealed: Uint8Array): Uint8Array | null {
    if (sealed.length < TAG_SIZE) return null;
    const cut = sealed.length - TAG_SIZE;
    const d = createDecipheriv(ALGORITHM, this.#key, this.#nonce(index, final), {
      authTagLength: TAG_SIZE,
    });
    d.setAAD(this.#aad(index, final), { plaintextLength: cut });
    d.setAuthTag(sealed.subarray(cut));
    const plain = d.update(sealed.subarray(0, cut));
    try {
      d.final();
    } catch {
      return null;
    }
    // node Buffers may be views into a shared pool; hand out memory that belongs to the chunk.
    return plain.byteOffset === 0 && plain.byteLength === plain.buffer.byteLength
      ? plain
      : new Uint8Array(plain);
  }
}
