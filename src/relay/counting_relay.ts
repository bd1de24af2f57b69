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
import { tap } from "../util/streams.ts";

export interface RelayCounters {
  lists: number;
  stats: number;
  reads: number;
  writes: number;
  deletes: number;
  bytesRead: number;
  bytesWritten: number;
}

/** Counts requests and bytes going to a relay: benchmarks and tests that assert on traffic. */
export class CountingRelay implements Relay {
  readonly name: string;
  readonly capabilities: RelayCapabilities;
  readonly counters: RelayCounters = {
    lists: 0,
    stats: 0,
    reads: 0,
    writes: 0,
    deletes: 0,
    bytesRead: 0,
    bytesWritten: 0,
  };
  readonly listFolders?: (dir: string) => Promise<string[]>;
  readonly received?: () => number;
  readonly listTemporary?: (dir: string) => AsyncIterable<RelayEntry>;
  readonly listUploads?: () => Promise<UnfinishedUpload[]>;
  readonly abortUpload?: (upload: UnfinishedUpload) => Promise<void>;

  constructor(readonly inner: Relay) {
    this.name = inner.name;
    this.capabilities = inner.capabilities;
    if (inner.received) this.received = () => inner.received!();
    if (inner.listFolders) {
      this.listFolders = (dir) => {
        this.counters.lists++;
        return inner.listFolders!(dir);
      };
    }
    if (inner.listTemporary) {
      this.listTemporary = (dir) => {
        this.counters.lists++;
        return inner.listTemporary!(dir);
      };
    }
    if (inner.listUploads) {
      this.listUploads = () => {
        this.counters.lists++;
        return inner.listUploads!();
      };
    }
    if (inner.abortUpload) {
      this.abortUpload = (u) => {
        this.counters.deletes++;
        return inner.abortUpload!(u);
      };
    }
  }

  get requests(): number {
    const c = this.counters;
    return c.lists + c.stats + c.reads + c.writes + c.deletes;
  }

  reset(): void {
    for (const k of Object.keys(this.counters) as (keyof RelayCounters)[]) this.counters[k] = 0;
  }

  list(dir: string): AsyncIterable<RelayEntry> {
    this.counters.lists++;
    return this.inner.list(dir);
  }

  stat(key: string): Promise<RelayEntry | null> {
    this.counters.stats++;
    return this.inner.stat(key);
  }

  async read(key: string, opts?: ReadOptions): Promise<ReadableStream<Uint8Array>> {
    this.counters.reads++;
    return tap(await this.inner.read(key, opts), (c) => (this.counters.bytesRead += c.length));
  }

  write(key: string, body: Body, opts?: WriteOptions): Promise<void> {
    this.counters.writes++;
    if (body instanceof Uint8Array) {
      this.counters.bytesWritten += body.length;
      return this.inner.write(key, body, opts);
    }
    return this.inner.write(
      key,
      () => tap(body(), (c) => (this.counters.bytesWritten += c.length)),
      opts,
    );
  }

  delete(key: string, opts?: DeleteOptions): Promise<void> {
    this.counters.deletes++;
    return this.inner.delete(key, opts);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
