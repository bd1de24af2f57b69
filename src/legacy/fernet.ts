import { Buffer } from "node:buffer";
import { createCipheriv, createDecipheriv, createHmac, timingSafeEqual } from "node:crypto";
import { EscaleError } from "../errors/errors.ts";

/**
 * Fernet (the token format of Python's `cryptography.fernet`, which Escale 0.7 uses for
 * `encryption = fernet`): version byte 0x80, 8-byte big-endian time, 16-byte IV, AES-128-CBC
 * with PKCS#7 padding, HMAC-SHA256 over all of that; the token is base64url text with padding.
 * The key is 32 bytes in url-safe base64: the first half signs, the second encrypts.
 */
export class Fernet {
  readonly #sign: Uint8Array;
  readonly #enc: Uint8Array;

  private constructor(key: Uint8Array) {
    this.#sign = key.subarray(0, 16);
    this.#enc = key.subarray(16, 32);
  }

  /**
   * From the bytes of Escale's `passphrase` (a key file's content or the value itself), as
   * Python decodes them: url-safe base64 of exactly 32 bytes, surrounding whitespace ignored.
   */
  static fromKeyText(secret: Uint8Array): Fernet {
    const text = new TextDecoder().decode(secret).trim();
    const key = /^[A-Za-z0-9_-]{43}=?$/.test(text)
      ? new Uint8Array(Buffer.from(text, "base64url"))
      : null;
    if (!key || key.length !== 32) {
      throw new EscaleError(
        "key",
        "the Fernet key must be 32 bytes in url-safe base64 (the content of Escale's key file)",
      );
    }
    return new Fernet(key);
  }

  encrypt(plain: Uint8Array, nowSec = Math.floor(Date.now() / 1000)): Uint8Array {
    const iv = crypto.getRandomValues(new Uint8Array(16));
    const c = createCipheriv("aes-128-cbc", this.#enc, iv);
    const body = Buffer.concat([c.update(plain), c.final()]);
    const head = new Uint8Array(25);
    head[0] = 0x80;
    new DataView(head.buffer).setBigUint64(1, BigInt(nowSec));
    head.set(iv, 9);
    const signed = Buffer.concat([head, body]);
    const mac = createHmac("sha256", this.#sign).update(signed).digest();
    return new TextEncoder().encode(
      Buffer.concat([signed, mac]).toString("base64url") + pad(signed.length + 32),
    );
  }

  /** The plaintext of a token; a wrong key or a damaged token is a "key" / "integrity" error. */
  decrypt(token: Uint8Array, where: string): Uint8Array {
    const text = new TextDecoder().decode(token).trim();
    const raw = /^[A-Za-z0-9_-]*={0,2}$/.test(text)
      ? new Uint8Array(Buffer.from(text.replace(/=+$/, ""), "base64url"))
      : new Uint8Array();
    if (raw.length < 57 || raw[0] !== 0x80 || (raw.length - 57) % 16 !== 0) {
      throw new EscaleError("integrity", `${where}: not a Fernet token`);
    }
    const signed = raw.subarray(0, raw.length - 32);
    const mac = createHmac("sha256", this.#sign).update(signed).digest();
    if (!timingSafeEqual(mac, raw.subarray(raw.length - 32))) {
      throw new EscaleError(
        "key",
        `${where}: the Fernet key does not match (or the file was altered on the relay)`,
      );
    }
    try {
      const d = createDecipheriv("aes-128-cbc", this.#enc, signed.subarray(9, 25));
      return new Uint8Array(Buffer.concat([d.update(signed.subarray(25)), d.final()]));
    } catch {
      throw new EscaleError("integrity", `${where}: a Fernet token with bad padding`);
    }
  }
}

/** Python's base64.urlsafe_b64encode pads with "=". */
function pad(n: number): string {
  return "=".repeat((3 - (n % 3)) % 3);
}
