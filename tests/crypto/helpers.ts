import { createCryptoParams } from "../../src/crypto/key_params.ts";
import type { RelayKeys } from "../../src/crypto/relay_keys.ts";

/** Deterministic pseudo-random bytes, so failures are reproducible. */
export function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** The cheapest KDF the parameter checks allow: tests derive keys often. */
export const CHEAP = { memoryKiB: 8 * 1024, iterations: 1 };

let shared: Promise<RelayKeys> | undefined;
/** One set of keys for all tests that do not care which (one KDF run per test file). */
export function testKeys(): Promise<RelayKeys> {
  shared ??= createCryptoParams(new TextEncoder().encode("test passphrase"), CHEAP).then((r) =>
    r.keys
  );
  return shared;
}
