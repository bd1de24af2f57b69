import { ConfigError } from "../../errors/errors.ts";
import { splitHostPort } from "../address.ts";
import { resolvePassword } from "../secrets.ts";
import type { RelaySettings } from "../settings.ts";
import type { ParseContext } from "../value_types.ts";
import { ValueProblem } from "../value_problem.ts";

/** One parsed option of the section being resolved. */
export interface Setting<T = unknown> {
  value: T;
  /** interpolated text as written */
  raw: string;
  /** the key as the user wrote it, for messages */
  name: string;
  line: number;
}

/** The options of one section, as a backend's `resolve` sees them. */
export interface RelayInput {
  file: string;
  sectionLine: number;
  /** the option as written, undefined when the section does not set it */
  get<T>(key: string): Setting<T> | undefined;
  /** the option as written, else its default from the option table */
  value<T>(key: string): T | undefined;
  ctxAt(line: number): ParseContext;
  env(name: string): string | undefined;
}

/** What a backend's `resolve` returns: the settings without the common network ones. */
export type BackendSettings = Omit<RelaySettings, "timeoutSec" | "maxRetries">;

export function configError(input: RelayInput, message: string, line?: number): ConfigError {
  return new ConfigError(message, { file: input.file, line: line ?? input.sectionLine });
}

export function isLocalAbsolute(p: string): boolean {
  const t = p.trim();
  return t.startsWith("/") || t === "~" || t.startsWith("~/");
}

/** Remote path join: an absolute `dir` replaces the base; slashes are collapsed. */
export function joinRemote(base: string, dir: string): string {
  const d = dir.trim();
  const joined = d.startsWith("/") || base === "" ? d : d === "" ? base : `${base}/${d}`;
  const collapsed = joined.replace(/\/{2,}/g, "/");
  return collapsed.length > 1 ? collapsed.replace(/\/$/, "") : collapsed;
}

/** The path an option names, which must be an existing file. */
export function existingPath(input: RelayInput, key: string): string | undefined {
  const s = input.get<string>(key);
  if (!s) return undefined;
  try {
    if (Deno.statSync(s.value).isFile) return s.value;
  } catch {
    // reported below
  }
  throw configError(input, `'${s.name}': ${s.value} is not an existing file`, s.line);
}

/** User and password from `user` and `password` (which may name a credential file). */
export function credentials(
  input: RelayInput,
  user: string | undefined,
): { user?: string; password?: string } {
  const pw = input.get<string>("password");
  if (!pw) return { user };
  try {
    const r = resolvePassword(pw.value, user, input.ctxAt(pw.line));
    return { user: user ?? r.user, password: r.password };
  } catch (e) {
    if (e instanceof ValueProblem) throw configError(input, `'${pw.name}' ${e.message}`, pw.line);
    throw e;
  }
}

/** The TLS options every TLS backend shares. */
export function tlsSettings(input: RelayInput): Partial<RelaySettings> {
  const certFile = existingPath(input, "certfile");
  const keyFile = existingPath(input, "keyfile");
  if (keyFile && !certFile) {
    const k = input.get<string>("keyfile")!;
    throw configError(input, `'${k.name}' needs 'certfile' too`, k.line);
  }
  const out: Partial<RelaySettings> = { verifySsl: input.value<boolean>("verify ssl") };
  const caFile = existingPath(input, "ca file");
  if (caFile) out.caFile = caFile;
  if (certFile) out.certFile = certFile;
  if (keyFile) out.keyFile = keyFile;
  const ssl = input.get<string>("ssl version")?.value;
  if (ssl) out.sslVersion = ssl;
  return out;
}

/** `server[:port]` of a bare address, or a `file:line` error. */
export function hostPortAt(
  input: RelayInput,
  text: string,
  line: number,
): { host: string; port?: number } {
  try {
    const hp = splitHostPort(text);
    if (hp) return hp;
  } catch (e) {
    if (!(e instanceof ValueProblem)) throw e;
  }
  throw configError(input, "'host address' cannot be read as server[:port][/path]", line);
}
