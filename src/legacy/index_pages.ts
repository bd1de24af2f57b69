import { EscaleError } from "../errors/errors.ts";
import type { RelayEntry } from "../relay/relay.ts";
import { LOCK_SUFFIX } from "./names.ts";

/**
 * Escale 0.7's `index` setting: `index = 1` (any true word) puts every file in page `0`;
 * `index = topdir` or `topdir:N` (also "top dir…") pages files by their first N folders joined
 * with "_" (every "." made "_"), files with fewer folders going to page `0`.
 */
export type IndexSetting = { kind: "single" } | { kind: "topdir"; levels: number };

const TRUE_WORDS = ["1", "yes", "true", "on"];
const FALSE_WORDS = ["0", "no", "false", "off"];

/** The layout an `index` value selects; undefined for none (unset or a false word). */
export function parseIndexSetting(value: string | undefined): IndexSetting | undefined {
  const v = (value ?? "").trim().toLowerCase();
  if (v === "" || FALSE_WORDS.includes(v)) return undefined;
  if (TRUE_WORDS.includes(v)) return { kind: "single" };
  if (v.startsWith("topdir") || v.startsWith("top dir")) {
    const colon = v.indexOf(":");
    const n = colon < 0 ? "1" : v.slice(colon + 1).trim();
    if (/^\d+$/.test(n) && Number(n) >= 1) return { kind: "topdir", levels: Number(n) };
  }
  throw new EscaleError(
    "config",
    `index = ${value}: Escale 0.7 accepts a yes/no word, "topdir" or "topdir:N" (N ≥ 1)`,
  );
}

/** The page holding `path`. */
export function pageOf(path: string, s: IndexSetting): string {
  if (s.kind === "single") return "0";
  const dirs = path.split("/").slice(0, -1);
  if (dirs.length < s.levels) return "0";
  return dirs.slice(0, s.levels).join("_").replaceAll(".", "_");
}

export const persistentKey = (page: string) => `.${page}.index`;
export const updateIndexKey = (page: string, ts: number) => `.${page}.${ts}.index`;
export const updateDataKey = (page: string, ts: number) => `.${page}.${ts}.data`;

/** What the relay root holds for one page. */
export interface PageView {
  page: string;
  index?: RelayEntry;
  lock?: RelayEntry;
  /** update files by timestamp: Escale allows one pending update per page */
  updates: Map<number, { index?: RelayEntry; data?: RelayEntry }>;
}

const PERSISTENT = /^\.([^.]+)\.index$/;
const UPDATE = /^\.([^.]+)\.(\d+)\.(index|data)$/;

/** The pages of an index relay from its root listing; any other name is not the layout's. */
export function pagesOf(root: RelayEntry[]): Map<string, PageView> {
  const out = new Map<string, PageView>();
  const at = (page: string) => {
    let v = out.get(page);
    if (!v) out.set(page, v = { page, updates: new Map() });
    return v;
  };
  for (const e of root) {
    if (e.key.includes("/")) continue;
    let m: RegExpExecArray | null;
    if ((m = PERSISTENT.exec(e.key))) {
      at(m[1]).index = e;
    } else if ((m = UPDATE.exec(e.key))) {
      const v = at(m[1]);
      const ts = Number(m[2]);
      const u = v.updates.get(ts) ?? {};
      if (m[3] === "index") u.index = e;
      else u.data = e;
      v.updates.set(ts, u);
    } else if (
      e.key.startsWith(".") && e.key.endsWith(LOCK_SUFFIX) &&
      !e.key.slice(1, -LOCK_SUFFIX.length).includes(".")
    ) {
      at(e.key.slice(1, -LOCK_SUFFIX.length)).lock = e;
    }
  }
  return out;
}
