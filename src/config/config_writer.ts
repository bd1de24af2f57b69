import { basename, dirname, join } from "node:path";
import { ConfigError, EscaleError, localIoError } from "../errors/errors.ts";
import { DEFAULT_SECTION, normalizeKey, parseIni } from "./ini_parser.ts";
import { lookupOption } from "./options.ts";

/**
 * Adds or edits one section of a configuration file in place, the way a person would with an
 * editor: comments, blank lines, other sections, the global part and the keys of the section that
 * are not being changed all stay where they were. Escale's wizard rewrote the whole file through
 * configparser, which dropped every comment and the file's layout; this is the fix.
 *
 * The scanner below walks lines with the same rules as `parseIni` (comments, continuation lines,
 * section headers), and the text is always run through `parseIni` first, so the two never
 * disagree about where an entry starts and ends.
 */

/** What to change in one section. */
export interface SectionEdit {
  /** keys to set, in this order for a new section; a key matches any alias already written */
  set: ReadonlyArray<readonly [key: string, value: string]>;
  /** keys (any alias) to drop from the section unless `set` also names them */
  remove?: readonly string[];
}

export interface SectionWriteResult {
  /** the real path written (a symlinked configuration is written through to its target) */
  file: string;
  /** the file's text before the write, or null when it did not exist */
  previous: string | null;
  /** true when the section was added rather than edited */
  added: boolean;
}

/** A configuration file is small; the same bound as loadConfig keeps a wrong path harmless. */
const MAX_CONFIG_BYTES = 1024 * 1024;

const SECTION_RE = /^\[([\s\S]+)\]/;

interface Span {
  /** first and last line (0-based, inclusive) of an entry including its continuation lines */
  start: number;
  end: number;
  canonical: string;
}

interface ScannedSection {
  name: string;
  header: number;
  entries: Span[];
}

/** The option a key stands for, so that `relay path` and `host directory` are one key. */
function canonical(key: string): string {
  return lookupOption(key)?.key ?? normalizeKey(key);
}

function scan(lines: string[]): ScannedSection[] {
  const sections: ScannedSection[] = [];
  let current: ScannedSection | null = null;
  let entry: Span | null = null;
  let indentLevel = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const stripped = line.trim();
    if (stripped === "" || stripped.startsWith("#") || stripped.startsWith(";")) continue;
    const indent = line.search(/\S/);
    if (entry && indent > indentLevel) {
      entry.end = i;
      continue;
    }
    indentLevel = indent;
    const header = SECTION_RE.exec(stripped);
    if (header) {
      entry = null;
      const name = header[1].trim();
      current = name === DEFAULT_SECTION ? null : { name, header: i, entries: [] };
      if (current) sections.push(current);
      continue;
    }
    const sep = stripped.search(/[=:]/);
    entry = { start: i, end: i, canonical: canonical(stripped.slice(0, sep)) };
    if (current) current.entries.push(entry);
  }
  return sections;
}

/** Why a name cannot be a section of our own making, or undefined when it can. */
export function sectionNameProblem(name: string): string | undefined {
  if (name.trim() === "") return "the section name is empty";
  if (name !== name.trim()) return "the section name cannot start or end with spaces";
  if (name === DEFAULT_SECTION) return "DEFAULT is reserved for values every section inherits";
  if (/[[\]]/.test(name)) return "the section name cannot contain [ or ]";
  if ([...name].some((c) => c < " " || c === "\x7f")) {
    return "the section name cannot contain control characters";
  }
  return undefined;
}

function entryLine(key: string, value: string): string {
  if (/[\r\n]/.test(value)) {
    throw new EscaleError("usage", `the value of '${key}' must fit on one line`);
  }
  if (value !== value.trim()) {
    throw new EscaleError("usage", `the value of '${key}' cannot start or end with spaces`);
  }
  // `%` starts an interpolation; doubling it is the one spelling every reader takes literally.
  return `${key} = ${value.replaceAll("%", "%%")}`;
}

/**
 * The text with `section` edited (or appended) as `edit` says. The text must parse; a broken
 * file is refused rather than guessed at.
 */
