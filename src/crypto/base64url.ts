import { Buffer } from "node:buffer";

/** Unpadded base64url, the spelling of every key and salt escale stores or prints. */
export const base64url = {
  encode(bytes: Uint8Array): string {
    return Buffer.from(bytes).toString("base64url");
  },
  /** Strict: only the canonical spelling decodes, anything else gives null. */
  decode(s: unknown): Uint8Array | null {
    if (typeof s !== "string" || !/^[A-Za-z0-9_-]*$/.test(s)) return null;
    const bytes = new Uint8Array(Buffer.from(s, "base64url"));
    return Buffer.from(bytes).toString("base64url") === s ? bytes : null;
  },
};
