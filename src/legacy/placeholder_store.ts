import { isKind } from "../errors/errors.ts";
import { forEachLimit } from "../engine/pool.ts";
import { joinKey } from "../relay/keys.ts";
import type { Relay, RelayEntry } from "../relay/relay.ts";
import { bytesStream, collect, fromUtf8, utf8 } from "../util/streams.ts";
import type { Fernet } from "./fernet.ts";
import { formatLock, type LockInfo, parseLock } from "./lock_file.ts";
import { classify, legacyPathProblem, lockKey, placeholderKey } from "./names.ts";
import { formatPlaceholder, parsePlaceholder, type Placeholder } from "./placeholder.ts";

/** What the relay holds for one resource. */
export interface LegacyEntry {
  path: string;
  data?: RelayEntry;
  placeholder?: RelayEntry;
  lock?: RelayEntry;
}

/**
 * How long a lock written on a relay without atomic create waits before it is read back, and
 * the longest check-then-write an escale client may take there and still go on (`acquire`).
 * Every escale client must use the same value. It costs this much per batch of locks on FTP,
 * WebDAV and rclone relays (`acquireAll`: a round's files take theirs together); a link too slow
 * to read and write a lock in this time waits its turn.
 */
export const LOCK_SETTLE_MS = 3000;

/** Placeholders and locks are a few hundred bytes; anything far larger is not one. */
const SMALL_LIMIT = 1024 * 1024;

/**
 * Escale 0.7's placeholder layout on top of any Relay that can list folders: walks the tree,
 * reads and writes placeholders, data (Fernet when a key is given) and locks. Locks are written
 * the way Python clients read them, and taken soundly between escale clients on every backend
 * (`acquire`), which Escale never did.
 */
export class PlaceholderStore {
  constructor(
    readonly relay: Relay,
    readonly me: string,
    readonly fernet?: Fernet,
    /** see `acquire`; only tests change it */
    readonly settleMs = LOCK_SETTLE_MS,
  ) {}

  /** Where `acquire` says why it backed off from a slow lock (the repository's log). */
  warn: (message: string) => void = () => {};

