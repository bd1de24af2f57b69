import { expandPath, type ParseContext } from "./value_types.ts";
import { ValueProblem } from "./value_problem.ts";

/**
 * Passwords and passphrases that may be written inline or kept in a file. Nothing here ever puts
 * a secret in a message: problems name the file and the user, never the content.
 */

/** Secret files are small; refusing big ones keeps a wrong path from being read into memory. */
const MAX_SECRET_FILE = 64 * 1024;

/** Characters that may end the user name on a `user<sep>password` line of a secret file. */
const SEPARATORS = new Set([":", " ", "\t", "=", ",", ";", "|"]);

export interface ResolvedPassword {
  password: string;
  /** set when the file's first line was `user:password` and no user was configured */
  user?: string;
  /** the secret file, when the value named one */
  file?: string;
}

function existingFile(raw: string, ctx: ParseContext): string | undefined {
  if (raw.trim() === "" || raw.includes("\n")) return undefined;
  const p = expandPath(raw, ctx);
  try {
    return Deno.statSync(p).isFile ? p : undefined;
  } catch {
    return undefined;
  }
}

function looksLikePath(raw: string): boolean {
  return /^(\/|~\/|\.\.?\/)/.test(raw.trim());
}

/** Warns when a file holding a secret can be read by other users of the machine. */
export function warnIfShared(file: string, what: string, ctx: ParseContext): void {
  const mode = Deno.statSync(file).mode;
  if (mode !== null && (mode & 0o077) !== 0) {
    ctx.warn(
      `${what} file ${file} is readable by other users (mode ${
        (mode & 0o777).toString(8)
      }); run chmod 600 on it`,
    );
  }
}

function readSmall(file: string): string {
  const size = Deno.statSync(file).size;
  if (size > MAX_SECRET_FILE) {
    throw new ValueProblem(`names ${file}, which is too large for a secret file (${size} bytes)`);
  }
  return new TextDecoder().decode(Deno.readFileSync(file));
}

/**
 * Escale's `password` / `secret file` rules: an existing file is read, otherwise the value is the
 * password. In a file, with a user configured, a one-line file is the password and a longer one
 * is searched for the line `user<separator>password`; without a user, the first line is
 * `user:password`.
 */
export function resolvePassword(
  raw: string,
  user: string | undefined,
  ctx: ParseContext,
): ResolvedPassword {
  const file = existingFile(raw, ctx);
  if (!file) {
    if (looksLikePath(raw)) {
      ctx.warn("the password looks like a file path but no such file exists; it is used as is");
    }
    return { password: raw };
  }
  warnIfShared(file, "secret", ctx);
  const lines = readSmall(file).split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  if (lines.length === 0) throw new ValueProblem(`names the empty secret file ${file}`);
  if (user !== undefined) {
    if (lines.length === 1) return { password: lines[0], file };
    for (const line of lines) {
      if (line.startsWith(user) && SEPARATORS.has(line.charAt(user.length))) {
        return { password: line.slice(user.length + 1), file };
      }
    }
    throw new ValueProblem(`names secret file ${file}, which has no line for user '${user}'`);
  }
  const colon = lines[0].indexOf(":");
  if (colon <= 0) {
    throw new ValueProblem(
      `names secret file ${file}, whose first line must be user:password when no 'user' is set`,
    );
  }
  return { user: lines[0].slice(0, colon), password: lines[0].slice(colon + 1), file };
}

/**
 * `passphrase` / `key`: both the text as written and, when it names an existing file, that file.
 * The crypto layer decides how to turn either into key material.
 */
export function resolvePassphrase(
  raw: string,
  ctx: ParseContext,
): { value: string; file?: string } {
  const file = existingFile(raw, ctx);
  if (file) {
    warnIfShared(file, "passphrase", ctx);
    return { value: raw, file };
  }
  if (looksLikePath(raw)) {
    // A mistyped key path would otherwise silently become a weak passphrase.
    ctx.warn(
      "the passphrase looks like a file path but no such file exists; it is used as the " +
        "passphrase itself",
    );
  }
  return { value: raw };
}
