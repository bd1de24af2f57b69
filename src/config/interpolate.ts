import { normalizeKey } from "./ini_parser.ts";

/**
 * `%` handling in values. Escale used configparser's BasicInterpolation, where every literal `%`
 * must be written `%%` and a password like `50%off` crashes the start-up. We keep the two forms
 * that mean something (`%%` and `%(key)s`) and take any other `%` literally, so old files read
 * the same and new ones need no escaping.
 */

/** Python's limit; a deeper chain is almost certainly a cycle. */
const MAX_DEPTH = 10;

export class InterpolationProblem extends Error {
  /** the referenced key, or undefined for a cycle */
  readonly ref?: string;
  constructor(message: string, ref?: string) {
    super(message);
    this.ref = ref;
    this.name = "InterpolationProblem";
  }
}

/**
 * Expands `raw`. `lookup` returns the raw value of a key in the section being resolved (falling
 * back to the global part), which is itself expanded, as configparser does.
 */
export function interpolate(
  raw: string,
  lookup: (key: string) => string | undefined,
  depth = 0,
): string {
  if (!raw.includes("%")) return raw;
  if (depth >= MAX_DEPTH) {
    throw new InterpolationProblem(`%(…)s references nest deeper than ${MAX_DEPTH} (a cycle?)`);
  }
  let out = "";
  let i = 0;
  while (i < raw.length) {
    const at = raw.indexOf("%", i);
    if (at < 0) {
      out += raw.slice(i);
      break;
    }
    out += raw.slice(i, at);
    if (raw[at + 1] === "%") {
      out += "%";
      i = at + 2;
      continue;
    }
    const ref = /^%\(([^)]+)\)s/.exec(raw.slice(at));
    if (!ref) {
      out += "%";
      i = at + 1;
      continue;
    }
    const key = normalizeKey(ref[1]);
    const value = lookup(key);
    if (value === undefined) {
      throw new InterpolationProblem(`%(${ref[1]})s refers to '${key}', which is not set`, key);
    }
    out += interpolate(value, lookup, depth + 1);
    i = at + ref[0].length;
  }
  return out;
}
