import { ConfigError } from "../errors/errors.ts";

/**
 * Reader for the configuration dialect of Python's `configparser` (the one Escale uses), written
 * by hand because no npm INI parser gets it right (keys with spaces, `key: value`, continuation
 * lines, DEFAULT inheritance). The algorithm follows `RawConfigParser._read` step by step, so
 * odd inputs (blank lines inside a value, a comment between continuation lines, an indented
 * `[x]` that continues the previous value) come out as Python reads them; the golden tests in
 * tests/config/ compare both on the same text.
 *
 * Differences from Python, on purpose: the part before the first section is the DEFAULT section
 * (Escale prepends `[DEFAULT]` itself), runs of spaces inside keys collapse to one, section names
 * are trimmed, and the first error stops the reader. Interpolation is not done here (see
 * interpolate.ts), because values must stay raw until a section asks for them.
 */

export interface IniEntry {
  /** normalised key (lower case, single spaces) */
  key: string;
  /** the key as written, for messages */
  rawKey: string;
  /** raw value: continuation lines joined with "\n", no interpolation */
  value: string;
  line: number;
}

export interface IniSection {
  name: string;
  line: number;
  entries: Map<string, IniEntry>;
}

export interface IniDocument {
  file: string;
  /** keys before the first section and in `[DEFAULT]`, inherited by every section */
  global: Map<string, IniEntry>;
  sections: IniSection[];
}

export const DEFAULT_SECTION = "DEFAULT";

/** The one key spelling every lookup uses: `Local  Path` and `local path` are the same key. */
export function normalizeKey(key: string): string {
  return key.trim().replace(/\s+/g, " ").toLowerCase();
}

// `.+` is greedy like Python's, so `[a] trailing` is section "a" and `[a]]` is "a]".
const SECTION_RE = /^\[([\s\S]+)\]/;
// The first `=` or `:` splits, as with configparser's non-greedy option pattern.
const OPTION_RE = /^([\s\S]*?)\s*([=:])\s*([\s\S]*)$/;

export function parseIni(text: string, file: string): IniDocument {
  const lines = text.replace(/^\uFEFF/, "").split(/\r\n|\r|\n/);
  const global = new Map<string, IniEntry>();
  const sections: IniSection[] = [];
  const byName = new Map<string, IniSection>();
  let current = global;
  let currentName = DEFAULT_SECTION;
  let entry: IniEntry | null = null;
  let parts: string[] = [];
  let indentLevel = 0;

  const finish = () => {
    if (entry) entry.value = parts.join("\n").trimEnd();
    entry = null;
    parts = [];
  };

  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i];
    const stripped = line.trim();
    if (stripped.startsWith("#") || stripped.startsWith(";")) continue;
    if (stripped === "") {
      // Python keeps blank lines inside a value when an indented line follows; trailing ones are
      // trimmed when the value is finished.
      if (entry) parts.push("");
      continue;
    }
    const indent = line.search(/\S/);
    if (entry && indent > indentLevel) {
      parts.push(stripped);
      continue;
    }
    indentLevel = indent;
    const header = SECTION_RE.exec(stripped);
    if (header) {
      finish();
      const name = header[1].trim();
      if (name === DEFAULT_SECTION) {
        current = global;
        currentName = DEFAULT_SECTION;
        continue;
      }
      const seen = byName.get(name);
      if (seen) {
        throw new ConfigError(`duplicate section [${name}] (first on line ${seen.line})`, {
          file,
          line: lineNo,
        });
      }
      const section: IniSection = { name, line: lineNo, entries: new Map() };
      sections.push(section);
      byName.set(name, section);
      current = section.entries;
      currentName = name;
      continue;
    }
    const option = OPTION_RE.exec(stripped);
    if (!option || option[1] === "") {
      // The line itself is not quoted: it may be a stray piece of a password.
      throw new ConfigError(
        "cannot parse this line (expected [section], key = value, key: value, an indented " +
          "continuation or a # comment)",
        { file, line: lineNo },
      );
    }
    finish();
    const key = normalizeKey(option[1]);
    const before = current.get(key);
    if (before) {
      const where = currentName === DEFAULT_SECTION ? "the global part" : `[${currentName}]`;
      throw new ConfigError(
        `duplicate option '${key}' in ${where} (first on line ${before.line})`,
        { file, line: lineNo },
      );
    }
    entry = { key, rawKey: option[1], value: "", line: lineNo };
    parts = [option[3].trim()];
    current.set(key, entry);
  }
  finish();
  return { file, global, sections };
}
