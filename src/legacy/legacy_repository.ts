import { createHash } from "node:crypto";
import { describeError, EscaleError, isKind } from "../errors/errors.ts";
import {
  emptyStats,
  type ProgressEvent,
  type RepoOptions,
  type RepoStatus,
  type RoundStats,
} from "../engine/context.ts";
import { conflictName } from "../engine/conflict_name.ts";
import { forEachLimit } from "../engine/pool.ts";
import { safeLocalPath, tempPathFor } from "../engine/local_fs.ts";
import { modeRules } from "../engine/modes.ts";
import type { Logger } from "../log/logger.ts";
import type { Fernet } from "./fernet.ts";
import type { IndexSetting } from "./index_pages.ts";
import { LegacyChecksum } from "./checksum.ts";
import { IndexStore } from "./index_store.ts";
import { IndexSync } from "./index_sync.ts";
import { LegacyState } from "./legacy_state.ts";
import { type LocalFile, statFile, walkLocal } from "./local_tree.ts";
import { type Placeholder, versionOf } from "./placeholder.ts";
import { type LegacyEntry, PlaceholderStore } from "./placeholder_store.ts";
import type { Relay } from "../relay/relay.ts";

/** Files a round works on together: their locks are taken in one batch, with one settle delay. */
const BATCH_FILES = 64;

/**
 * Most file bytes in one batch (a bigger file goes alone): an upload holds its whole file in
 * memory (a Fernet download its whole token) and runs `transfers` at a time, and every lock of a
 * batch is held until its file's turn, so a batch stays small enough to be sent soon.
 */
const BATCH_BYTES = 16 * 1024 * 1024;

/** One file's step of a round: done (true), still due (false), or work to do under its lock. */
type Step = boolean | UnderLock;

interface UnderLock {
  mode: "r" | "w";
  /** runs once the lock is held, which is released after it; false: the file is still due */
  run: () => Promise<boolean>;
}

export interface LegacyOptions extends RepoOptions {
  /** Fernet key of `encryption = fernet` */
  fernet?: Fernet;
  /** an unowned lock older than this (seconds) is stale; 0 = never */
  lockTimeoutSec: number;
  /** Escale's index layout (`index = …`, or found on the relay); unset: the placeholder layout */
  index?: IndexSetting;
}

/**
 * One local folder synchronised with an Escale 0.7 relay in the placeholder layout, so that
 * Python Escale clients and escale share it (in the index layout, `index` set, the rounds are
 * index_sync.ts's). A round: repair this client's own interrupted
 * transfers (its stale locks), walk the relay and the local tree, take every version another
 * pusher left for us (then append our name to its puller list; the puller that completes the
 * count deletes the data, as Escale frees space), then publish local changes under a lock:
 * placeholder, then data, then unlock. Deletions are not propagated, as in Escale.
 *
 * Fixed on our side (the Python peer is unchanged): locks are sound between escale clients
 * (placeholder_store.ts); names that could escape the folder are ignored; the puller count counts
 * names, not lines; a version edited on both sides keeps both (the older one under a conflict
 * name) instead of overwriting; a release cut short by a kill is finished next round.
 */
export class LegacyRepository {
  readonly opts: LegacyOptions;
  readonly store: PlaceholderStore;
  readonly state: LegacyState;
  readonly log: Logger;
  /** the rounds of the index layout, when the relay uses it */
  readonly index: IndexSync | null;
  emit: (e: ProgressEvent) => void = () => {};
  status: RepoStatus | null = null;

  private constructor(
    opts: LegacyOptions,
    store: PlaceholderStore,
    state: LegacyState,
    log: Logger,
    stagingDir: string,
  ) {
    this.opts = opts;
    this.store = store;
    this.state = state;
    this.log = log;
    store.warn = (m) => log.log("warn", m);
    this.index = opts.index
      ? new IndexSync(
        opts,
        opts.index,
        new IndexStore(store.relay, opts.clientName, stagingDir, opts.fernet),
        state,
        log,
        (e) => this.emit(e),
      )
      : null;
    if (this.index) this.index.store.locks.warn = store.warn;
  }

