import type { VersionVector } from "../protocol/format.ts";

export type Order = "equal" | "before" | "after" | "concurrent";

/** How `a` relates to `b`: "before" means every edit in `a` is also in `b`. */
export function compareVV(a: VersionVector, b: VersionVector): Order {
  let less = false;
  let more = false;
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = a[k] ?? 0;
    const y = b[k] ?? 0;
    if (x < y) less = true;
    if (x > y) more = true;
  }
  return less && more ? "concurrent" : less ? "before" : more ? "after" : "equal";
}

export function mergeVV(a: VersionVector, b: VersionVector): VersionVector {
  const out: VersionVector = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = Math.max(out[k] ?? 0, v);
  return out;
}
