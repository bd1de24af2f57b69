import { type ErrorKind, RelayError } from "../../errors/errors.ts";
import { trackChild } from "../../util/child_processes.ts";
import { rcloneConfigEnv } from "./rclone_remote.ts";
import { command } from "../../util/spawn.ts";

/** What every rclone invocation of one relay shares. */
export interface RcloneSetup {
  binary: string;
  /** the config file passed with --config ("/dev/null" when rclone keeps it in memory) */
  configFile: string;
  /** added to the inherited environment (remotes from RCLONE_CONFIG_<NAME>_* live here) */
  env: Record<string, string>;
  timeoutMs: number;
  /** prefix of every message (never holds a secret) */
  label: string;
  /** remote name for messages about missing remotes, without the ':' */
  remoteName: string;
  /** the name rclone knows a connection-string remote by, and how messages show it */
  alias?: { internal: string; shown: string };
  /** values scrubbed from any text shown to the user */
  secrets: string[];
}

/** Most stderr kept per call: the end, where rclone says why it failed. */
const STDERR_TAIL = 16 * 1024;

/** Flags every call gets: our retries live above the relay, so rclone tries once. */
export function commonArgs(s: RcloneSetup): string[] {
  return [
    "--config",
    s.configFile,
    "--retries",
    "1",
    "--contimeout",
    `${s.timeoutMs}ms`,
    "--timeout",
    `${s.timeoutMs}ms`,
  ];
}

/**
 * Starts rclone; a missing binary is a configuration error, not a crash. Every child is
 * registered (trackChild) so that a run that must end at once can still stop it.
 */
export function spawnRclone(
  s: RcloneSetup,
  args: string[],
  stdin: "piped" | "null" = "null",
): Deno.ChildProcess {
  try {
    return trackChild(
      command(s.binary, {
        args,
        env: s.env,
        stdin,
        stdout: "piped",
        stderr: "piped",
      }).spawn(),
    );
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new RelayError("config", `${s.label}: the rclone binary "${s.binary}" was not found`);
    }
    throw new RelayError(
      "config",
      `${s.label}: cannot run rclone binary "${s.binary}": ${e instanceof Error ? e.message : e}`,
    );
  }
}

/** Reads a stream to its end, keeping only the last `STDERR_TAIL` bytes as text. */
export async function stderrTail(stream: ReadableStream<Uint8Array>): Promise<string> {
  let tail = new Uint8Array(0);
  try {
    for await (const c of stream) {
      const merged = new Uint8Array(Math.min(STDERR_TAIL, tail.length + c.length));
      const keep = merged.length - Math.min(c.length, merged.length);
      merged.set(tail.subarray(tail.length - keep), 0);
      merged.set(c.subarray(c.length - (merged.length - keep)), keep);
      tail = merged;
    }
  } catch {
    // A killed child may break the pipe; what we have is enough.
  }
  return new TextDecoder().decode(tail);
}

export interface RcloneResult {
  code: number;
  stdout: Uint8Array;
  stderr: string;
}

/**
 * Runs one short rclone command, draining stdout (at most `limit` bytes) and stderr together so
 * that the child never blocks on a full pipe; killed after `3 × timeoutMs` (rclone's own
 * --timeout normally fires first). `common: false` leaves out `commonArgs` (and so --config).
 */
export async function runRclone(
  s: RcloneSetup,
  args: string[],
  what: string,
  opts: { limit?: number; common?: boolean } = {},
): Promise<RcloneResult> {
  const limit = opts.limit ?? 16 * 1024 * 1024;
  const child = spawnRclone(s, opts.common === false ? args : [...commonArgs(s), ...args]);
  let timedOut = false;
  let tooBig = false;
  const timer = setTimeout(() => {
    timedOut = true;
    kill(child);
  }, 3 * s.timeoutMs);
  try {
    const [stdout, stderr, status] = await Promise.all([
      (async () => {
        const parts: Uint8Array[] = [];
        let total = 0;
        for await (const c of child.stdout) {
          total += c.length;
          if (total > limit) {
            tooBig = true;
            kill(child);
            break;
          }
          parts.push(c);
        }
        const out = new Uint8Array(Math.min(total, limit));
        let off = 0;
        for (const p of parts) {
          out.set(p, off);
          off += p.length;
        }
        return out;
      })(),
      stderrTail(child.stderr),
      child.status,
    ]);
    if (timedOut) {
      throw new RelayError("transient", `${s.label}: ${what}: rclone did not finish in time`);
    }
    if (tooBig) {
      throw new RelayError("permanent", `${s.label}: ${what}: rclone's answer is too long`);
    }
    return { code: status.code, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

export function kill(child: Deno.ChildProcess, signal: Deno.Signal = "SIGTERM"): void {
  try {
    child.kill(signal);
  } catch {
    // already gone
  }
}

/** The line of rclone's stderr that says why it failed, without the timestamp. */
export function reason(stderr: string): string {
  const lines = stderr.split("\n")
    .map((l) => l.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, "").trim())
    .filter((l) => l && !l.startsWith("NOTICE:"));
  const line = [...lines].reverse().find((l) => l.startsWith("Failed to")) ??
    [...lines].reverse().find((l) => l.startsWith("ERROR")) ?? lines.at(-1) ?? "";
  return line.length > 300 ? line.slice(0, 300) + "…" : line;
}

/**
 * Maps an rclone failure (exit code or rc status, and its message) to our error kinds. Exit
 * codes 3 and 4 are "directory/file not found", 5 is "temporary"; the rest comes from the text,
 * which names the backend's own failure (an FTP 530, an HTTP 401, a full quota).
 */
export function rcloneError(
  s: RcloneSetup,
  what: string,
  key: string | undefined,
  code: number | null,
  text: string,
): RelayError {
  let shown = scrub(text || `rclone exited with code ${code}`, s.secrets);
  if (s.alias) shown = shown.split(s.alias.internal).join(s.alias.shown);
  if (/didn't find section in config file/i.test(text)) {
    const env = rcloneConfigEnv(s.remoteName, "type");
    return new RelayError(
      "config",
      `${s.label}: rclone remote "${s.remoteName}" is not configured (not in ${s.configFile}, ` +
        `and no ${env} environment variable); create it with "rclone config"`,
      key,
    );
  }
  return new RelayError(kindOf(code, text), `${s.label}: ${what}: ${shown}`, key);
}

function kindOf(code: number | null, text: string): ErrorKind {
  if (/is it obscured|decrypt password|unknown backend|couldn't find backend/i.test(text)) {
    return "config";
  }
  if (
    /\b530\b|login incorrect|unauthori[sz]ed|\b401\b|authenticat|invalid_grant|invalid credentials|InvalidAccessKeyId|SignatureDoesNotMatch/i
      .test(text)
  ) return "auth";
  if (/quota|insufficient storage|no space left|\b552\b|\b507\b/i.test(text)) return "space";
  if (/permission denied|\b403\b|forbidden|access denied/i.test(text)) return "permission";
  if (code === 3 || code === 4 || /not found|doesn't exist|no such file/i.test(text)) {
    return "not-found";
  }
  if (
    code === 5 ||
    /time ?out|timed out|connection refused|connection reset|no such host|broken pipe|unexpected EOF|temporar|\b50[234]\b|\b429\b|too many requests|network is unreachable/i
      .test(text)
  ) return "transient";
  return "permanent";
}

/** Replaces every secret in `s` by "***". */
export function scrub(s: string, secrets: string[]): string {
  let out = s;
  // Very short values would blank out ordinary words.
  for (const x of secrets) if (x.length >= 3) out = out.split(x).join("***");
  return out;
}
