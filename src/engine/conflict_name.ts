/**
 * Name of the copy that keeps the losing side of a conflict:
 * `dir/name.conflict-<client>-<UTC yyyymmdd-hhmmss>.ext`. Every client computes the same name for
 * the same losing version, so copies made independently on two clients coincide.
 */
export function conflictName(path: string, client: string, mtimeMs: number): string {
  const slash = path.lastIndexOf("/");
  const dir = path.slice(0, slash + 1);
  const base = path.slice(slash + 1);
  const dot = base.lastIndexOf(".");
  const [stem, ext] = dot > 0 ? [base.slice(0, dot), base.slice(dot)] : [base, ""];
  const d = new Date(Math.floor(mtimeMs / 1000) * 1000);
  const pad = (n: number) => String(n).padStart(2, "0");
  const ts = `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}-` +
    `${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;
  const who = client.replace(/[^A-Za-z0-9_.@+-]/g, "_").slice(0, 64) || "unknown";
  return `${dir}${stem}.conflict-${who}-${ts}${ext}`;
}
