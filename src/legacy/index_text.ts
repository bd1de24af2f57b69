import { EscaleError } from "../errors/errors.ts";
import { utf8 } from "../util/streams.ts";

/**
 * Escale 0.7's index text (docs/relay-format.md, "Index layout"): entries `<path> <N>\n` followed
 * by exactly N units of metadata (a placeholder text ending with "\n"; N = 0: none), then an
 * optional puller trailer `---pullers---` and `\n<client>` per puller. A persistent index
 * (bzip2) is grouped: `---group---`, the lines its entries share (placeholder header, pusher),
 * `-----------`, then those entries without them. Reading stops at the first empty line.
 *
 * Escale reads the persistent index from a binary stream (N counts bytes) and the update index
 * as text (N counts characters): both are honoured here, so a non-ASCII metadata line (a client
 * name) still parses where Escale itself would.
 */
export interface IndexText {
  /** metadata by path, in the file's order (null: an entry without metadata) */
  entries: Map<string, string | null>;
  /** the trailer's names, empty lines dropped */
  pullers: string[];
}

export const GROUP_BEGIN = "---group---";
export const GROUP_END = "-----------";
export const PULLERS = "---pullers---";
/** The metadata lines a persistent index shares between entries (Escale's `metadata_group_by`). */
const GROUP_BY = ["placeholder", "pusher"];

export function parseIndex(bytes: Uint8Array, kind: "persistent" | "update", where: string) {
  const bad = (why: string) =>
    new EscaleError("integrity", `${where}: not an Escale index (${why})`);
  const text = new TextDecoder();
  const out: IndexText = { entries: new Map(), pullers: [] };
  let pos = 0;
  const readLine = (): string | null => {
    if (pos >= bytes.length) return null;
    let end = bytes.indexOf(0x0a, pos);
    if (end < 0) end = bytes.length;
    const line = text.decode(bytes.subarray(pos, end));
    pos = end + 1;
    // Python's rstrip(): trailing whitespace of any kind goes.
    return line.replace(/\s+$/u, "");
  };
  let group = "";
  let inGroup = false;
  let groupLines: string[] = [];
  for (;;) {
    const line = readLine();
    if (line === null || line === "") break;
    if (kind === "persistent") {
      if (line === GROUP_BEGIN) {
        inGroup = true;
        groupLines = [];
        continue;
      }
      if (line === GROUP_END) {
        inGroup = false;
        group = groupLines.length > 0 ? groupLines.join("\n") + "\n" : "";
        continue;
      }
      if (inGroup) {
        groupLines.push(line);
        continue;
      }
    }
    if (line === PULLERS) {
      for (let p = readLine(); p !== null; p = readLine()) if (p !== "") out.pullers.push(p);
      break;
    }
    const m = /^(.*\S)\s+(\d+)$/su.exec(line);
    if (!m) throw bad(`entry header ${JSON.stringify(line.slice(0, 80))}`);
    const n = Number(m[2]);
    if (n === 0) {
      out.entries.set(m[1], null);
      continue;
    }
    const end = kind === "persistent" ? pos + n : afterCodePoints(bytes, pos, n);
    if (end > bytes.length) throw bad(`entry ${JSON.stringify(m[1])} is cut short`);
    out.entries.set(m[1], group + text.decode(bytes.subarray(pos, end)));
    pos = end;
  }
  return out;
}

/** The offset after `n` UTF-8 code points from `pos` (Python's text-mode `read(n)`). */
function afterCodePoints(bytes: Uint8Array, pos: number, n: number): number {
  let seen = 0;
  let i = pos;
  while (i < bytes.length) {
    if ((bytes[i] & 0xc0) !== 0x80) {
      if (seen === n) return i;
      seen++;
    }
    i++;
  }
  return seen === n ? i : bytes.length + 1;
}

/** The index text Escale writes for `entries` (grouped for a persistent index). */
export function formatIndex(
  entries: Map<string, string | null>,
  kind: "persistent" | "update",
  pullers: string[] = [],
): Uint8Array {
  const parts: string[] = [];
  const entry = (path: string, meta: string | null) => {
    const body = meta ? (meta.endsWith("\n") ? meta : meta + "\n") : "";
    // What each reader counts: bytes from the bzip2 stream, characters from the text file.
    const n = kind === "persistent" ? utf8.encode(body).length : [...body].length;
    parts.push(`${path} ${n}\n${body}`);
  };
  if (kind === "persistent") {
    const groups = new Map<string, { lines: string[]; items: [string, string | null][] }>();
    for (const [path, meta] of entries) {
      const shared: string[] = [];
      const own: string[] = [];
      const keyed = new Map<string, string>();
      for (const line of (meta ?? "").split("\n").filter((l) => l !== "")) {
        const g = GROUP_BY.find((k) => line.startsWith(k));
        if (g) keyed.set(g, line);
        else own.push(line);
      }
      for (const g of GROUP_BY) if (keyed.has(g)) shared.push(keyed.get(g)!);
      const id = JSON.stringify(shared);
      let grp = groups.get(id);
      if (!grp) groups.set(id, grp = { lines: shared, items: [] });
      grp.items.push([path, meta === null ? null : own.join("\n")]);
    }
    for (const g of groups.values()) {
      parts.push(`${GROUP_BEGIN}\n`, ...g.lines.map((l) => `${l}\n`), `${GROUP_END}\n`);
      for (const [path, meta] of g.items) entry(path, meta);
    }
  } else {
    for (const [path, meta] of entries) entry(path, meta);
  }
  if (pullers.length > 0) parts.push(PULLERS, ...pullers.map((p) => `\n${p}`));
  return utf8.encode(parts.join(""));
}
