import { localIoError } from "../errors/errors.ts";
import {
  type HashReply,
  type HashRequest,
  hashWorkerUrl,
  type SmallFileJob,
  type SmallFileResult,
  writeSmallFile,
} from "./hash_worker.ts";
import { hashFile } from "./local_fs.ts";

/** Files from this size are hashed on the worker; smaller ones are not worth a message. */
export const WORKER_MIN = 8 * 1024 * 1024;

/** Hash of a file being written, fed as it grows (see `Hasher.follow`). */
export interface Follower {
  /** the file now has `bytes` bytes written */
  progress(bytes: number): void;
  /** the file is complete at `bytes` bytes: its SHA-256 (hex) */
  end(bytes: number): Promise<string>;
  /** the file is abandoned */
  cancel(): void;
}

interface Waiting {
  resolve(answer: string | SmallFileResult[]): void;
  reject(e: unknown): void;
  /** the same answer computed on the main thread, should the worker fail */
  inline(): Promise<string | SmallFileResult[]>;
}

/**
 * A second thread for local file work: SHA-256 of big files, so that hashing (about 0.7 s per
 * GiB here) overlaps with the transfers on the main thread instead of adding to them, and half
 * of a large batch of received small files (`writeFiles`). The worker starts when first needed
 * and stops with `close`. Should it fail to start or crash, the work is done on the main thread
 * instead, with the same results.
 */
export class Hasher {
  #worker: Worker | null = null;
  #unavailable = false;
  #next = 1;
  #waiting = new Map<number, Waiting>();
  /** errors that arrived for followed files before their `end` */
  #early = new Map<number, Error>();
  readonly #workerUrl: string;

  /** `workerUrl` replaces the worker module (tests: one that cannot load) */
  constructor(workerUrl = hashWorkerUrl()) {
    this.#workerUrl = workerUrl;
  }

  /** SHA-256 (hex) of the whole file. */
  file(abs: string, size: number): Promise<string> {
    const w = size >= WORKER_MIN ? this.#start() : null;
    if (!w) return hashFile(abs, size);
    return this.#ask(w, { id: this.#next++, path: abs, end: true }, () => hashFile(abs, size));
  }

  /**
   * Follows a file that the main thread is writing: the worker reads back and hashes what was
   * written, so the check covers the bytes on disk and the main thread only writes.
   */
  follow(abs: string): Follower {
    const w = this.#start();
    const id = this.#next++;
    let sent = 0;
    return {
      progress: (bytes) => {
        // One message per MiB written at most.
        if (this.#worker !== w || !w || bytes - sent < 1024 * 1024) return;
        sent = bytes;
        w.postMessage({ id, path: abs, upTo: bytes } satisfies HashRequest);
      },
      end: (bytes) => {
        if (this.#worker !== w || !w) return hashFile(abs);
        const early = this.#early.get(id);
        if (early) {
          this.#early.delete(id);
          w.postMessage({ id, path: abs, end: true } satisfies HashRequest);
          return Promise.reject(localIoError(early, `reading back ${abs}`));
        }
        return this.#ask(w, { id, path: abs, upTo: bytes, end: true }, () => hashFile(abs));
      },
      cancel: () => {
        this.#early.delete(id);
        if (this.#worker === w && w) {
          w.postMessage({ id, path: abs, cancel: true } satisfies HashRequest);
        }
      },
    };
  }

  /**
   * Writes small received files on the worker (see `writeSmallFile`), while the main thread
   * writes others: creating files is kernel work that scales with threads. Starts the worker if
   * needed; without one, the files are written here.
   */
  writeFiles(jobs: SmallFileJob[]): Promise<SmallFileResult[]> {
    const w = this.#start();
    const inline = () => Promise.resolve(jobs.map(writeSmallFile));
    if (!w) return inline();
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, {
        resolve: (r) => resolve(r as SmallFileResult[]),
        reject,
        // Should the worker die mid-batch, writing again what it already put in place gives the
        // same files.
        inline,
      });
      w.postMessage({ id, path: "", writes: jobs } satisfies HashRequest);
    });
  }

  /** Stops the worker; hashes still awaited are finished on the main thread. */
  close(): void {
    this.#stop();
  }

  #ask(w: Worker, req: HashRequest, inline: () => Promise<string>): Promise<string> {
    return new Promise((resolve, reject) => {
      this.#waiting.set(req.id, {
        resolve: (h) => resolve(h as string),
        reject: (e) => reject(localIoError(e, `reading ${req.path}`)),
        inline,
      });
      w.postMessage(req);
    });
  }

  #start(): Worker | null {
    if (this.#worker || this.#unavailable) return this.#worker;
    try {
      const w = new Worker(this.#workerUrl, { type: "module" });
      w.onmessage = (ev: MessageEvent<HashReply>) => this.#reply(ev.data);
      w.onerror = (ev) => {
        // A worker that cannot start or crashes: the main thread takes over.
        ev.preventDefault();
        this.#unavailable = true;
        this.#stop();
      };
      this.#worker = w;
    } catch {
      this.#unavailable = true;
    }
    return this.#worker;
  }

  #reply(r: HashReply): void {
    const w = this.#waiting.get(r.id);
    if ("hash" in r || "written" in r) {
      this.#waiting.delete(r.id);
      w?.resolve("hash" in r ? r.hash : r.written);
      return;
    }
    const err = r.notFound ? new Deno.errors.NotFound(r.error) : new Error(r.error);
    if (w) {
      this.#waiting.delete(r.id);
      w.reject(err);
    } else this.#early.set(r.id, err);
  }

  #stop(): void {
    this.#worker?.terminate();
    this.#worker = null;
    const left = [...this.#waiting.values()];
    this.#waiting.clear();
    this.#early.clear();
    for (const w of left) w.inline().then(w.resolve, w.reject);
  }
}