export function editSection(
  text: string,
  section: string,
  edit: SectionEdit,
  file = "<config>",
): { text: string; added: boolean } {
  const problem = sectionNameProblem(section);
  if (problem) throw new EscaleError("usage", problem);
  parseIni(text, file);
  const bom = text.startsWith("\uFEFF") ? "\uFEFF" : "";
  const body = bom ? text.slice(1) : text;
  const eol = body.includes("\r\n") ? "\r\n" : "\n";
  const lines = body === "" ? [] : body.split(/\r\n|\r|\n/);
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();

  const setKeys = new Set(edit.set.map(([k]) => canonical(k)));
  const dropKeys = new Set((edit.remove ?? []).map(canonical).filter((k) => !setKeys.has(k)));
  const target = scan(lines).find((s) => s.name === section);

  if (!target) {
    const out = [...lines];
    if (out.length > 0 && out[out.length - 1].trim() !== "") out.push("");
    out.push(`[${section}]`, ...edit.set.map(([k, v]) => entryLine(k, v)));
    return { text: bom + out.join(eol) + eol, added: true };
  }

  // Per line: undefined keeps it, an array replaces it (empty = delete).
  const replace: (string[] | undefined)[] = new Array(lines.length);
  const cut = (span: Span, by: string[]) => {
    replace[span.start] = by;
    for (let i = span.start + 1; i <= span.end; i++) replace[i] = [];
  };
  const appended: string[] = [];
  for (const [key, value] of edit.set) {
    const c = canonical(key);
    const found = target.entries.filter((e) => e.canonical === c);
    if (found.length === 0) {
      appended.push(entryLine(key, value));
      continue;
    }
    cut(found[0], [entryLine(key, value)]);
    for (const extra of found.slice(1)) cut(extra, []);
  }
  for (const e of target.entries) if (dropKeys.has(e.canonical)) cut(e, []);
  // New keys go after the section's last entry, so comments that introduce the next section
  // stay in front of it.
  const anchor = target.entries.length > 0
    ? target.entries[target.entries.length - 1].end
    : target.header;
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    out.push(...(replace[i] ?? [lines[i]]));
    if (i === anchor) out.push(...appended);
  }
  return { text: bom + out.join(eol) + eol, added: false };
}

/** Follows a symlinked file to its target, so that the rename does not replace the link. */
async function realTarget(path: string): Promise<string> {
  try {
    return await Deno.realPath(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return path;
    throw localIoError(e, `resolving ${path}`);
  }
}

async function readExisting(file: string): Promise<{ text: string; mode: number } | null> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(file);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw localIoError(e, `reading ${file}`);
  }
  if (!info.isFile) throw new ConfigError(`configuration file ${file} is not a regular file`);
  if (info.size > MAX_CONFIG_BYTES) {
    throw new ConfigError(`configuration file ${file} is too large (${info.size} bytes)`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(await Deno.readFile(file));
  } catch (e) {
    if (e instanceof TypeError) throw new ConfigError(`configuration file ${file} is not UTF-8`);
    throw localIoError(e, `reading ${file}`);
  }
  return { text, mode: (info.mode ?? 0o600) & 0o777 };
}

/**
 * Replaces `path` with `data` in one step: a temporary file next to it, written, flushed and
 * renamed over it, so a crash leaves either the old or the new file, never half of one. The
 * temporary file is created with `mode` already set, so a secret is never readable by others.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  mode: number,
): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const rand = [...crypto.getRandomValues(new Uint8Array(6))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${rand}`);
  let f: Deno.FsFile;
  try {
    f = await Deno.open(tmp, { write: true, createNew: true, mode });
  } catch (e) {
    throw localIoError(e, `writing ${path}`);
  }
  try {
    try {
      // The umask may have taken bits away from a mode the file had before.
      await Deno.chmod(tmp, mode);
      let off = 0;
      while (off < bytes.length) off += await f.write(bytes.subarray(off));
      await f.sync();
    } finally {
      f.close();
    }
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw localIoError(e, `writing ${path}`);
  }
}

/**
 * Adds or edits `section` in the configuration `file`, creating the file (mode 0600) and its
 * folder (0700) when missing. An existing file keeps its mode.
 */
export async function writeConfigSection(
  file: string,
  section: string,
  edit: SectionEdit,
): Promise<SectionWriteResult> {
  const real = await realTarget(file);
  const existing = await readExisting(real);
  const { text, added } = editSection(existing?.text ?? "", section, edit, real);
  if (!existing) {
    try {
      await Deno.mkdir(dirname(real), { recursive: true, mode: 0o700 });
    } catch (e) {
      throw localIoError(e, `creating the folder of ${real}`);
    }
  }
  await writeFileAtomic(real, text, existing?.mode ?? 0o600);
  return { file: real, previous: existing?.text ?? null, added };
}
