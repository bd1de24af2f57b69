import { RelayError } from "../errors/errors.ts";
import { checkKey, parentOf } from "./keys.ts";
import {
  type Body,
  openBody,
  type ReadOptions,
  type Relay,
  type RelayCapabilities,
  type RelayEntry,
  type WriteOptions,
} from "./relay.ts";
import { bytesStream, collect } from "../util/streams.ts";

/** A relay held in memory: fast engine tests, and a reference for what backends must do. */
export class MemoryRelay implements Relay {
  readonly name: string;
  readonly capabilities: RelayCapabilities = {
    createIfAbsent: true,
    rangeRead: true,
    maxKeyLength: 1024,
    parallel: 8,
    tempObjects: false,
  };
  #received = 0;
  readonly objects = new Map<string, { data: Uint8Array; mtime: number }>();

  constructor(name = "memory") {
    this.name = name;
  }

  async *list(dir: string): AsyncIterable<RelayEntry> {
    checkKey(dir, true);
    const keys = [...this.objects.keys()].filter((k) => parentOf(k) === dir).sort();
    for (const key of keys) {
      const o = this.objects.get(key);
      if (o) yield { key, size: o.data.length, mtime: o.mtime };
    }
  }

  listFolders(dir: string): Promise<string[]> {
    checkKey(dir, true);
    const prefix = dir === "" ? "" : `${dir}/`;
    const out = new Set<string>();
    for (const k of this.objects.keys()) {
      if (!k.startsWith(prefix)) continue;
      const rest = k.slice(prefix.length);
      const slash = rest.indexOf("/");
      if (slash > 0) out.add(rest.slice(0, slash));
    }
    return Promise.resolve([...out].sort());
  }

  stat(key: string): Promise<RelayEntry | null> {
    checkKey(key);
    const o = this.objects.get(key);
    return Promise.resolve(o ? { key, size: o.data.length, mtime: o.mtime } : null);
  }

  read(key: string, opts: ReadOptions = {}): Promise<ReadableStream<Uint8Array>> {
    checkKey(key);
    const o = this.objects.get(key);
    if (!o) return Promise.reject(new RelayError("not-found", `${key}: not found on relay`, key));
    const start = Math.min(opts.offset ?? 0, o.data.length);
    const end = opts.length === undefined
      ? o.data.length
      : Math.min(o.data.length, start + opts.length);
    this.#received += end - start;
    return Promise.resolve(bytesStream(o.data.slice(start, end)));
  }

  async write(key: string, body: Body, opts: WriteOptions = {}): Promise<void> {
    checkKey(key);
    const data = await collect(openBody(body), Number.MAX_SAFE_INTEGER);
    await opts.after;
    if (opts.ifAbsent && this.objects.has(key)) {
      throw new RelayError("exists", `${key}: already exists on relay`, key);
    }
    this.objects.set(key, { data, mtime: Date.now() });
  }

  delete(key: string): Promise<void> {
    checkKey(key);
    this.objects.delete(key);
    return Promise.resolve();
  }

  received(): number {
    return this.#received;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
