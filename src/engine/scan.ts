import { localIoError } from "../errors/errors.ts";
import type { FileRow, StateDb } from "../state/state_db.ts";
import { hashFile, LOCAL_TEMP_PREFIX, sameStat } from "./local_fs.ts";

export interface PathFilter {
  acceptFile(relPath: string): boolean;
  acceptDir(relDir: string): boolean;
}

export interface ScanOptions {
  root: string;
  state: StateDb;
  filter: PathFilter;
  hiddenFiles: boolean;
  /** this client's id: the origin of versions created here */
  me: string;
  /** absolute folders never scanned (escale's own state, a file relay inside the tree) */
  skip?: string[];
}

export interface ScanResult {
  files: number;
  hashed: number;
  changed: string[];
  deleted: string[];
}

interface Seen {
  size: number;
  mtime: number;
  ino: number;
}

/**
 * Walks the repository and brings the state up to date: a file whose (size, mtime, inode) match
 * the state is not read at all; others are hashed, and a different hash marks the row dirty. A
 * file that disappeared becomes a dirty tombstone (or is forgotten if it was never published).
 * A new file with the content of one that disappeared is recorded as moved from it.
 *
 * Memory: one small record per file of the tree (path + 3 numbers) while the scan runs.
 */
export async function scanLocal(o: ScanOptions): Promise<ScanResult> {
  const seen = new Map<string, Seen>();
  walk(o, "", seen);
  const result: ScanResult = { files: seen.size, hashed: 0, changed: [], deleted: [] };
  const updates: FileRow[] = [];
  const removals: string[] = [];
  const known = new Map<string, FileRow>();
  for (const row of o.state.allFiles()) known.set(row.path, row);

  for (const [path, st] of seen) {
    const row = known.get(path);
    if (row && !row.deleted && sameStat(st, row)) continue;
    const hash = await hashFile(`${o.root}/${path}`, st.size);
    result.hashed++;
    if (row && !row.deleted && row.hash === hash) {
      updates.push({ ...row, ...st });
      continue;
    }
    result.changed.push(path);
    updates.push({
      path,
      ...st,
      hash,
      vv: row?.vv ?? {},
      origin: row?.origin ?? o.me,
      deleted: false,
      dirty: true,
      movedFrom: null,
    });
  }
  const gone: FileRow[] = [];
  for (const [path, row] of known) {
    if (row.deleted || seen.has(path)) continue;
    if (!o.filter.acceptFile(path)) continue; // filtered out now: leave it alone, not deleted
    result.deleted.push(path);
    if (Object.keys(row.vv).length === 0) removals.push(path);
    else {
      const tomb = { ...row, deleted: true, dirty: true, movedFrom: null };
      updates.push(tomb);
      gone.push(tomb);
    }
  }
  detectMoves(updates, gone);
  o.state.tx(() => {
    for (const u of updates) o.state.putFile(u);
    for (const p of removals) o.state.deleteFile(p);
  });
  return result;
}

/** Pairs new content with a vanished file of the same hash and size: a rename or a move. */
function detectMoves(updates: FileRow[], gone: FileRow[]): void {
  if (gone.length === 0) return;
  const byHash = new Map<string, FileRow[]>();
  for (const g of gone) {
    const k = `${g.hash}:${g.size}`;
    byHash.set(k, [...(byHash.get(k) ?? []), g]);
  }
  for (const u of updates) {
    if (u.deleted || !u.dirty || Object.keys(u.vv).length > 0) continue;
    const cands = byHash.get(`${u.hash}:${u.size}`);
    const src = cands?.shift();
    if (src) u.movedFrom = src.path;
  }
}

function walk(o: ScanOptions, rel: string, seen: Map<string, Seen>): void {
  const dir = rel === "" ? o.root : `${o.root}/${rel}`;
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch (e) {
    if (rel !== "" && e instanceof Deno.errors.NotFound) return; // vanished while walking
    throw localIoError(e, `reading folder ${dir}`);
  }
  for (const e of entries) {
    if (e.name.startsWith(LOCAL_TEMP_PREFIX)) continue;
    if (!o.hiddenFiles && e.name.startsWith(".")) continue;
    const path = rel === "" ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory) {
      if (o.filter.acceptDir(path) && !o.skip?.includes(`${o.root}/${path}`)) walk(o, path, seen);
    } else if (e.isFile) {
      if (!o.filter.acceptFile(path)) continue;
      let st: Deno.FileInfo;
      try {
        st = Deno.lstatSync(`${o.root}/${path}`);
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) continue;
        throw localIoError(err, path);
      }
      seen.set(path, { size: st.size, mtime: st.mtime?.getTime() ?? 0, ino: st.ino ?? 0 });
    }
    // symbolic links and special files are not synchronised
  }
}
