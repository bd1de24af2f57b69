/**
 * The one storage interface every backend implements. It is deliberately small and dumb: a
 * directory tree of immutable-ish objects addressed by `/`-separated relative keys. Everything
 * clever (packs, commits, encryption, retries) lives above it, in layers or wrappers.
 *
 * Contract (checked by tests/relay/conformance.ts for every backend):
 * - `write` makes an object visible only once it is complete (backends whose protocol cannot do
 *   that write a temporary name and rename); with `ifAbsent` it fails with kind "exists" when the
 *   key is already there, atomically where `capabilities.createIfAbsent` is true.
 * - `read` of a missing key fails with kind "not-found"; `delete` of a missing key succeeds.
 * - `list(dir)` yields the objects directly inside `dir` ("" is the root), never temporary
 *   objects of unfinished writes; a missing directory lists as empty. It shows every object whose
 *   write through this relay ended before it was asked for; listings asked at the same moment may
 *   share one request, and the listing `open()` took may answer those of the relay folder for a
 *   few seconds (shared_listings.ts).
 * - Errors are `RelayError`s of the shared kinds (see src/errors/errors.ts).
 * - Bodies stream both ways; a backend holds a bounded part of a body in memory per transfer.
 *   A write body may be opened more than once (a backend's own retry); each opening streams anew.
 */

export interface RelayEntry {
  /** full key, e.g. "commits/3fa9c0d1e2b4a6f8-0000000012" */
  key: string;
  size: number;
  /** modification time in ms since the epoch, 0 when the backend cannot tell */
  mtime: number;
}

export interface RelayCapabilities {
  /** `write(…, {ifAbsent: true})` is an atomic test-and-set on this backend */
  createIfAbsent: boolean;
  /** `read` honours `offset`/`length` without transferring the skipped bytes */
  rangeRead: boolean;
  /** longest key the backend accepts */
  maxKeyLength: number;
  /** requests worth running in parallel against this backend */
  parallel: number;
  /** writes go through a temporary object named by `tempKeyFor`, then a rename */
  tempObjects: boolean;
}

/**
 * What a write sends: bytes, or a function that returns a fresh stream of the same bytes each
 * time it is called. Every body can therefore be replayed, which lets the one retry wrapper at the
 * bottom of the stack retry any write (an encrypted commit, a data object packed from local
 * files) without the layers above knowing about retries.
 */
export type Body = Uint8Array | (() => ReadableStream<Uint8Array>);

/** A new stream of a body's bytes. */
export function openBody(body: Body): ReadableStream<Uint8Array> {
  if (body instanceof Uint8Array) {
    return new ReadableStream({
      start(c) {
        if (body.length) c.enqueue(body);
        c.close();
      },
    });
  }
  return body();
}

export interface ReadOptions {
  offset?: number;
  length?: number;
  signal?: AbortSignal;
}

export interface WriteOptions {
  ifAbsent?: boolean;
  /** exact size of the body when known (lets some backends avoid buffering) */
  size?: number;
  signal?: AbortSignal;
  /**
   * The object may be sent at once but becomes visible only once `after` resolved (a commit sent
   * while its data objects are still on their way): a backend awaits it right before its rename
   * (or, without one, before its upload). When it rejects, the write fails with its reason and
   * leaves nothing behind, and is not retried.
   */
  after?: Promise<unknown>;
}

export interface Relay {
  /** human-readable location for messages; never contains a secret */
  readonly name: string;
  readonly capabilities: RelayCapabilities;
  list(dir: string): AsyncIterable<RelayEntry>;
  stat(key: string): Promise<RelayEntry | null>;
  read(key: string, opts?: ReadOptions): Promise<ReadableStream<Uint8Array>>;
  write(key: string, body: Body, opts?: WriteOptions): Promise<void>;
  delete(key: string, opts?: DeleteOptions): Promise<void>;
  /**
   * Names of the folders directly inside `dir` (sorted; a missing `dir` has none). Only layouts
   * that mirror a folder tree need it (Escale 0.7's placeholder layout, src/legacy/); the native
   * format never does, so a backend may leave it out.
   */
  listFolders?(dir: string): Promise<string[]>;
  /**
   * The temporary objects of unfinished uploads in `dir` (names starting with TEMP_PREFIX), which
   * `list` never shows: what `escale fix` removes. Only backends that write under a temporary
   * name and rename have them.
   */
  listTemporary?(dir: string): AsyncIterable<RelayEntry>;
  /**
   * Uploads begun and never completed nor aborted (S3 multipart uploads of a writer that was
   * killed), under the relay's root: `list` never shows them, yet their parts are stored. What
   * `escale fix` aborts, with `abortUpload`. Only backends that upload in parts have them.
   */
  listUploads?(): Promise<UnfinishedUpload[]>;
  /** Ends an unfinished upload, freeing its parts; one already gone is no error. */
  abortUpload?(upload: UnfinishedUpload): Promise<void>;
  /**
   * Bytes received from the storage so far (answer bodies, data connections, file reads), counted
   * where they arrive, before any cutting to a range: how the conformance suite checks that a
   * backend claiming `rangeRead` does not transfer the bytes a range skips. Wrappers pass it on.
   */
  received?(): number;
  close(): Promise<void>;
}

export interface UnfinishedUpload {
  /** the relay key being uploaded */
  key: string;
  /** the backend's name for this upload (several may be open for one key) */
  id: string;
  /** bytes its parts hold */
  size: number;
  /** when it was last written to (its latest part, else its start), ms since epoch; 0 unknown */
  mtime: number;
}

export interface DeleteOptions {
  /**
   * The key was only ever written create-if-absent, whose uploads go under random temporary
   * names (tempKeyFor): no unfinished upload can sit under its derived temporary name, which a
   * delete then leaves alone (one request fewer where a backend removes both).
   */
  onlyCreated?: boolean;
}

/** A backend as built, before `open()` has checked that it can be reached (and logged in). */
export interface UnopenedRelay extends Relay {
  open(): Promise<unknown>;
  /**
   * Requests need nothing `open()` sets up, so they may go out while it checks the relay: a
   * command's first reads then cost no round trip of their own. True where every object is
   * addressed by a URL (WebDAV, S3); an FTP relay learns its folder by logging in and an rclone
   * relay starts its daemon in `open()`.
   */
  readonly requestsBeforeOpen?: boolean;
}

/** Prefix of the temporary objects backends write before an atomic rename; never listed. */
export const TEMP_PREFIX = ".escale-part-";

/**
 * The temporary key a backend uploads `key` under before renaming it into place. Derived from
 * the key, so that the unfinished upload of a process that was killed is replaced by the next
 * write of the key (a resumed publication) and removed by its delete (a rollback or release):
 * nothing is left behind. Create-if-absent writes may race with another writer of the same key,
 * so they get a random name instead. The temporary of an Escale 0.7 placeholder or lock
 * (`.x.placeholder`) gets a `.part` ending: Python clients take any dot name with that ending
 * for a placeholder or lock, and ignore other names starting with a dot.
 */
export function tempKeyFor(key: string, ifAbsent = false): string {
  const slash = key.lastIndexOf("/");
  const name = ifAbsent ? crypto.randomUUID() : key.slice(slash + 1);
  const part = /\.(placeholder|lock)$/.test(name) ? ".part" : "";
  return `${key.slice(0, slash + 1)}${TEMP_PREFIX}${name}${part}`;
}
