import { toArray } from "../util/streams.ts";
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

/** How long a listing taken while the relay was opened may answer the first ask of its folder. */
export const EARLY_LISTING_MS = 5_000;

export interface EarlyListings {
  held: Map<string, Promise<RelayEntry[]>>;
  until: number;
}

/**
 * Listings started together with a command's first reads, before it knows it will need them
 * (the folders a round lists, asked while the relay is opened): the first listing of each folder
 * asked within EARLY_LISTING_MS is answered by the early one, so that it costs no round trip of
 * its own. Each answers once. A write or delete through this relay drops them all, so that a
 * listing still shows every write that ended before it was asked for (the Relay contract).
 */
export class EarlyListingsRelay implements Relay {
  readonly name: string;
  readonly capabilities: RelayCapabilities;
  readonly listFolders?: (dir: string) => Promise<string[]>;
  readonly received?: () => number;
  readonly listTemporary?: (dir: string) => AsyncIterable<RelayEntry>;
  readonly listUploads?: () => Promise<UnfinishedUpload[]>;
  readonly abortUpload?: (upload: UnfinishedUpload) => Promise<void>;
  readonly #held: Map<string, Promise<RelayEntry[]>>;
  readonly #until: number;

  /** Starts listing `dirs` on `relay`: what the constructor takes. */
  static start(relay: Relay, dirs: string[]): EarlyListings {
    const held = new Map<string, Promise<RelayEntry[]>>();
    for (const dir of dirs) {
      const answer = toArray(relay.list(dir));
      answer.catch(() => {}); // its failure is the failure of the listing that takes it
      held.set(dir, answer);
    }
    return { held, until: Date.now() + EARLY_LISTING_MS };
  }

  /** `early`: listings started on `inner`, or on a view of it (the first reads' relay). */
  constructor(readonly inner: Relay, early: EarlyListings) {
    this.name = inner.name;
    this.capabilities = inner.capabilities;
    this.#until = early.until;
    this.#held = new Map(early.held);
    if (inner.received) this.received = () => inner.received!();
    if (inner.listFolders) this.listFolders = (dir) => inner.listFolders!(dir);
    if (inner.listTemporary) this.listTemporary = (dir) => inner.listTemporary!(dir);
    if (inner.listUploads) this.listUploads = () => inner.listUploads!();
    if (inner.abortUpload) this.abortUpload = (u) => this.#changing(inner.abortUpload!(u));
  }

  async *list(dir: string): AsyncIterable<RelayEntry> {
    const held = this.#held.get(dir);
    this.#held.delete(dir);
    if (held && Date.now() <= this.#until) yield* await held;
    else yield* this.inner.list(dir);
  }

  stat(key: string): Promise<RelayEntry | null> {
    return this.inner.stat(key);
  }

  read(key: string, opts?: ReadOptions): Promise<ReadableStream<Uint8Array>> {
    return this.inner.read(key, opts);
  }

  write(key: string, body: Body, opts?: WriteOptions): Promise<void> {
    return this.#changing(this.inner.write(key, body, opts));
  }

  delete(key: string, opts?: DeleteOptions): Promise<void> {
    return this.#changing(this.inner.delete(key, opts));
  }

  close(): Promise<void> {
    this.#held.clear();
    return this.inner.close();
  }

  /** A change makes every early listing older than what it must show. */
  #changing<T>(op: Promise<T>): Promise<T> {
    this.#held.clear();
    return op;
  }
}
