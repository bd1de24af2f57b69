import { EscaleError } from "../../src/errors/errors.ts";
import { createCryptoParams } from "../../src/crypto/key_params.ts";
import type { RelayKeys } from "../../src/crypto/relay_keys.ts";

/** Small assertion helpers for the crypto tests (there is no @std/assert: JSR is unreachable). */
export function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(msg);
}

export function assertEquals<T>(got: T, want: T, what: string): void {
  if (got !== want) throw new Error(`${what}: got ${String(got)}, want ${String(want)}`);
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function assertBytes(got: Uint8Array, want: Uint8Array, what: string): void {
  if (!sameBytes(got, want)) {
    let i = 0;
    while (i < Math.min(got.length, want.length) && got[i] === want[i]) i++;
    throw new Error(`${what}: ${got.length} bytes vs ${want.length}, first difference at ${i}`);
  }
}

/** Runs `fn` and returns the EscaleError it throws; fails when it succeeds or throws another. */
export async function expectError(
  fn: () => Promise<unknown>,
  kind: string,
  what: string,
): Promise<EscaleError> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof EscaleError && e.kind === kind) return e;
    throw new Error(`${what}: expected a "${kind}" error, got ${e}`);
  }
  throw new Error(`${what}: expected a "${kind}" error, got success`);
}

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
