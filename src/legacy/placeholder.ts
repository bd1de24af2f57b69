import { EscaleError } from "../errors/errors.ts";

/**
 * Escale 0.7's placeholder text (version 1.0): `placeholder%1.0`, then `key: value` lines
 * (pusher, timestamp, checksum in that order, then keys kept from a parse), then `---pullers---`
 * and one puller per line; lines joined with "\n", no trailing newline. The legacy format (first
 * line a `%y%m%d_%H%M%S` UTC time, then pullers) is read too.
 */
export interface Placeholder {
  pusher?: string;
  /** integer Unix seconds (the pusher's mtime, truncated) */
  timestamp?: number;
  /** lowercase hex digest of the plaintext (sha512 by default) */
  checksum?: string;
  /** keys escale does not use, kept in their order so a rewrite loses nothing */
  extra: [string, string][];
  pullers: string[];
}

const SEPARATOR_START = /^[-=+#%]/;

/** Parses a placeholder; anything Escale would refuse is an "integrity" error naming `where`. */
export function parsePlaceholder(text: string, where: string): Placeholder {
  const bad = (why: string) =>
    new EscaleError("integrity", `${where}: not an Escale placeholder (${why})`);
  const lines = text.split("\n").map((l) => l.replace(/\r$/, ""));
  const first = lines.shift() ?? "";
  const out: Placeholder = { extra: [], pullers: [] };
  const pct = first.indexOf("%");
  if (pct < 0) {
    // Legacy: `yymmdd_HHMMSS` then pullers.
    const m = /^(\d\d)(\d\d)(\d\d)_(\d\d)(\d\d)(\d\d)$/.exec(first.trim());
    if (!m) throw bad("first line is neither a header nor a time");
    const [y, mo, d, h, mi, s] = m.slice(1).map(Number);
    out.timestamp = Date.UTC(2000 + y, mo - 1, d, h, mi, s) / 1000;
    out.pullers = lines.map((l) => l.trim()).filter((l) => l !== "");
    return out;
  }
  if (first.slice(0, pct).trim().toLowerCase() !== "placeholder") throw bad("wrong header");
  let inPullers = false;
  for (const raw of lines) {
    const line = raw.trim();
    if (line === "") continue;
    if (inPullers) {
      out.pullers.push(line);
      continue;
    }
    if (SEPARATOR_START.test(line)) {
      const word = line.replace(/^[-=+#%]+/, "").trim().toLowerCase();
      if (!word.startsWith("puller") && !word.startsWith("reader")) throw bad("unknown section");
      inPullers = true;
      continue;
    }
    const colon = line.indexOf(":");
    if (colon < 0) throw bad(`line without ':'`);
    const key = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (key === "pusher") out.pusher = value;
    else if (key === "timestamp") out.timestamp = parseInteger(value, bad);
    else if (key === "checksum") out.checksum = value.toLowerCase();
    else out.extra.push([key, value]);
  }
  if (out.timestamp === undefined && out.checksum === undefined) {
    throw bad("neither timestamp nor checksum");
  }
  return out;
}

function parseInteger(v: string, bad: (why: string) => Error): number {
  if (!/^-?\d+$/.test(v)) throw bad(`timestamp ${JSON.stringify(v)} is not an integer`);
  return Number(v);
}

/** The bytes Escale writes, byte for byte (no trailing newline). */
export function formatPlaceholder(p: Placeholder): string {
  const lines = ["placeholder%1.0"];
  if (p.pusher !== undefined) lines.push(`pusher: ${p.pusher}`);
  if (p.timestamp !== undefined) lines.push(`timestamp: ${p.timestamp}`);
  if (p.checksum !== undefined) lines.push(`checksum: ${p.checksum}`);
  for (const [k, v] of p.extra) lines.push(`${k}: ${v}`);
  lines.push("---pullers---", ...p.pullers);
  return lines.join("\n");
}

/**
 * What identifies one version of a resource: its checksum, or its timestamp when the pusher
 * computed none (`checksum = no`, legacy placeholders).
 */
export function versionOf(p: Placeholder): string {
  return p.checksum !== undefined ? `sum:${p.checksum}` : `time:${p.timestamp}`;
}
