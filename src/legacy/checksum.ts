import { createHash, type Hash } from "node:crypto";
import { localIoError } from "../errors/errors.ts";

/**
 * The hashlib algorithms Escale 0.7's `checksum` option can name (any `hashlib.new` accepts
 * whose `hexdigest()` takes no length), by the length of their hex digest, as node:crypto names
 * them. A placeholder or index does not say which one its pusher used, and several share a
 * length (sha512, sha3_512 and blake2b all give 128 digits), so the length only narrows it.
 */
const CANDIDATES: Record<number, string[]> = {
  128: ["sha512", "sha3-512", "blake2b512"],
  96: ["sha384", "sha3-384"],
  64: ["sha256", "sha3-256", "blake2s256", "sha512-256"],
  56: ["sha224", "sha3-224", "sha512-224"],
  40: ["sha1", "ripemd160"],
  32: ["md5"],
};

/** The algorithm that matched last, per digest length: a relay's pushers rarely differ. */
const lastMatched = new Map<number, string>();

/**
 * Checks a received file against the checksum a Python pusher recorded. The bytes are hashed
 * with the likeliest algorithm while they are written; only when that one does not match is the
 * written file hashed again with the other candidates of that length (so the common case costs
 * one hash, and `checksum = blake2b` on the Python side is still accepted).
 */
export class LegacyChecksum {
  readonly #expected?: string;
  readonly #candidates: string[];
  readonly #hash?: Hash;

  /** `expected` undefined (Escale's `checksum = no`) or of no known length: nothing to check. */
  constructor(expected: string | undefined) {
    this.#expected = expected?.toLowerCase();
    const all = expected === undefined ? [] : CANDIDATES[expected.length] ?? [];
    const first = lastMatched.get(expected?.length ?? 0) ?? all[0];
    this.#candidates = first === undefined ? [] : [first, ...all.filter((a) => a !== first)];
    if (first !== undefined) this.#hash = createHash(first);
  }

  update(chunk: Uint8Array): void {
    this.#hash?.update(chunk);
  }

  /** Whether the bytes given to `update`, also written to `written`, match the checksum. */
  async matches(written: string): Promise<boolean> {
    if (!this.#hash || this.#expected === undefined) return true;
    if (this.#hash.digest("hex") === this.#expected) return true;
    for (const algorithm of this.#candidates.slice(1)) {
      if ((await hashOf(written, algorithm)) === this.#expected) {
        lastMatched.set(this.#expected.length, algorithm);
        return true;
      }
    }
    return false;
  }
}

async function hashOf(abs: string, algorithm: string): Promise<string> {
  const h = createHash(algorithm);
  try {
    // The readable closes the file when it ends or fails.
    const file = await Deno.open(abs, { read: true });
    for await (const chunk of file.readable) h.update(chunk);
  } catch (e) {
    throw localIoError(e, `reading ${abs}`);
  }
  return h.digest("hex");
}
