/**
 * A CountingRelay that also tallies every request by kind and by the relay folder it touches
 * ("read clients", "list commits", "read moved.json"): a benchmark can then say which objects a
 * round's requests went to, not only how many there were.
 */
import { CountingRelay } from "../src/relay/counting_relay.ts";
import type { Body, ReadOptions, RelayEntry, WriteOptions } from "../src/relay/relay.ts";

/** The folder of a key ("clients/3fa9…" → "clients"), or the key itself at the root. */
function folderOf(key: string): string {
  const slash = key.indexOf("/");
  return slash < 0 ? key : key.slice(0, slash);
}

export class FolderCountingRelay extends CountingRelay {
  /** "kind folder" → requests since the last reset */
  readonly tally = new Map<string, number>();

  #count(kind: string, key: string): void {
    const k = `${kind} ${folderOf(key)}`;
    this.tally.set(k, (this.tally.get(k) ?? 0) + 1);
  }

  override reset(): void {
    super.reset();
    this.tally.clear();
  }

  /** The tally as a plain object, keys sorted. */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.tally].sort(([a], [b]) => (a < b ? -1 : 1)));
  }

  override list(dir: string): AsyncIterable<RelayEntry> {
    // A listing of the root counts as "list /".
    this.#count("list", dir || "/");
    return super.list(dir);
  }

  override stat(key: string): Promise<RelayEntry | null> {
    this.#count("stat", key);
    return super.stat(key);
  }

  override read(key: string, opts?: ReadOptions): Promise<ReadableStream<Uint8Array>> {
    this.#count("read", key);
    return super.read(key, opts);
  }

  override write(key: string, body: Body, opts?: WriteOptions): Promise<void> {
    this.#count("write", key);
    return super.write(key, body, opts);
  }

  override delete(key: string): Promise<void> {
    this.#count("delete", key);
    return super.delete(key);
  }
}
