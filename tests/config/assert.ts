import { ConfigError, EscaleError } from "../../src/errors/errors.ts";

/** Small assertion helpers for the configuration tests (there is no @std/assert here). */

function canon(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (x instanceof Map ? Object.fromEntries(x) : x));
}

export function assertEquals(actual: unknown, expected: unknown, what = "value"): void {
  const a = canon(actual);
  const e = canon(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

export function assert(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Error(message);
}

/** Runs `fn` and checks it fails with a ConfigError (kind config, exit 2) at `file:line`. */
export async function assertConfigError(
  fn: () => unknown,
  expect: { file?: string; line?: number; includes?: string },
): Promise<ConfigError> {
  let err: unknown;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  if (!(err instanceof ConfigError)) {
    throw new Error(`expected a ConfigError, got ${err instanceof Error ? err.stack : err}`);
  }
  if (!(err instanceof EscaleError) || err.kind !== "config" || err.exitCode !== 2) {
    throw new Error(`wrong kind or exit code: ${err.kind} ${err.exitCode}`);
  }
  if (expect.file !== undefined) {
    const prefix = expect.line !== undefined ? `${expect.file}:${expect.line}: ` : `${expect.file}`;
    if (!err.message.startsWith(prefix)) {
      throw new Error(`expected message to start with '${prefix}', got '${err.message}'`);
    }
  }
  if (expect.file === undefined && expect.line !== undefined) {
    if (!new RegExp(`^[^ ]*:${expect.line}: `).test(err.message)) {
      throw new Error(`expected line ${expect.line}, got '${err.message}'`);
    }
  }
  if (expect.includes !== undefined && !err.message.includes(expect.includes)) {
    throw new Error(`expected message to include '${expect.includes}', got '${err.message}'`);
  }
  if (err.message.includes("\n")) throw new Error(`message is not one line: ${err.message}`);
  return err;
}
