import { isAbsolute, resolve } from "node:path";
import { parseDuration, parseShare, parseSize } from "./units.ts";
import { shown, ValueProblem } from "./value_problem.ts";

/**
 * The value types of the option table. Each one turns the (interpolated) text into a typed value
 * or throws a ValueProblem whose message reads after the option name. Warnings go through the
 * context so that loadConfig can add the file:line.
 */

export interface ParseContext {
  /** folder of the configuration file: relative paths are relative to it */
  configDir: string;
  home: string;
  warn(message: string): void;
}

export interface ValueType<T> {
  /** short name shown in help and docs */
  readonly name: string;
  parse(raw: string, ctx: ParseContext): T;
}

const TRUE = new Set(["1", "yes", "true", "on"]);
const FALSE = new Set(["0", "no", "false", "off"]);

/** configparser's booleans, or undefined when the text is not one. */
export function asBool(raw: string): boolean | undefined {
  const t = raw.trim().toLowerCase();
  if (TRUE.has(t)) return true;
  if (FALSE.has(t)) return false;
  return undefined;
}

/** `~` and `~/x` use the home folder; relative paths are taken from the config file's folder. */
export function expandPath(raw: string, ctx: Pick<ParseContext, "configDir" | "home">): string {
  let p = raw.trim();
  if (p === "~") p = ctx.home;
  else if (p.startsWith("~/")) p = ctx.home + p.slice(1);
  return isAbsolute(p) ? resolve(p) : resolve(ctx.configDir, p);
}

export const string: ValueType<string> = { name: "text", parse: (raw) => raw.trim() };

/** Kept exactly as written (inner and outer spaces may belong to a password). */
export const secret: ValueType<string> = { name: "secret", parse: (raw) => raw };

export const path: ValueType<string> = {
  name: "path",
  parse(raw, ctx) {
    if (raw.trim() === "") throw new ValueProblem("must name a path");
    return expandPath(raw, ctx);
  },
};

export const bool: ValueType<boolean> = {
  name: "yes/no",
  parse(raw) {
    const b = asBool(raw);
    if (b === undefined) {
      throw new ValueProblem(`must be yes/no, true/false, on/off or 1/0 (got ${shown(raw)})`);
    }
    return b;
  },
};

export function int(opts: { min?: number; max?: number } = {}): ValueType<number> {
  return {
    name: "integer",
    parse(raw) {
      const t = raw.trim();
      if (!/^[+-]?\d+$/.test(t)) {
        throw new ValueProblem(`must be a whole number (got ${shown(raw)})`);
      }
      const n = Number(t);
      checkRange(n, opts, raw);
      return n;
    },
  };
}

function checkRange(n: number, opts: { min?: number; max?: number; above?: number }, raw: string) {
  if (opts.above !== undefined && !(n > opts.above)) {
    throw new ValueProblem(`must be > ${opts.above} (got ${shown(raw)})`);
  }
  if (opts.min !== undefined && n < opts.min) {
    throw new ValueProblem(`must be ≥ ${opts.min} (got ${shown(raw)})`);
  }
  if (opts.max !== undefined && n > opts.max) {
    throw new ValueProblem(`must be ≤ ${opts.max} (got ${shown(raw)})`);
  }
}

/**
 * Seconds, with an optional unit. `yes`/`no` map to `onYes`/`onNo` when the option gives them a
 * meaning (Escale's bool-or-number options), and are errors otherwise.
 */
export function seconds(
  opts: { min?: number; above?: number; onYes?: number; onNo?: number | null } = {},
): ValueType<number | null> {
  return {
    name: "seconds",
    parse(raw) {
      const b = asBool(raw);
      // Numbers win over booleans: `1` is one second, not "true" as in Escale.
      if (b !== undefined && !/^\s*[01]\s*$/.test(raw)) {
        if (b && opts.onYes !== undefined) return opts.onYes;
        if (!b && opts.onNo !== undefined) return opts.onNo;
        if (b) throw new ValueProblem(`must be a number of seconds (got ${shown(raw)})`);
        // "no" reads as zero, so the range check gives the same message as `0`.
        checkRange(0, opts, raw);
        return 0;
      }
      if (/^\s*(never|none)\s*$/i.test(raw) && opts.onNo !== undefined) return opts.onNo;
      const n = parseDuration(raw);
      checkRange(n, opts, raw);
      return n;
    },
  };
}

export function size(opts: { min?: number; max?: number } = {}): ValueType<number> {
  return {
    name: "size",
    parse(raw) {
      const n = parseSize(raw);
      if (opts.min !== undefined && n < opts.min) {
        throw new ValueProblem(`must be at least ${opts.min} bytes (got ${shown(raw)})`);
      }
      if (opts.max !== undefined && n > opts.max) {
        throw new ValueProblem(`must be at most ${opts.max} bytes (got ${shown(raw)})`);
      }
      return n;
    },
  };
}

export const share: ValueType<number> = {
  name: "share",
  parse(raw) {
    // "off" means the safety stop never triggers: no round can delete more than everything.
    if (/^\s*(no|off|false|none|never)\s*$/i.test(raw)) return 1;
    return parseShare(raw);
  },
};

/** Comma-separated, items trimmed, empty items dropped (so a comma cannot be in an item). */
export const list: ValueType<string[]> = {
  name: "list",
  parse: (raw) => raw.split(",").map((s) => s.trim()).filter((s) => s !== ""),
};

/** One of fixed words; `names` maps every accepted spelling (lower case) to its value. */
export function choice<T extends string>(
  names: Readonly<Record<string, T>>,
  shownNames: readonly string[],
): ValueType<T> {
  return {
    name: shownNames.join("|"),
    parse(raw) {
      const t = raw.trim().toLowerCase().replace(/[\s_]+/g, "-");
      const v = names[t];
      if (v === undefined) {
        throw new ValueProblem(`must be one of ${shownNames.join(", ")} (got ${shown(raw)})`);
      }
      return v;
    },
  };
}

/** An option Escale knew that escale accepts without using; the table's warning says why. */
export const unused: ValueType<string> = { name: "ignored", parse: (raw) => raw };
