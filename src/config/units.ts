import { shown, ValueProblem } from "./value_problem.ts";

/**
 * Sizes, durations and shares as users write them. Sizes follow Escale (§7 of the behaviour
 * notes): a bare number is MB, every multiple is binary (KB = 1024 bytes), a lowercase `b` means
 * bits, and a decimal comma is as good as a point (`1,5 GB`).
 */

const KIB = 1024;
const PREFIXES = ["K", "M", "G", "T", "P", "E"] as const;

/** unit -> bytes */
const SIZE_UNITS: ReadonlyMap<string, number> = (() => {
  const units = new Map<string, number>([["B", 1], ["b", 1 / 8]]);
  PREFIXES.forEach((p, i) => {
    const bytes = KIB ** (i + 1);
    for (const u of [p, `${p}B`, `${p}iB`, `${p}o`]) units.set(u, bytes);
    units.set(`${p}b`, bytes / 8);
  });
  return units;
})();

const UNIT_HELP = "B, KB, MB, GB, TB, PB, EB (binary multiples; also KiB…, K…, Ko…), " +
  "lowercase b for bits, no unit = MB";

const NUMBER = "([0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)";

function toNumber(text: string): number {
  return Number(text.replace(",", "."));
}

/** Bytes for a size like `200`, `200MB`, `1,5 GB`, `512 KiB`, `8Mb`. */
export function parseSize(raw: string): number {
  const m = new RegExp(`^${NUMBER}\\s*([A-Za-z]*)$`).exec(raw.trim());
  if (!m) throw new ValueProblem(`must be a size like 200MB or 1,5 GB (got ${shown(raw)})`);
  const unit = m[2] === "" ? 1 : SIZE_UNITS.get(m[2]);
  if (unit === undefined) {
    throw new ValueProblem(`has an unknown unit '${m[2]}' (use ${UNIT_HELP})`);
  }
  const factor = m[2] === "" ? KIB * KIB : unit;
  return Math.round(toNumber(m[1]) * factor);
}

const DURATION_UNITS: ReadonlyArray<[RegExp, number]> = [
  [/^(s|sec|secs|second|seconds)$/i, 1],
  [/^(m|min|mins|minute|minutes)$/i, 60],
  [/^(h|hr|hrs|hour|hours)$/i, 3600],
  [/^(d|day|days)$/i, 86400],
  [/^(w|week|weeks)$/i, 604800],
];

/** Seconds for a duration like `30`, `1.5`, `90s`, `10 min`, `2h`, `1d`, `1w`. */
export function parseDuration(raw: string): number {
  const m = new RegExp(`^${NUMBER}\\s*([A-Za-z]*)$`).exec(raw.trim());
  if (!m) {
    throw new ValueProblem(
      `must be a number of seconds, or a number with s, m, h, d or w (got ${shown(raw)})`,
    );
  }
  const n = toNumber(m[1]);
  if (m[2] === "") return n;
  for (const [re, factor] of DURATION_UNITS) if (re.test(m[2])) return n * factor;
  throw new ValueProblem(`has an unknown time unit '${m[2]}' (use s, m, h, d or w)`);
}

/** A share of a whole, 0..1, written `0.5` or `50%`. */
export function parseShare(raw: string): number {
  const text = raw.trim();
  const m = new RegExp(`^${NUMBER}\\s*(%?)$`).exec(text);
  if (!m) throw new ValueProblem(`must be a share like 0.5 or 50% (got ${shown(raw)})`);
  const n = m[2] ? toNumber(m[1]) / 100 : toNumber(m[1]);
  if (n > 1) {
    throw new ValueProblem(
      `must be between 0 and 1, or a percentage up to 100% (got ${shown(raw)})`,
    );
  }
  return n;
}