  static open(opts: LegacyOptions, relay: Relay, statePath: string, log: Logger): LegacyRepository {
    // The index layout keeps everything at the relay root; the placeholder one mirrors folders.
    if (!opts.index && !relay.listFolders) {
      throw new EscaleError(
        "config",
        `relay ${relay.name}: the Escale 0.7 layout mirrors folders, which this relay cannot list`,
      );
    }
    const state = LegacyState.open(statePath);
    return new LegacyRepository(
      opts,
      new PlaceholderStore(relay, opts.clientName, opts.fernet),
      state,
      log,
      statePath.slice(0, statePath.lastIndexOf("/")) || ".",
    );
  }

  async close(): Promise<void> {
    this.state.close();
    await this.store.relay.close().catch(() => {});
  }

  get #pullerCount(): number {
    return this.opts.pullerCount ?? 1;
  }

  async round(): Promise<RoundStats> {
    const rules = modeRules(this.opts.mode, this.opts.propagateDeletions);
    const stats = emptyStats();
    if (this.index) {
      const r = await this.index.round(rules, stats);
      this.status = {
        pendingUploads: r.pendingUp,
        pendingDownloads: r.pendingDown,
        waitingOn: [],
        relayBytes: r.relayBytes,
        diskQuota: this.opts.diskQuota,
        problems: [],
        unsent: r.pendingUp,
        unreleased: r.unreleased,
        pullers: [],
      };
      return stats;
    }
    let remote = await this.store.walk();
    if (await this.#repair(remote, stats)) remote = await this.store.walk();
    const pendingDown = rules.pulls ? (await this.#pullAll(remote, stats)).length : 0;
    let pendingUp = 0;
    if (rules.pushes) {
      const files = [...(await walkLocal(this.#tree, this.state)).values()];
      const failed = new Set<string>();
      const done = await this.#batched(
        files,
        (f) => f.size,
        (f) => this.#push(f, remote.get(f.path), rules.pulls, stats),
        (f, err) => {
          failed.add(f.path);
          stats.problems++;
          this.log.log("warn", `${f.path}: not sent: ${describeError(err)}`);
          this.emit({ type: "problem", path: f.path, reason: describeError(err) });
        },
        stats,
      );
      pendingUp = files.filter((f, i) => !done[i] && !failed.has(f.path)).length;
    }
    this.status = {
      pendingUploads: pendingUp,
      pendingDownloads: pendingDown,
      waitingOn: [],
      relayBytes: [...remote.values()].reduce((n, e) => n + (e.data?.size ?? 0), 0),
      diskQuota: this.opts.diskQuota,
      problems: [],
      unsent: pendingUp,
      // Escale's layout keeps data until its last puller took it: what is still there is undelivered.
      unreleased: [...remote.values()].filter((e) => e.data !== undefined).length,
      pullers: [],
    };
    return stats;
  }

  get #tree() {
    return {
      root: this.opts.localPath,
      filter: this.opts.filter,
      skip: this.opts.skip ?? [],
      ownFiles: this.opts.ownFiles ?? [],
    };
  }

  /** Whether the include/exclude rules let `path` through and it is none of escale's files. */
  #accepted(path: string): boolean {
    const segs = path.split("/");
    for (let i = 1; i < segs.length; i++) {
      if (!this.opts.filter.acceptDir(segs.slice(0, i).join("/"))) return false;
    }
    return this.opts.filter.acceptFile(path) && !(this.opts.ownFiles ?? []).includes(path);
  }

  /** Takes what other pushers left for this client; returns the paths still due. */
  async #pullAll(
    remote: Map<string, LegacyEntry>,
    stats: RoundStats,
    converting = false,
  ): Promise<string[]> {
    const local = await walkLocal(this.#tree, this.state);
    const due: string[] = [];
    const mine: LegacyEntry[] = [];
    for (const e of remote.values()) {
      // Filtered out here (or one of escale's own files): not this client's to take, and its
      // data stays for the clients that want it. A conversion must not drop it: still due.
      if (this.#accepted(e.path)) mine.push(e);
      else if (converting && e.placeholder && e.data) due.push(e.path);
    }
    const done = await this.#batched(
      mine,
      (e) => e.data?.size ?? 0,
      (e) => this.#pull(e, local.get(e.path), stats),
      (e, err) => {
        stats.problems++;
        this.log.log("warn", `${e.path}: not received: ${describeError(err)}`);
        this.emit({ type: "problem", path: e.path, reason: describeError(err) });
      },
      stats,
    );
    mine.forEach((e, i) => {
      if (!done[i]) due.push(e.path);
    });
    return due;
  }

  /**
   * The last legacy round before a conversion (convert_to_native.ts): repairs this client's
   * locks and takes every version still waiting on the relay that this client does not hold,
   * whatever its mode and the puller count. Returns the relay as it is then and the paths that
   * could not be taken (locked by another client, or a local problem).
   */
  async takeEverything(): Promise<{ remote: Map<string, LegacyEntry>; due: string[] }> {
    const stats = emptyStats();
    let remote = await this.store.walk();
    if (await this.#repair(remote, stats)) remote = await this.store.walk();
    const due = await this.#pullAll(remote, stats, true);
    remote = await this.store.walk();
    // Data this client signed for but no longer has (deleted here), or its own data still
    // waiting for pullers: still pending for someone, so it comes back here to be carried over.
    const left = [...remote.values()].filter((e) =>
      e.data && e.placeholder && !due.includes(e.path)
    );
    const done = await this.#batched(
      left,
      (e) => e.data?.size ?? 0,
      async (e): Promise<Step> => {
        if (await statFile(this.opts.localPath, e.path, this.state)) return true;
        if (e.lock) return false;
        return {
          mode: "r",
          run: async () => {
            const p = await this.store.readPlaceholder(e.path);
            if (!p) return true;
            await this.#download(e.path, e.path, p);
            const f = await statFile(this.opts.localPath, e.path, this.state);
            if (f) this.state.put({ ...f, base: f.sum, remote: versionOf(p) });
            return true;
          },
        };
      },
      (e, err) => this.log.log("warn", `${e.path}: not received: ${describeError(err)}`),
      stats,
    );
    left.forEach((e, i) => {
      if (!done[i]) due.push(e.path);
    });
    return { remote: await this.store.walk(), due };
  }

  /**
   * Runs one step per file: first its checks (relay reads, `parallel` at a time, BATCH_FILES
   * files at a time); the files that then ask for a lock go into batches of at most BATCH_FILES
   * files and BATCH_BYTES bytes (a bigger file alone), whose locks are taken together
   * (`acquireAll`: one settle delay for the batch where the relay cannot create atomically,
   * instead of one per file); then the work under those locks runs `transfers` at a time, each
   * lock released once its file is done. A local problem leaves only its own file due (`failed`
   * is told). Answers, in order, whether each item is done.
   */
  async #batched<T extends { path: string }>(
    items: T[],
    size: (item: T) => number,
    step: (item: T) => Promise<Step>,
    failed: (item: T, err: unknown) => void,
    stats: RoundStats,
  ): Promise<boolean[]> {
    const done = items.map(() => false);
    const guarded = async (i: number, fn: () => Promise<Step>): Promise<Step> => {
      try {
        return await fn();
      } catch (err) {
        if (!isLocalProblem(err)) throw err;
        failed(items[i], err);
        return false;
      }
    };
    let batch: { i: number; u: UnderLock }[] = [];
    let bytes = 0;
    const flush = async () => {
      const asked = batch;
      batch = [];
      bytes = 0;
      if (asked.length === 0) return;
      const held = await this.store.acquireAll(
        asked.map(({ i, u }) => ({ path: items[i].path, mode: u.mode })),
      );
      const mine = asked.filter((_, k) => held[k]);
      stats.relayWrites += mine.length;
      const started = mine.map(() => false);
      try {
        await forEachLimit(mine, this.opts.transfers, async ({ i, u }, k) => {
          started[k] = true;
          try {
            done[i] = (await guarded(i, u.run)) === true;
          } finally {
            await this.store.release(items[i].path);
            stats.relayWrites++;
          }
        });
      } catch (err) {
        // Stopped by a failure: the locks of the files that never got their turn go too.
        await Promise.all(
          mine.map(({ i }, k) =>
            started[k] ? undefined : this.store.release(items[i].path).catch(() => {})
          ),
        );
        throw err;
      }
    };
    const parallel = Math.max(1, this.store.relay.capabilities.parallel);
    for (let start = 0; start < items.length; start += BATCH_FILES) {
      const chunk = Array.from(
        { length: Math.min(BATCH_FILES, items.length - start) },
        (_, k) => start + k,
      );
      const asked: { i: number; u: UnderLock }[] = [];
      await forEachLimit(chunk, parallel, async (i) => {
        const s = await guarded(i, () => step(items[i]));
        if (typeof s === "boolean") done[i] = s;
        else asked.push({ i, u: s });
      });
      for (const a of asked.sort((x, y) => x.i - y.i)) {
        const n = size(items[a.i]);
        if (batch.length >= BATCH_FILES || (batch.length > 0 && bytes + n > BATCH_BYTES)) {
          await flush();
        }
        batch.push(a);
        bytes += n;
      }
    }
    await flush();
    return done;
  }

  /**
   * Clears the locks this client left when it was stopped mid-transfer (and unowned ones older
   * than `lock timeout`). An upload lock means its placeholder and data may not match: both are
   * removed when the placeholder is ours, so the file is sent again; a download lock only
   * guarded a local write, which is atomic here. Another client's lock is never touched.
   */
  async #repair(remote: Map<string, LegacyEntry>, stats: RoundStats): Promise<boolean> {
    let changed = false;
    for (const e of remote.values()) {
      if (!e.lock) continue;
      const lock = await this.store.readLock(e.path);
      if (!lock) continue;
      const ours = lock.owner === this.opts.clientName;
      const stale = lock.owner === undefined && this.opts.lockTimeoutSec > 0 &&
        e.lock.mtime > 0 && Date.now() - e.lock.mtime > this.opts.lockTimeoutSec * 1000;
      if (!ours && !stale) continue;
      if (ours && lock.mode !== "r") {
        const p = await this.store.readPlaceholder(e.path).catch(() => null);
        const row = this.state.get(e.path);
        // Killed after the publication was complete and recorded, while releasing its lock: the
        // placeholder and data stand. Otherwise they are a half-publication, taken back, and the
        // state forgets it so that the file is sent again.
        const complete = p !== null && e.data !== undefined && row?.base === p.checksum;
        if (p?.pusher === this.opts.clientName && !complete) {
          await this.store.deleteData(e.path);
          await this.store.deletePlaceholder(e.path);
          stats.relayWrites += 2;
          if (row) this.state.put({ ...row, base: "", remote: "" });
        }
      }
      this.log.log("info", `${e.path}: removing the lock left by ${lock.owner ?? "nobody"}`);
      await this.store.release(e.path);
      stats.relayWrites++;
      changed = true;
    }
    return changed;
  }

  /** Takes one resource if another pusher left a version for us; false when it is still due. */
  async #pull(e: LegacyEntry, local: LocalFile | undefined, stats: RoundStats): Promise<Step> {
    if (!e.placeholder || !e.data) return true;
    const me = this.opts.clientName;
    if (e.lock) return false;
    const p = await this.store.readPlaceholder(e.path);
    if (!p || p.pusher === me) return true;
    if (p.pullers.includes(me)) {
      // Signed, but the count was reached and the data is still here: the puller that
      // completed it was stopped before deleting it (this one or another). Nobody else would.
      if (new Set(p.pullers).size < this.#pullerCount) return true;
      return this.#finishRelease(e, p, stats);
    }
    const row = this.state.get(e.path);
    const version = versionOf(p);
    if (row && row.remote === version) {
      // Taken already (a run stopped before it signed the puller list): sign it now.
      return this.#signOnly(e, p, stats);
    }
    if (local && p.checksum === local.sum) {
      this.state.put({ ...local, base: local.sum, remote: version });
      return this.#signOnly(e, p, stats);
    }
    const localChanged = local !== undefined && local.sum !== (row?.base ?? "");
    return {
      mode: "r",
      run: async () => {
        const fresh = await this.store.readPlaceholder(e.path);
        if (!fresh || versionOf(fresh) !== version) return false;
        let dest = e.path;
        let keepsName = true;
        if (localChanged && local) {
          const remoteMs = (p.timestamp ?? 0) * 1000;
          const strategy = this.opts.conflict;
          const remoteWins = strategy === "remote" ||
            ((strategy === "newest" || strategy === "keep-both") && remoteMs >= local.mtime);
          stats.conflicts++;
          if (strategy === "local" || (!remoteWins && strategy === "newest")) {
            // The remote version loses and is dropped; local stays and is sent.
            this.emit({ type: "conflict", path: e.path, copy: null, kept: "local" });
            dest = "";
          } else if (!remoteWins) {
            dest = conflictName(e.path, p.pusher ?? "unknown", remoteMs);
            keepsName = false;
            this.emit({ type: "conflict", path: e.path, copy: dest, kept: "local" });
          } else if (strategy === "keep-both") {
            const copy = conflictName(e.path, me, local.mtime);
            await Deno.rename(
              await safeLocalPath(this.opts.localPath, e.path, false),
              await safeLocalPath(this.opts.localPath, copy, true),
            );
            this.emit({ type: "conflict", path: e.path, copy, kept: "remote" });
          } else {
            this.emit({ type: "conflict", path: e.path, copy: null, kept: "remote" });
          }
        }
        if (dest !== "") {
          const size = await this.#download(e.path, dest, fresh);
          stats.downloaded++;
          stats.downloadedBytes += size;
        }
        if (keepsName && dest !== "") {
          const f = await statFile(this.opts.localPath, e.path, this.state);
          if (f) this.state.put({ ...f, base: f.sum, remote: version });
        } else {
          // The local version keeps the name and still has to be sent.
          const base = row?.base ?? "";
          const f = local!;
          this.state.put({ ...f, base, remote: version });
        }
        await this.#sign(e.path, fresh, stats);
        return true;
      },
    };
  }

  /** Signs for a version this client already has. */
  #signOnly(e: LegacyEntry, p: Placeholder, stats: RoundStats): UnderLock {
    return {
      mode: "r",
      run: async () => {
        const fresh = await this.store.readPlaceholder(e.path);
        if (fresh && versionOf(fresh) === versionOf(p)) await this.#sign(e.path, fresh, stats);
        return true;
      },
    };
  }

  /** Deletes the data of a version whose puller list is complete (under a lock, re-checked). */
  #finishRelease(e: LegacyEntry, p: Placeholder, stats: RoundStats): UnderLock {
    return {
      mode: "r",
      run: async () => {
        const fresh = await this.store.readPlaceholder(e.path);
        if (
          fresh && versionOf(fresh) === versionOf(p) &&
          new Set(fresh.pullers).size >= this.#pullerCount
        ) {
          await this.store.deleteData(e.path);
          stats.relayWrites++;
        }
        return true;
      },
    };
  }

  /**
   * Appends this client to the puller list and, when that completes `puller count`, deletes
   * the data: Escale frees space this way. Counting names (not the placeholder's lines, as
   * Escale 0.7 does) lets several pullers each get the file.
   */
  async #sign(path: string, p: Placeholder, stats: RoundStats): Promise<void> {
    const pullers = [...p.pullers, this.opts.clientName];
    await this.store.writePlaceholder(path, { ...p, pullers });
    stats.relayWrites++;
    if (new Set(pullers).size >= this.#pullerCount) {
      await this.store.deleteData(path);
      stats.relayWrites++;
    }
  }

  /** Writes the relay's data of `path` to local `dest` (temporary file, then rename). */
  async #download(path: string, dest: string, p: Placeholder): Promise<number> {
    const abs = await safeLocalPath(this.opts.localPath, dest, true);
    const tmp = tempPathFor(abs);
    this.emit({ type: "file-start", direction: "down", path: dest, size: 0 });
    // Escale's `checksum` option names any hashlib algorithm (sha512 unless set).
    const hash = new LegacyChecksum(p.checksum);
    let size = 0;
    const file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o644 });
    try {
      for await (const chunk of await this.store.readData(path)) {
        hash.update(chunk);
        size += chunk.length;
        let w = 0;
        while (w < chunk.length) w += await file.write(chunk.subarray(w));
      }
      if (!(await hash.matches(tmp))) {
        throw new EscaleError(
          "integrity",
          `${this.store.relay.name}/${path}: content does not match its placeholder's checksum`,
        );
      }
      if (this.opts.modificationTime && p.timestamp !== undefined) {
        await file.utime(new Date(), new Date(p.timestamp * 1000));
      }
    } catch (e) {
      file.close();
      await Deno.remove(tmp).catch(() => {});
      throw e;
    }
    file.close();
    await Deno.rename(tmp, abs);
    this.emit({ type: "file-done", direction: "down", path: dest, size });
    return size;
  }

  /** Publishes one local file if it changed; false when it has to wait (lock, unresolved remote). */
  async #push(
    f: LocalFile,
    e: LegacyEntry | undefined,
    pulls: boolean,
    stats: RoundStats,
  ): Promise<Step> {
    const row = this.state.get(f.path);
    if (row && row.base === f.sum) return true;
    const me = this.opts.clientName;
    if (e?.lock) {
      const lock = await this.store.readLock(f.path);
      if (lock && lock.owner !== me) return false;
    }
    const current = e?.placeholder ? await this.store.readPlaceholder(f.path) : null;
    if (current && current.checksum === f.sum) {
      this.state.put({ ...f, base: f.sum, remote: versionOf(current) });
      return true;
    }
    // Another pusher's version this client has not taken: settle it first (next round).
    if (
      pulls && current && e?.data && current.pusher !== me &&
      !current.pullers.includes(me) && versionOf(current) !== row?.remote
    ) return false;
    return {
      mode: "w",
      run: async () => {
        const abs = `${this.opts.localPath}/${f.path}`;
        const bytes = await Deno.readFile(abs);
        const sum = createHash("sha512").update(bytes).digest("hex");
        if (sum !== f.sum) return false; // changed since the walk: next round
        const p: Placeholder = {
          pusher: me,
          timestamp: Math.floor(f.mtime / 1000),
          checksum: sum,
          extra: [],
          pullers: [],
        };
        this.emit({ type: "file-start", direction: "up", path: f.path, size: f.size });
        await this.store.writePlaceholder(f.path, p);
        await this.store.writeData(f.path, bytes);
        stats.relayWrites += 2;
        stats.uploaded++;
        stats.uploadedBytes += bytes.length;
        this.state.put({ ...f, base: sum, remote: versionOf(p) });
        this.emit({ type: "file-done", direction: "up", path: f.path, size: f.size });
        return true;
      },
    };
  }
}

function isLocalProblem(e: unknown): boolean {
  return isKind(e, "local-io") || isKind(e, "hostile") || isKind(e, "integrity");
}
