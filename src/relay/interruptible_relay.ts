import { RelayError } from "../errors/errors.ts";
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

/**
 * Ends the pending operations of a relay as soon as `signal` aborts (SIGINT or SIGTERM during
 * `escale run`): each fails at once with kind "interrupted", so the code above unwinds through
 * its own cleanup (partial local files, rclone children) instead of waiting for a stalled server
 * or a retry backoff. Reads and writes also get the signal, so that backends stop the transfer
 * itself; an operation that ignores it is abandoned and ends with the process. Wrap it around
 * the retries, so that their sleeps are cut short too. `close` is never cut short.
 */
export class InterruptibleRelay implements Relay {
  readonly name: string;
  readonly capabilities: RelayCapabilities;
  readonly listFolders?: (dir: string) => Promise<string[]>;
  readonly received?: () => number;
  readonly listTemporary?: (dir: string) => AsyncIterable<RelayEntry>;
  readonly listUploads?: () => Promise<UnfinishedUpload[]>;
  readonly abortUpload?: (upload: UnfinishedUpload) => Promise<void>;

  constructor(readonly inner: Relay, readonly signal: AbortSignal) {
    this.name = inner.name;
    this.capabilities = inner.capabilities;
    if (inner.received) this.received = () => inner.received!();
    if (inner.listFolders) {
      this.listFolders = (dir) => this.#race(dir, () => inner.listFolders!(dir));
    }
    if (inner.listTemporary) {
      this.listTemporary = (dir) => this.#listing(dir, inner.listTemporary!(dir));
    }
    if (inner.listUploads) this.listUploads = () => this.#race("", () => inner.listUploads!());
    if (inner.abortUpload) {
      this.abortUpload = (u) => this.#race(u.key, () => inner.abortUpload!(u));
    }
  }

  list(dir: string): AsyncIterable<RelayEntry> {
    return this.#listing(dir, this.inner.list(dir));
  }

  async *#listing(dir: string, listing: AsyncIterable<RelayEntry>): AsyncIterable<RelayEntry> {
    const it = listing[Symbol.asyncIterator]();
    let finished = false;
    try {
      for (;;) {
        const r = await this.#race(dir, () => it.next());
        if (r.done) {
          finished = true;
          return;
        }
        yield r.value;
      }
    } finally {
      // Not awaited: a stalled inner listing would hold the caller here.
      if (!finished) it.return?.(undefined).catch(() => {});
    }
  }

  stat(key: string): Promise<RelayEntry | null> {
    return this.#race(key, () => this.inner.stat(key));
  }

  read(key: string, opts: ReadOptions = {}): Promise<ReadableStream<Uint8Array>> {
    const signal = this.#with(opts.signal);
    return this.#race(key, () => this.inner.read(key, { ...opts, signal }));
  }

  write(key: string, body: Body, opts: WriteOptions = {}): Promise<void> {
    const signal = this.#with(opts.signal);
    return this.#race(key, () => this.inner.write(key, body, { ...opts, signal }));
  }

  delete(key: string, opts?: DeleteOptions): Promise<void> {
    return this.#race(key, () => this.inner.delete(key, opts));
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  #with(signal: AbortSignal | undefined): AbortSignal {
    return signal ? AbortSignal.any([signal, this.signal]) : this.signal;
  }

  /** `fn()`, or an "interrupted" failure as soon as the signal aborts, whichever comes first. */
  #race<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const interrupted = () => new RelayError("interrupted", `${this.name}: interrupted`, key);
    if (this.signal.aborted) return Promise.reject(interrupted());
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(interrupted());
      this.signal.addEventListener("abort", onAbort, { once: true });
      let p: Promise<T>;
      try {
        p = fn();
      } catch (e) {
        p = Promise.reject(e);
      }
      p.then(resolve, reject).finally(() => this.signal.removeEventListener("abort", onAbort));
    });
  }
}
