/**
 * The small set of typed errors escale uses everywhere, and the exit code each maps to.
 *
 * Every error that can reach the user is an `EscaleError`: its message is one line, already
 * phrased for the user (no stack trace is ever printed for it). Anything else that escapes is a
 * bug and is reported as an internal error with exit code 1.
 */

/** Exit codes are a contract for cron and CI; README.md and `escale --help` list them. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  unreachable: 3,
  auth: 4,
  key: 5,
  integrity: 6,
  safety: 7,
  space: 8,
  busy: 9,
  timeout: 10,
  moved: 11,
  interrupted: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export const EXIT_CODE_TABLE: ReadonlyArray<[number, string]> = [
  [ExitCode.ok, "success (every selected repository completed its round)"],
  [ExitCode.failure, "runtime failure (local I/O error, unexpected relay answer, internal error)"],
  [ExitCode.usage, "usage or configuration error (bad flag, bad config file, missing folder)"],
  [ExitCode.unreachable, "relay unreachable or still failing after retries (network, timeout)"],
  [ExitCode.auth, "authentication failed or permission denied on the relay"],
  [ExitCode.key, "wrong passphrase/key, or encryption setting does not match the relay"],
  [ExitCode.integrity, "relay data failed verification (tampered, truncated, hostile names)"],
  [
    ExitCode.safety,
    "safety stop: a round would delete too much, a restore into a relay in use, or a relay this client knew was wiped (--force)",
  ],
  [ExitCode.space, "relay or local disk out of space (server quota, disk full)"],
  [ExitCode.busy, "another escale process is already synchronising the repository"],
  [
    ExitCode.timeout,
    "--wait-delivered / --wait-for-changes: --timeout ended the wait (the message names who is missing)",
  ],
  [
    ExitCode.moved,
    "the relay was moved (escale migrate): point the configuration at its new address",
  ],
  [ExitCode.interrupted, "interrupted by a signal before the round completed"],
];

export type ErrorKind =
  | "usage"
  | "config"
  | "not-found"
  | "exists"
  | "permission"
  | "auth"
  | "space"
  | "transient"
  | "unreachable"
  | "permanent"
  | "key"
  | "integrity"
  | "hostile"
  | "safety"
  | "local-io"
  | "local-space"
  | "busy"
  | "timeout"
  | "moved"
  | "interrupted";

const KIND_EXIT: Record<ErrorKind, number> = {
  usage: ExitCode.usage,
  config: ExitCode.usage,
  "not-found": ExitCode.failure,
  exists: ExitCode.failure,
  permission: ExitCode.auth,
  auth: ExitCode.auth,
  space: ExitCode.space,
  transient: ExitCode.unreachable,
  unreachable: ExitCode.unreachable,
  permanent: ExitCode.failure,
  key: ExitCode.key,
  integrity: ExitCode.integrity,
  hostile: ExitCode.integrity,
  safety: ExitCode.safety,
  "local-io": ExitCode.failure,
  "local-space": ExitCode.space,
  busy: ExitCode.busy,
  timeout: ExitCode.timeout,
  moved: ExitCode.moved,
  interrupted: ExitCode.interrupted,
};

export class EscaleError extends Error {
  readonly kind: ErrorKind;
  /** a transient failure that was already retried as often as `max retries` allows, below the
   * retry layer (S3 parts): retrying it again would multiply the attempts */
  readonly retried: boolean;
  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown; retried?: boolean }) {
    super(message, options);
    this.kind = kind;
    this.retried = options?.retried ?? false;
    this.name = "EscaleError";
  }
  get exitCode(): number {
    return KIND_EXIT[this.kind];
  }
}

/** A configuration problem, located at `file:line` when it comes from a file. */
export class ConfigError extends EscaleError {
  /** the message without its location, and the location, so a loader can re-place it */
  readonly detail: string;
  readonly where?: { file: string; line?: number };
  constructor(message: string, where?: { file: string; line?: number }) {
    const loc = where ? `${where.file}${where.line ? `:${where.line}` : ""}: ` : "";
    super("config", loc + message);
    this.name = "ConfigError";
    this.detail = message;
    this.where = where;
  }
}

/** Errors raised by relay backends, already mapped to the shared kinds. */
export class RelayError extends EscaleError {
  readonly key?: string;
  constructor(
    kind: ErrorKind,
    message: string,
    key?: string,
    options?: { cause?: unknown; retried?: boolean },
  ) {
    super(kind, message, options);
    this.key = key;
    this.name = "RelayError";
  }
}

export function isKind(e: unknown, kind: ErrorKind): boolean {
  return e instanceof EscaleError && e.kind === kind;
}

/** Retrying helps only for these kinds, and only when it has not been done already. */
export function isTransient(e: unknown): boolean {
  return e instanceof EscaleError && (e.kind === "transient" || e.kind === "unreachable") &&
    !e.retried;
}

/** The one-line message shown to the user for any thrown value. */
export function describeError(e: unknown): string {
  if (e instanceof EscaleError) return oneLine(e.message);
  if (isLocalSpace(e)) return oneLine(localSpaceMessage("writing locally"));
  if (e instanceof Error) return "internal error: " + oneLine(`${e.name}: ${e.message}`);
  return "internal error: " + oneLine(String(e));
}

export function exitCodeOf(e: unknown): number {
  if (e instanceof EscaleError) return e.exitCode;
  return isLocalSpace(e) ? ExitCode.space : ExitCode.failure;
}

export function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " ").trim();
}

const LOCAL_SPACE =
  /No space left on device|Disk quota exceeded|\(os error (28|122)\)|database or disk is full/i;

/**
 * A full local disk or an exhausted quota, as Deno (`code` ENOSPC/EDQUOT, "(os error 28/122)"),
 * a worker that passed only the message on, or SQLite ("database or disk is full") report it.
 * Recognised even when the write was not wrapped by localIoError: the user must read "disk
 * full", not "internal error".
 */
export function isLocalSpace(e: unknown): boolean {
  if (!(e instanceof Error) || e instanceof EscaleError) return false;
  const code = (e as { code?: unknown }).code;
  if (code === "ENOSPC" || code === "EDQUOT") return true;
  return LOCAL_SPACE.test(e.message);
}

function localSpaceMessage(what: string): string {
  return `${what}: no space left on the local disk (or the disk quota is reached); ` +
    "free some space and run again";
}

/** Maps a Deno/Node file-system error to a local-io EscaleError with the path in the message. */
export function localIoError(e: unknown, what: string): EscaleError {
  if (e instanceof EscaleError) return e;
  if (isLocalSpace(e)) return new EscaleError("local-space", localSpaceMessage(what), { cause: e });
  const msg = e instanceof Error ? e.message.replace(/,? ?\(os error \d+\)/, "") : String(e);
  return new EscaleError("local-io", `${what}: ${msg}`, { cause: e });
}
