import { isKind, isTransient, oneLine, RelayError } from "../errors/errors.ts";
import type {
  Body,
  DeleteOptions,
  ReadOptions,
  Relay,
  RelayCapabilities,
  RelayEntry,
  UnfinishedUpload,
  WriteOptions,
} from "./relay.ts";

export interface RetryOptions {
  /** attempts after the first one (a section's `max retries`) */
  retries: number;
  /** first backoff ceiling, doubled per attempt, default 200 ms */
  baseDelayMs?: number;
  /** backoff ceiling, default 10 s */
  maxDelayMs?: number;
  /** told before each new attempt (for logs); `attempt` is the number of the attempt that failed */
  onRetry?: (what: string, attempt: number, err: unknown) => void;
}

/**
 * Runs `fn` until it succeeds, fails with an error that is not transient, or has failed
 * `retries + 1` times; waits between attempts with exponential backoff and full jitter (a random
 * delay up to the doubled ceiling), so that many clients hit by one outage do not return in step.
 * The last error is rethrown unchanged.
 */
export async function withRetries<T>(
  what: string,
  fn: (attempt: number) => Promise<T>,
  opts: RetryOptions & { signal?: AbortSignal },
): Promise<T> {
  const retries = opts.retries;
  for (let attempt = 1;; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (!isTransient(e) || attempt > retries || opts.signal?.aborted) throw e;
      opts.onRetry?.(what, attempt, e);
      await sleep(backoffDelay(attempt, opts), opts.signal);
    }
  }
}

