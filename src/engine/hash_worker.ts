/**
 * The code of the worker behind `Hasher` (hasher.ts): SHA-256 of files read from disk, on a
 * second thread, so that hashing big files overlaps with transfers on the main thread; and the
 * writing of part of a batch of small received files, since creating files scales with threads.
 *
 * The worker is started from this function's source text (a blob: module), not from a file: a
 * bundle or a compiled binary then carries it without any extra step. So the function must only
 * use its parameter and globals.
 *
 * Requests are handled in order. `{id, path}` starts a job the first time an id is seen; `upTo`
 * hashes the file up to that offset (the main thread has written that far); `end` finishes the
 * job (after `upTo`, or at the end of the file without it) and answers `{id, hash}`; `cancel`
 * drops it. A failure answers `{id, error, notFound}` at once, and later requests for that id
 * are ignored.
 */
import type { Hash } from "node:crypto";
import { closeTempFile, writeTempFile } from "./local_fs.ts";

export interface HashRequest {
  id: number;
  path: string;
  upTo?: number;
  end?: boolean;
  cancel?: boolean;
  /** instead of hashing: small received files to write (see `writeSmallFile`) */
  writes?: SmallFileJob[];
}

export type HashReply =
  | { id: number; hash: string }
  | { id: number; error: string; notFound: boolean }
  | { id: number; written: SmallFileResult[] };

/** A verified small file to put in place: written to `tmp`, timed, then renamed to `dest`. */
export interface SmallFileJob {
  tmp: string;
  dest: string;
  data: Uint8Array;
  /** modification time to set (ms since the epoch), or null to leave the current time */
  mtime: number | null;
}

export type SmallFileResult =
  | { size: number; mtime: number; ino: number }
  | { error: string };

/**
 * Writes one small file the way the receive path does (a new temporary file, its time, then a
 * rename over `dest`). Self-contained but for `writeTempFile`, which the worker module defines
 * too: it also runs inside the worker.
 */
export function writeSmallFile(job: SmallFileJob): SmallFileResult {
  try {
    const st = writeTempFile(job.tmp, job.data, job.mtime);
    Deno.renameSync(job.tmp, job.dest);
    return st;
  } catch (e) {
    try {
      Deno.removeSync(job.tmp);
    } catch {
      // never created, or already renamed
    }
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

function hashWorkerMain(
  createHash: (algorithm: string) => Hash,
  write: (job: SmallFileJob) => SmallFileResult,
): void {
  interface Job {
    file: Deno.FsFile;
    hash: Hash;
    pos: number;
  }
  const jobs = new Map<number, Job>();
  const dead = new Set<number>();
  // 256 KiB: still in the CPU cache when the hash reads it.
  const buf = new Uint8Array(256 * 1024);
  // The worker's global scope, typed by hand: this module is also loaded by the main thread.
  const scope = self as unknown as {
    postMessage(r: HashReply): void;
    onmessage: ((ev: MessageEvent<HashRequest>) => void) | null;
  };
  const post = (r: HashReply) => scope.postMessage(r);

  scope.onmessage = (ev: MessageEvent<HashRequest>) => {
    const m = ev.data;
    if (m.writes) {
      post({ id: m.id, written: m.writes.map(write) });
      return;
    }
    if (dead.has(m.id)) {
      if (m.cancel || m.end) dead.delete(m.id);
      return;
    }
    let job = jobs.get(m.id);
    if (m.cancel) {
      job?.file.close();
      jobs.delete(m.id);
      return;
    }
    try {
      if (!job) {
        job = { file: Deno.openSync(m.path, { read: true }), hash: createHash("sha256"), pos: 0 };
        jobs.set(m.id, job);
      }
      const limit = m.upTo ?? Infinity;
      while (job.pos < limit) {
        const want = Math.min(buf.length, limit - job.pos);
        const n = job.file.readSync(want < buf.length ? buf.subarray(0, want) : buf);
        if (n === null) {
          if (m.upTo !== undefined) throw new Error(`${m.path} is shorter than what was written`);
          break;
        }
        job.hash.update(buf.subarray(0, n));
        job.pos += n;
      }
      if (m.end) {
        job.file.close();
        jobs.delete(m.id);
        post({ id: m.id, hash: job.hash.digest("hex") });
      }
    } catch (e) {
      job?.file.close();
      jobs.delete(m.id);
      if (!m.end) dead.add(m.id);
      post({
        id: m.id,
        error: e instanceof Error ? e.message : String(e),
        notFound: e instanceof Deno.errors.NotFound,
      });
    }
  };
}

let url: string | null = null;

/** A blob: URL of the worker module (made once per process). */
export function hashWorkerUrl(): string {
  url ??= URL.createObjectURL(
    new Blob(
      [
        `import { createHash } from "node:crypto";\n${closeTempFile}\n${writeTempFile}\n` +
        `(${hashWorkerMain})(createHash, ${writeSmallFile});\n`,
      ],
      { type: "text/javascript" },
    ),
  );
  return url;
}
