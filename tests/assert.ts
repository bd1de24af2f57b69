import { EscaleError } from "../src/errors/errors.ts";

/** Minimal assertions (JSR's @std/assert is unreachable from here). */
export function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new Error(msg);
}

export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  const a = JSON.stringify(actual, null, 1);
  const e = JSON.stringify(expected, null, 1);
  if (a !== e) throw new Error(`${msg ? msg + ": " : ""}expected\n${e}\ngot\n${a}`);
}

export async function assertRejects(
  fn: () => Promise<unknown>,
  check?: (e: unknown) => boolean,
  msg?: string,
): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    if (check && !check(e)) throw new Error(`${msg ?? "rejected with an unexpected error"}: ${e}`);
    return e;
  }
  throw new Error(msg ?? "expected a rejection");
}

/** Awaits a promise that must fail with an EscaleError, and returns that error. */
export async function failure(p: Promise<unknown>): Promise<EscaleError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof EscaleError) return e;
    throw new Error(`expected an EscaleError, got ${e}`);
  }
  throw new Error("expected a failure, got success");
}
