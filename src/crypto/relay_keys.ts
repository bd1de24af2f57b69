import { hkdfSync } from "node:crypto";

/** HKDF info string for the per-object subkeys (docs/crypto.md §4). */
const OBJECT_INFO = "escale v1 object";

/**
 * The keys of one encrypted relay, as derived by `openCryptoParams`. The content key stays in a
 * private field and the object refuses to serialise or print itself, so that a stray
 * `console.log` or `JSON.stringify` of a config object can never leak it.
 */
export class RelayKeys {
  readonly #content: Uint8Array;
  /** plaintext bytes per sealed segment, fixed for the whole relay */
  readonly segmentSize: number;

  constructor(contentKey: Uint8Array, segmentSize: number) {
    if (contentKey.length !== 32) throw new Error("the content key must be 32 bytes");
    this.#content = contentKey.slice();
    this.segmentSize = segmentSize;
  }

  /**
   * The AEAD key of one object, from its random salt. A fresh key per object means nonces only
   * need to be unique within an object, so they can simply count segments.
   */
  objectKey(salt: Uint8Array): Uint8Array {
    return new Uint8Array(hkdfSync("sha256", this.#content, salt, OBJECT_INFO, 32));
  }

  toJSON(): string {
    return "[RelayKeys]";
  }

  [Symbol.for("Deno.customInspect")](): string {
    return "RelayKeys { [hidden] }";
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return "RelayKeys { [hidden] }";
  }
}