  /** How `acquire` waits out the settle delay; tests replace it to count the waits. */
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms));

  /** Every resource of the relay, by path; names that could escape the tree are skipped. */
  async walk(): Promise<Map<string, LegacyEntry>> {
    const out = new Map<string, LegacyEntry>();
    const at = (path: string) => {
      let e = out.get(path);
      if (!e) out.set(path, e = { path });
      return e;
    };
    const dirs = [""];
    while (dirs.length > 0) {
      const dir = dirs.pop()!;
      for await (const e of this.relay.list(dir)) {
        const n = classify(e.key);
        if (n.kind === "data") at(n.path).data = e;
        else if (n.kind === "placeholder") at(n.path).placeholder = e;
        else if (n.kind === "lock") at(n.path).lock = e;
      }
      for (const f of await this.relay.listFolders!(dir)) {
        const sub = joinKey(dir, f);
        if (legacyPathProblem(sub) === null) dirs.push(sub);
      }
    }
    return out;
  }

  async readPlaceholder(path: string): Promise<Placeholder | null> {
    const key = placeholderKey(path);
    const text = await this.#readSmall(key);
    return text === null ? null : parsePlaceholder(text, `${this.relay.name}/${key}`);
  }

  async writePlaceholder(path: string, p: Placeholder): Promise<void> {
    await this.relay.write(placeholderKey(path), utf8.encode(formatPlaceholder(p)));
  }

  async deletePlaceholder(path: string): Promise<void> {
    await this.relay.delete(placeholderKey(path));
  }

  /** The plaintext of a data object (decrypted and checked when Fernet is on). */
  async readData(path: string): Promise<ReadableStream<Uint8Array>> {
    const stream = await this.relay.read(path);
    if (!this.fernet) return stream;
    // A Fernet token authenticates the whole file: nothing can be used before its end.
    const token = await collect(stream, Number.MAX_SAFE_INTEGER, path);
    const plain = this.fernet.decrypt(token, `${this.relay.name}/${path}`);
    return bytesStream(plain);
  }

  /** Bytes, not a stream: a Fernet token covers the whole file, and retries replay bytes. */
  async writeData(path: string, plain: Uint8Array): Promise<void> {
    await this.relay.write(path, this.fernet ? this.fernet.encrypt(plain) : plain);
  }

  async deleteData(path: string): Promise<void> {
    await this.relay.delete(path);
  }

  async readLock(path: string): Promise<LockInfo | null> {
    const text = await this.#readSmall(lockKey(path));
    return text === null ? null : parseLock(text);
  }

  /**
   * Takes the lock of `path` for `mode` ("w" upload, "r" download), or answers false when
   * the lock exists (even this client's). Escale's check-then-write is kept (Python clients do
   * the same, and read the same file), made sound between escale clients:
   * - where the backend creates atomically (`createIfAbsent`), a free lock is written
   *   create-if-absent: of two escale writers, one gets "exists";
   * - elsewhere (FTP, WebDAV, rclone) the lock is read back only `settleMs` after it was written
   *   (Fischer's timed mutual exclusion): every escale writer whose own check-to-write took at
   *   most `settleMs` has landed by then, so all of them read the same last lock and one wins. A
   *   writer slower than that cannot vouch for its check and withdraws (its lock stays, so a
   *   winner it overwrote stays covered for Python clients; its next round's repair removes it).
   * The read-back also catches a Python client's lock written before it; one written after is
   * not caught (Python never reads back), so escale vs Python is as safe as Python vs Python.
   */
  async acquire(path: string, mode: "r" | "w"): Promise<boolean> {
    return (await this.acquireAll([{ path, mode }]))[0];
  }

  /**
   * `acquire` for several resources at once, with one settle delay for all of them: their
   * checks and writes run first (at most `parallel` at a time, so that none waits for a
   * connection between its check and its write, which would count against the delay), then the
   * delay, which every lock has had since its write, then the read-backs. Answers, in order,
   * which locks this client holds. On a failure, the locks it holds are removed again.
   */
  async acquireAll(wants: { path: string; mode: "r" | "w" }[]): Promise<boolean[]> {
    const atomic = this.relay.capabilities.createIfAbsent;
    const parallel = Math.max(1, this.relay.capabilities.parallel);
    /** the body each lock was written with, when it was written in time */
    const written: (string | null)[] = wants.map(() => null);
    await forEachLimit(wants, parallel, async ({ path, mode }, i) => {
      const key = lockKey(path);
      const checked = performance.now();
      // Even a lock of ours: the round's repair removes those a killed run left, so one seen
      // here is a lock this client withdrew (below), which may cover a winner it overwrote.
      if ((await this.readLock(path)) !== null) return;
      const body = formatLock({ owner: this.me, mode });
      try {
        await this.relay.write(key, utf8.encode(body), { ifAbsent: atomic });
      } catch (e) {
        if (isKind(e, "exists")) return;
        throw e;
      }
      const took = performance.now() - checked;
      if (!atomic && took > this.settleMs) {
        this.warn(
          `${path}: reading and writing its lock took ${
            Math.round(took)
          } ms, more than the ${this.settleMs} ms another escale client waits for it; trying again next round`,
        );
        return;
      }
      written[i] = body;
    });
    if (!atomic && written.some((b) => b !== null)) await this.sleep(this.settleMs);
    const held = wants.map(() => false);
    try {
      await forEachLimit(wants, parallel, async ({ path }, i) => {
        if (written[i] !== null) held[i] = (await this.#readSmall(lockKey(path))) === written[i];
      });
    } catch (e) {
      // Cut short, none is used: the locks known to be ours go. One not read back may be another
      // client's that overwrote ours, so it stays (the next round's repair removes it if ours),
      // as does any lock written when the checks failed.
      await Promise.all(
        wants.map(({ path }, i) => held[i] ? this.release(path).catch(() => {}) : undefined),
      );
      throw e;
    }
    return held;
  }

  async release(path: string): Promise<void> {
    await this.relay.delete(lockKey(path));
  }

  async #readSmall(key: string): Promise<string | null> {
    try {
      const bytes = await collect(await this.relay.read(key), SMALL_LIMIT, key);
      try {
        return fromUtf8.decode(bytes);
      } catch {
        return new TextDecoder().decode(bytes);
      }
    } catch (e) {
      if (isKind(e, "not-found")) return null;
      throw e;
    }
  }
}