/** The wait after failed attempt `attempt`: random, up to a ceiling doubled per attempt. */
export function backoffDelay(attempt: number, opts: RetryOptions): number {
  const ceiling = Math.min(
    opts.maxDelayMs ?? 10_000,
    (opts.baseDelayMs ?? 200) * 2 ** (attempt - 1),
  );
  return Math.random() * ceiling;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Wraps any relay so that transient failures (network errors, timeouts, 429, 5xx, S3 SlowDown)
 * are retried and every other kind fails at once.
 *
 * - list: a listing that breaks off is restarted; entries already yielded are not yielded again.
 * - read: opening is retried; when the inner relay can read ranges, a stream that breaks off in
 *   the middle is resumed from the first byte not yet delivered.
 * - write: every body can be replayed (bytes, or a function that opens a fresh stream), so every
 *   write is retried. If a create-if-absent write of bytes is answered "exists" after an earlier
 *   attempt failed, that attempt may have landed with its answer lost; the object is read back and
 *   the write counts as done when it holds exactly our bytes.
 *
 * A transient error that outlives its retries surfaces as kind "unreachable", its message naming
 * the relay (relay names never hold secrets).
 */
export class RetryRelay implements Relay {
  readonly name: string;
  readonly capabilities: RelayCapabilities;
  readonly inner: Relay;
  readonly listFolders?: (dir: string) => Promise<string[]>;
  readonly received?: () => number;
  readonly listTemporary?: (dir: string) => AsyncIterable<RelayEntry>;
  readonly listUploads?: () => Promise<UnfinishedUpload[]>;
  readonly abortUpload?: (upload: UnfinishedUpload) => Promise<void>;
  readonly #opts: RetryOptions;
  readonly #retries: number;

  constructor(inner: Relay, opts: RetryOptions) {
    this.inner = inner;
    this.name = inner.name;
    this.capabilities = inner.capabilities;
    this.#opts = opts;
    this.#retries = opts.retries;
    if (inner.received) this.received = () => inner.received!();
    if (inner.listFolders) {
      this.listFolders = (dir) => this.#run(`listing ${dir || "/"}`, () => inner.listFolders!(dir));
    }
    if (inner.listTemporary) {
      this.listTemporary = (dir) => this.#listing(dir, () => inner.listTemporary!(dir));
    }
    if (inner.listUploads) {
      this.listUploads = () => this.#run("listing unfinished uploads", () => inner.listUploads!());
    }
    if (inner.abortUpload) {
      this.abortUpload = (u) =>
        this.#run(`abandoning an upload of ${u.key}`, () => inner.abortUpload!(u));
    }
  }

  list(dir: string): AsyncIterable<RelayEntry> {
    return this.#listing(dir, () => this.inner.list(dir));
  }

  async *#listing(dir: string, open: () => AsyncIterable<RelayEntry>): AsyncIterable<RelayEntry> {
    const what = `listing ${dir || "/"}`;
    const seen = new Set<string>();
    for (let attempt = 1;; attempt++) {
      try {
        for await (const e of open()) {
          if (seen.has(e.key)) continue;
          seen.add(e.key);
          yield e;
        }
        return;
      } catch (e) {
        if (!isTransient(e) || attempt > this.#retries) throw this.#final(e, attempt);
        this.#opts.onRetry?.(what, attempt, e);
        await sleep(backoffDelay(attempt, this.#opts));
      }
    }
  }

  stat(key: string): Promise<RelayEntry | null> {
    return this.#run(`checking ${key}`, () => this.inner.stat(key));
  }

  async read(key: string, opts: ReadOptions = {}): Promise<ReadableStream<Uint8Array>> {
    const what = `reading ${key}`;
    const offset = opts.offset ?? 0;
    const length = opts.length;
    const open = (done: number) =>
      this.inner.read(key, {
        offset: offset + done,
        length: length === undefined ? undefined : length - done,
        signal: opts.signal,
      });
    const first = await this.#run(what, () => open(0), opts.signal);
    if (!this.inner.capabilities.rangeRead) return first;
    let reader = first.getReader();
    let delivered = 0;
    let failures = 0;
    return new ReadableStream<Uint8Array>({
      pull: async (c) => {
        for (;;) {
          try {
            const r = await reader.read();
            if (r.done) {
              c.close();
              return;
            }
            delivered += r.value.length;
            c.enqueue(r.value);
            return;
          } catch (e) {
            failures++;
            if (!isTransient(e) || failures > this.#retries || opts.signal?.aborted) {
              c.error(this.#final(e, failures));
              return;
            }
            this.#opts.onRetry?.(what, failures, e);
            await sleep(backoffDelay(failures, this.#opts), opts.signal).catch(() => {});
            if (length !== undefined && delivered >= length) {
              c.close();
              return;
            }
            try {
              reader = (await open(delivered)).getReader();
            } catch (e2) {
              // The reopen failed too: let the next loop turn count it via a failing reader.
              reader = failingReader(e2);
            }
          }
        }
      },
      cancel: (reason) => reader.cancel(reason),
    }, { highWaterMark: 0 });
  }

  async write(key: string, body: Body, opts: WriteOptions = {}): Promise<void> {
    const what = `writing ${key}`;
    let attempts = 0;
    // A write whose `after` failed fails with its reason, at once and as it is.
    let afterFailed = false;
    opts.after?.catch(() => void (afterFailed = true));
    const attempt = async () => {
      try {
        return await this.inner.write(key, body, opts);
      } catch (e) {
        if (afterFailed) throw new AfterFailed(e);
        throw e;
      }
    };
    try {
      await withRetries(what, (n) => {
        attempts = n;
        return attempt();
      }, { ...this.#opts, retries: this.#retries, signal: opts.signal });
    } catch (e) {
      if (e instanceof AfterFailed) throw e.reason;
      if (body instanceof Uint8Array && opts.ifAbsent && attempts > 1 && isKind(e, "exists")) {
        if (await this.#holds(key, body)) return;
      }
      throw this.#final(e, attempts);
    }
  }

  delete(key: string, opts?: DeleteOptions): Promise<void> {
    return this.#run(`deleting ${key}`, () => this.inner.delete(key, opts));
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  async #run<T>(what: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    let attempts = 0;
    try {
      return await withRetries(what, (attempt) => {
        attempts = attempt;
        return fn();
      }, { ...this.#opts, signal });
    } catch (e) {
      throw this.#final(e, attempts);
    }
  }

  /** Whether the object under `key` holds exactly `data`. */
  async #holds(key: string, data: Uint8Array): Promise<boolean> {
    try {
      const st = await this.inner.stat(key);
      if (!st || st.size !== data.length) return false;
      let off = 0;
      for await (const chunk of await this.inner.read(key)) {
        if (off + chunk.length > data.length) return false;
        for (let i = 0; i < chunk.length; i++) if (chunk[i] !== data[off + i]) return false;
        off += chunk.length;
      }
      return off === data.length;
    } catch {
      return false;
    }
  }

  /** Turns a transient error that outlived its retries into "unreachable"; others pass as they are. */
  #final(e: unknown, attempts: number): unknown {
    if (!isTransient(e)) return e;
    const err = e as RelayError;
    const base = oneLine(err.message);
    const named = base.includes(this.name) ? base : `${this.name}: ${base}`;
    const tries = attempts === 1 ? "1 attempt" : `${attempts} attempts`;
    return new RelayError("unreachable", `${named} (still failing after ${tries})`, err.key, {
      cause: e,
    });
  }
}

function failingReader(e: unknown): ReadableStreamDefaultReader<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    pull(c) {
      c.error(e);
    },
  }).getReader();
}

/** The failure of a write's `after`: never retried, handed on unchanged. */
class AfterFailed {
  constructor(readonly reason: unknown) {}
}
