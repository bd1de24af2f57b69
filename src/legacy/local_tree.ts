import { localIoError } from "../errors/errors.ts";
import { hashFile, LOCAL_TEMP_PREFIX, sameStat } from "../engine/local_fs.ts";
import type { PathFilter } from "../engine/scan.ts";
import type { LegacyState } from "./legacy_state.ts";
import { legacyPathProblem } from "./names.ts";

export interface LocalFile {
  path: string;
  size: number;
  mtime: number;
  ino: number;
  /** sha512 of the content, hex */
  sum: string;
}

export interface TreeOptions {
  root: string;
  filter: PathFilter;
  /** absolute folders never walked (state, a file relay inside the tree) */
  skip: string[];
  /** relative paths never synchronised (escale's log, a key file) */
  ownFiles: string[];
}

/**
 * The files of the local folder that a legacy relay can carry, with their sha512: names
 * starting with "." are never synchronised (they are special on an Escale relay), symbolic links
 * and other non-files are skipped, and temporary files of a killed run are removed. A file whose size, mtime and inode match the state keeps its
 * recorded checksum and is not read.
 */
export async function walkLocal(
  o: TreeOptions,
  state: LegacyState,
): Promise<Map<string, LocalFile>> {
  const out = new Map<string, LocalFile>();
  const own = new Set(o.ownFiles);
  const dirs = [""];
  while (dirs.length > 0) {
    const dir = dirs.pop()!;
    const abs = dir === "" ? o.root : `${o.root}/${dir}`;
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(abs));
    } catch (e) {
      if (dir !== "" && e instanceof Deno.errors.NotFound) continue;
      throw localIoError(e, `listing ${abs}`);
    }
    for (const e of entries) {
      if (e.isFile && e.name.startsWith(LOCAL_TEMP_PREFIX)) {
        // Left by a run that was killed while receiving (this process holds the state lock).
        await Deno.remove(`${abs}/${e.name}`).catch(() => {});
        continue;
      }
      if (e.name.startsWith(".")) continue;
      const path = dir === "" ? e.name : `${dir}/${e.name}`;
      if (legacyPathProblem(path) !== null) continue;
      if (e.isDirectory) {
        if (o.filter.acceptDir(path) && !o.skip.includes(`${o.root}/${path}`)) dirs.push(path);
        continue;
      }
      if (!e.isFile || own.has(path) || !o.filter.acceptFile(path)) continue;
      const f = await statFile(o.root, path, state);
      if (f) out.set(path, f);
    }
  }
  return out;
}

/** One file's stat and checksum (read only when the state does not already know it). */
export async function statFile(
  root: string,
  path: string,
  state: LegacyState,
): Promise<LocalFile | null> {
  const abs = `${root}/${path}`;
  let st: Deno.FileInfo;
  try {
    st = await Deno.lstat(abs);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw localIoError(e, abs);
  }
  if (!st.isFile) return null;
  const s = { size: st.size, mtime: st.mtime?.getTime() ?? 0, ino: st.ino ?? 0 };
  const row = state.get(path);
  const sum = row && sameStat(s, row) ? row.sum : await hashFile(abs, s.size, "sha512");
  return { path, ...s, sum };
}
