import { ConfigError, EscaleError } from "../src/errors/errors.ts";

/** The assertions every test uses (JSR's @std/assert is unreachable from here). */
export function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new Error(msg);
}

// Maps and Sets have no JSON form of their own: compare their entries.
function canon(v: unknown): string | undefined {
  return JSON.stringify(
    v,
    (_k, x) => (x instanceof Map ? Object.fromEntries(x) : x instanceof Set ? [...x] : x),
    1,
  );
}

/** Primitives compare with ===, anything else by its JSON form. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  const object = (v: unknown) => typeof v === "object" && v !== null;
  if (!object(actual) && !object(expected)) {
    if (actual === expected || (Number.isNaN(actual) && Number.isNaN(expected))) return;
    throw new Error(`${msg ? msg + ": " : ""}expected ${String(expected)}, got ${String(actual)}`);
  }
  const a = canon(actual);
  const e = canon(expected);
  if (a !== e) throw new Error(`${msg ? msg + ": " : ""}expected\n${e}\ngot\n${a}`);
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

/** Runs `fn`, which must fail (with any error, passing `check` when given); returns the error. */
export async function assertRejects(
  fn: () => unknown,
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

/**
 * Awaits a promise (or runs a function) that must fail with an EscaleError, of `kind` when given,
 * and returns that error.
 */
export async function failure(
  p: Promise<unknown> | (() => unknown),
  kind?: string,
  what?: string,
): Promise<EscaleError> {
  const prefix = what ? `${what}: ` : "";
  const wanted = kind ? `a "${kind}" error` : "an EscaleError";
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    if (e instanceof EscaleError && (kind === undefined || e.kind === kind)) return e;
    throw new Error(`${prefix}expected ${wanted}, got ${e}`);
  }
  throw new Error(`${prefix}expected ${wanted}, got success`);
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

/**
 * Awaits `p`, failing if it has not settled after `ms`: a guard against hangs (a timeout that
 * never fires, a child that is never stopped), with a margin of many times the expected time so
 * that load cannot trip it. It is not a speed assertion.
 */
export async function settlesWithin<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still running after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, hang]);
  } finally {
    clearTimeout(timer);
  }
}
