/**
 * Escale 0.7's lock text: `lock%1.0`, `owner: <client>`, then `mode: w|r` (omitted for
 * maintenance locks); no trailing newline. Legacy locks are an empty file (owned by nobody) or a
 * file whose first line is the owner.
 */
export interface LockInfo {
  /** undefined: an unowned (empty) lock */
  owner?: string;
  mode?: "r" | "w" | string;
}

export function parseLock(text: string): LockInfo {
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  if (lines.length === 0) return {};
  const pct = lines[0].indexOf("%");
  if (pct < 0 || lines[0].slice(0, pct).trim().toLowerCase() !== "lock") {
    return { owner: lines[0] };
  }
  const out: LockInfo = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const key = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (key === "owner") out.owner = value;
    else if (key === "mode") out.mode = value;
  }
  return out;
}

export function formatLock(l: LockInfo): string {
  const lines = ["lock%1.0"];
  if (l.owner !== undefined) lines.push(`owner: ${l.owner}`);
  if (l.mode !== undefined) lines.push(`mode: ${l.mode}`);
  return lines.join("\n");
}
