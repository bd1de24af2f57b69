import { createHash } from "node:crypto";
import { EscaleError, localIoError } from "../errors/errors.ts";

/** Names escale writes inside a repository while it works; never synchronised. */
export const LOCAL_TEMP_PREFIX = ".escale-tmp-";

export interface LocalStat {
  size: number;
  mtime: number;
  ino: number;
}

export async function statLocal(abs: string): Promise<LocalStat | null> {
  try {
    const st = await Deno.lstat(abs);
    if (!st.isFile) return null;
    return { size: st.size, mtime: st.mtime?.getTime() ?? 0, ino: st.ino ?? 0 };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return null;
    throw localIoError(e, abs);
  }
}

/** Files up to this size are hashed with one synchronous read: far cheaper than a stream. */
const SMALL = 1024 * 1024;

export function statLocalSync(abs: string): LocalStat | null {
  try {
    const st = Deno.lstatSync(abs);
    if (!st.isFile) return null;
    return { size: st.size, mtime: st.mtime?.getTime() ?? 0, ino: st.ino ?? 0 };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return null;
    throw localIoError(e, abs);
  }
}

/** Hex digest of a file's content; sha256 unless told (Escale 0.7's placeholders use sha512). */
export async function hashFile(
  abs: string,
  sizeHint?: number,
  algorithm: "sha256" | "sha512" = "sha256",
): Promise<string> {
  const h = createHash(algorithm);
  if (sizeHint !== undefined && sizeHint <= SMALL) {
    try {
      return h.update(Deno.readFileSync(abs)).digest("hex");
    } catch (e) {
      throw localIoError(e, `reading ${abs}`);
    }
  }
  // Synchronous reads: Deno 2.9's async file ops cost a thread hop and an fd dup per call,
  // 5-15x slower than the read itself from the page cache (docs/benchmarks.md).
  let f: Deno.FsFile;
  try {
    f = Deno.openSync(abs, { read: true });
  } catch (e) {
    throw localIoError(e, `reading ${abs}`);
  }
  try {
    // 256 KiB: the block is still in the CPU cache when the hash reads it (1 MiB is not).
    const buf = new Uint8Array(256 * 1024);
    for (let i = 1;; i++) {
      const n = f.readSync(buf);
      if (n === null) break;
      h.update(buf.subarray(0, n));
      // Timers and transfers of other tasks get their turn every 64 MiB.
      if (i % 256 === 0) await new Promise((r) => setTimeout(r, 0));
    }
  } catch (e) {
    throw localIoError(e, `reading ${abs}`);
  } finally {
    f.close();
  }
  return h.digest("hex");
}

export function sameStat(a: LocalStat, b: { size: number; mtime: number; ino: number }): boolean {
  return a.size === b.size && a.mtime === b.mtime && a.ino === b.ino;
}

/**
 * Resolves a synchronised path under the repository root and makes sure no existing component
 * of it is a symlink or a non-directory, so that a write cannot land outside the repository
 * even if someone planted a symlink inside it. Creates missing parent directories when asked.
 */
export async function safeLocalPath(
  root: string,
  rel: string,
  createParents: boolean,
  checked?: Set<string>,
): Promise<string> {
  const segs = rel.split("/");
  let cur = root;
  for (let i = 0; i < segs.length - 1; i++) {
    cur = `${cur}/${segs[i]}`;
    if (checked?.has(cur)) continue;
    let st: Deno.FileInfo | null = null;
    try {
      st = await Deno.lstat(cur);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw localIoError(e, cur);
    }
    if (st === null) {
      if (!createParents) return `${root}/${rel}`;
      try {
        await Deno.mkdir(cur);
      } catch (e) {
        if (!(e instanceof Deno.errors.AlreadyExists)) throw localIoError(e, `creating ${cur}`);
      }
      if (!(await Deno.lstat(cur)).isDirectory) {
        throw new EscaleError("hostile", `refusing to write ${rel}: ${cur} is not a folder`);
      }
      checked?.add(cur);
      continue;
    }
    if (st.isSymlink) {
      throw new EscaleError("hostile", `refusing to write ${rel}: ${cur} is a symbolic link`);
    }
    if (!st.isDirectory) {
      throw new EscaleError("local-io", `cannot write ${rel}: ${cur} is a file, not a folder`);
    }
    checked?.add(cur);
  }
  const target = `${root}/${rel}`;
  // Batch writers (with `checked`) rename over the target, which replaces a symbolic link
  // instead of following it and fails on a folder: no need to look at the target first.
  if (checked) return target;
  try {
    const st = await Deno.lstat(target);
    if (st.isSymlink || st.isDirectory) {
      throw new EscaleError(
        "local-io",
        `cannot write ${rel}: a ${st.isSymlink ? "symbolic link" : "folder"} is in the way`,
      );
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw localIoError(e, target);
  }
  return target;
}

/**
 * Gives an open temporary file its modification time (ms since the epoch; null leaves it), and
 * closes it; returns its stat, which a rename into place keeps. One open file for write, time and
 * stat: each path lookup costs on slow file systems. Self-contained: it also runs in the worker
 * (hash_worker.ts).
 */
export function closeTempFile(f: Deno.FsFile, mtime: number | null): LocalStat {
  try {
    if (mtime !== null) f.utimeSync(new Date(), new Date(mtime));
    const st = f.statSync();
    return { size: st.size, mtime: st.mtime?.getTime() ?? 0, ino: st.ino ?? 0 };
  } finally {
    f.close();
  }
}

/** Writes `data` to the new temporary file `tmp` and closes it as `closeTempFile` does. */
export function writeTempFile(tmp: string, data: Uint8Array, mtime: number | null): LocalStat {
  const f = Deno.openSync(tmp, { write: true, createNew: true, mode: 0o644 });
  try {
    let w = 0;
    while (w < data.length) w += f.writeSync(data.subarray(w));
  } catch (e) {
    f.close();
    throw e;
  }
  return closeTempFile(f, mtime);
}

export function tempPathFor(abs: string): string {
  const dir = abs.slice(0, abs.lastIndexOf("/"));
  return `${dir}/${LOCAL_TEMP_PREFIX}${crypto.randomUUID().slice(0, 13)}`;
}

/** Removes now-empty parent folders of `rel` up to (not including) the root. */
export async function pruneEmptyParents(root: string, rel: string): Promise<void> {
  const segs = rel.split("/");
  for (let i = segs.length - 1; i > 0; i--) {
    try {
      await Deno.remove(`${root}/${segs.slice(0, i).join("/")}`);
    } catch {
      return;
    }
  }
}
