import { RE2JS } from "re2js";
import { ConfigError } from "../errors/errors.ts";
import type { FilterSettings } from "./settings.ts";
import { compileWildcard } from "./wildcard.ts";

/**
 * Escale's file filters (behaviour notes §6.2), with three deliberate changes listed in
 * DEVIATIONS: a wildcard takes every character but `*` literally (so `a+b.txt` is that literal
 * name; wildcards are matched by compileWildcard, never by a RegExp), a wildcard must match the
 * whole name (`*.txt` no longer takes `notes.txt.bak`), and a directory filter matches a folder
 * when it matches the folder or one of its parents (without that, whole-name matching would cut
 * the subfolders of an included folder). A `/regex/` keeps Python `re.match` semantics: anchored
 * at the start only. It is matched by RE2 (the re2js port), in time linear in the name: a
 * backtracking engine (V8's RegExp) takes exponential time on patterns like `/^(a+)+b$/`, on the
 * main thread, where not even SIGTERM's handler can run. RE2 has no backreferences or lookaround;
 * such a pattern is refused when the configuration is loaded.
 */

export interface CompiledFilters {
  /** every filter: hidden names, extension, include/exclude on the base name, folder filters */
  acceptFile(relPath: string): boolean;
  /** whether the local crawl should enter this folder (prunes excluded and hopeless folders) */
  acceptDir(relDir: string): boolean;
}

interface Pattern {
  test(text: string): boolean;
  /** for wildcards: the literal text before the first `*` and whether there is a `*` */
  literal?: { prefix: string; open: boolean };
}

/** A pattern as an error message shows it: a 50,000-character filter must not fill the screen. */
function shown(pattern: string): string {
  return pattern.length > 80 ? `${pattern.slice(0, 77)}...` : pattern;
}

/**
 * Compiles one pattern; throws ConfigError (no location) for an invalid regular expression, or
 * one RE2 does not support (backreferences, lookaround, repeats over 1000, nesting over 1000).
 */
export function compilePattern(pattern: string): Pattern {
  if (pattern.startsWith("/")) {
    const source = pattern.length > 1 && pattern.endsWith("/")
      ? pattern.slice(1, -1)
      : pattern.slice(1);
    let re: RE2JS;
    try {
      re = RE2JS.compile(`(?:${source})`);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      // RE2 quotes the offending part, which can be most of a huge pattern.
      const why = shown(msg.replace(/^error parsing regexp: /, ""));
      throw new ConfigError(`invalid regular expression in filter '${shown(pattern)}': ${why}`);
    }
    // lookingAt: a match starting at the name's start, as Python's re.match.
    return { test: (t) => re.matcher(t).lookingAt() };
  }
  const star = pattern.indexOf("*");
  return {
    test: compileWildcard(pattern),
    literal: { prefix: star < 0 ? pattern : pattern.slice(0, star), open: star >= 0 },
  };
}

/** Python's os.path.splitext on a base name: leading dots never start an extension. */
function extensionOf(name: string): string {
  const dot = name.lastIndexOf(".");
  if (dot <= 0) return "";
  for (let i = 0; i < dot; i++) if (name[i] !== ".") return name.slice(dot);
  return "";
}

function parts(rel: string): string[] {
  return rel.split("/").filter((p) => p !== "" && p !== ".");
}

/** True when a pattern matches `dir` or one of its parent folders. */
function matchesDir(patterns: Pattern[], dirParts: string[]): boolean {
  if (dirParts.length === 0) return patterns.some((p) => p.test(""));
  for (let n = 1; n <= dirParts.length; n++) {
    const prefix = dirParts.slice(0, n).join("/");
    if (patterns.some((p) => p.test(prefix))) return true;
  }
  return false;
}

/** Could some folder below `dir` match? Regexes cannot be inspected, so they always may. */
function mayMatchBelow(patterns: Pattern[], dir: string): boolean {
  const below = dir + "/";
  return patterns.some((p) => {
    if (!p.literal) return true;
    const { prefix, open } = p.literal;
    return open ? prefix.startsWith(below) || below.startsWith(prefix) : prefix.startsWith(below);
  });
}

export function compileFilters(f: FilterSettings): CompiledFilters {
  const clean = (items: string[]) => items.map((s) => s.trim()).filter((s) => s !== "");
  const extensions = new Set(clean(f.extensions).map((e) => (e.startsWith(".") ? e : "." + e)));
  const include = clean(f.include).map(compilePattern);
  const exclude = clean(f.exclude).map(compilePattern);
  const includeDirs = clean(f.includeDirs).map(compilePattern);
  const excludeDirs = clean(f.excludeDirs).map(compilePattern);
  const hidden = f.hiddenFiles === true;
  const isHidden = (ps: string[]) => !hidden && ps.some((p) => p.startsWith("."));

  return {
    acceptFile(relPath: string): boolean {
      const ps = parts(relPath);
      if (ps.length === 0 || isHidden(ps)) return false;
      const name = ps[ps.length - 1];
      const dir = ps.slice(0, -1);
      if (extensions.size > 0 && !extensions.has(extensionOf(name))) return false;
      if (include.length > 0 && !include.some((p) => p.test(name))) return false;
      if (exclude.some((p) => p.test(name))) return false;
      if (includeDirs.length > 0 && !matchesDir(includeDirs, dir)) return false;
      if (excludeDirs.length > 0 && matchesDir(excludeDirs, dir)) return false;
      return true;
    },
    acceptDir(relDir: string): boolean {
      const ps = parts(relDir);
      if (ps.length === 0) return true;
      if (isHidden(ps)) return false;
      if (excludeDirs.length > 0 && matchesDir(excludeDirs, ps)) return false;
      if (includeDirs.length === 0 || matchesDir(includeDirs, ps)) return true;
      return mayMatchBelow(includeDirs, ps.join("/"));
    },
  };
}
