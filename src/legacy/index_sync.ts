import { describeError, EscaleError, isKind } from "../errors/errors.ts";
import { emptyStats, type ProgressEvent, type RoundStats } from "../engine/context.ts";
import { safeLocalPath, tempPathFor } from "../engine/local_fs.ts";
import type { ModeRules } from "../engine/modes.ts";
import type { Logger } from "../log/logger.ts";
import { LegacyChecksum } from "./checksum.ts";
import { chooseOnConflict, type ConflictChoice } from "./conflict_choice.ts";
import {
  type IndexSetting,
  pageOf,
  type PageView,
  persistentKey,
  updateDataKey,
  updateIndexKey,
} from "./index_pages.ts";
import type { IndexStore } from "./index_store.ts";
import type { IndexText } from "./index_text.ts";
import type { LegacyOptions } from "./legacy_repository.ts";
import type { LegacyState } from "./legacy_state.ts";
import { type LocalFile, statFile, walkLocal } from "./local_tree.ts";
import { legacyPathProblem } from "./names.ts";
import { formatPlaceholder, parsePlaceholder, type Placeholder, versionOf } from "./placeholder.ts";
import type { ArchiveFile, PackedFile } from "./update_archive.ts";

/** What one round leaves pending, for the status. */
export interface IndexRoundSummary {
  pendingUp: number;
  pendingDown: number;
  relayBytes: number;
  /** updates still on the relay (waiting for pullers) */
  unreleased: number;
}

/** One remote version this client takes from an update. */
interface Want extends ConflictChoice {
  path: string;
  p: Placeholder;
  version: string;
  local?: LocalFile;
}

/**
 * The rounds of a folder synchronised with an Escale 0.7 relay in the index layout
 * (docs/relay-format.md, "Index layout"). A round repairs what this client left when it was
 * killed, takes the pending update of every page (under the page lock `r`: the files this client
 * lacks are streamed out of the tar, checked against the index checksums and renamed into place;
 * then its name joins the update's puller list, and the puller that completes `puller count`
 * deletes the update, as Escale frees space), then publishes, per page, the local files that
 * changed, as one update (under the lock `w`: data, merged persistent index, update index).
 *
 * Fixed on our side, the Python peer unchanged: tar members and index entries that could escape
 * the folder (or are links, devices) are refused; locks are verified after writing; an update
 * whose index Escale emptied (its multi-puller defect) is still read through the persistent
 * index, and a rewritten update index keeps its entries; puller counts count names; a version
 * edited on both sides keeps both.
 */
export class IndexSync {
  constructor(
    readonly opts: LegacyOptions,
    readonly setting: IndexSetting,
    readonly store: IndexStore,
    readonly state: LegacyState,
    readonly log: Logger,
    readonly emit: (e: ProgressEvent) => void,
  ) {}

  get #me(): string {
    return this.opts.clientName;
  }

  /** With a puller count above 1, an update index without data is a spent update (#sign). */
  get #spentKept(): boolean {
    return (this.opts.pullerCount ?? 1) > 1;
  }

  get #tree() {
    return {
      root: this.opts.localPath,
      filter: this.opts.filter,
      skip: this.opts.skip ?? [],
      ownFiles: this.opts.ownFiles ?? [],
    };
  }

  async round(rules: ModeRules, stats: RoundStats): Promise<IndexRoundSummary> {
    let pages = await this.#repaired(await this.store.pages(), stats);
    let pendingDown = 0;
    if (rules.pulls) {
      const local = await walkLocal(this.#tree, this.state);
      for (const v of pages.values()) {
        pendingDown += await this.#guard(
          v.page,
          async () =>
            liveUpdate(v)
              ? await this.#pullPage(v, local, stats, false)
              : await this.#askForMissing(v, local, stats),
        );
      }
      pages = await this.store.pages();
    }
    let pendingUp = 0;
    if (rules.pushes) {
      const byPage = new Map<string, LocalFile[]>();
      for (const f of (await walkLocal(this.#tree, this.state)).values()) {
        const page = pageOf(f.path, this.setting);
        byPage.set(page, [...(byPage.get(page) ?? []), f]);
      }
      for (const [page, files] of byPage) {
        pendingUp += await this.#guard(
          page,
          () => this.#pushPage(page, pages.get(page), files, stats),
        );
      }
      pages = await this.store.pages();
    }
    let relayBytes = 0;
    let unreleased = 0;
    for (const v of pages.values()) {
      relayBytes += (v.index?.size ?? 0) + (v.lock?.size ?? 0);
      for (const u of v.updates.values()) {
        relayBytes += (u.index?.size ?? 0) + (u.data?.size ?? 0);
        if (u.data) unreleased++;
      }
    }
    return { pendingUp, pendingDown, relayBytes, unreleased };
  }

  /**
   * The last index round before a conversion: takes every file of every pending update that
   * this client does not hold, whatever its mode and the puller count. Returns what could not be
   * taken (a page locked by another client, a local problem).
   */
  async takeEverything(): Promise<string[]> {
    const stats = emptyStats();
    const pages = await this.#repaired(await this.store.pages(), stats);
    const local = await walkLocal(this.#tree, this.state);
    const due: string[] = [];
    for (const v of pages.values()) {
      if (!liveUpdate(v)) continue;
      const n = await this.#guard(v.page, () => this.#pullPage(v, local, stats, true));
      if (n > 0) due.push(`page ${v.page}`);
    }
    return due;
  }

  /** Runs one page's work; a local problem is logged and counted, the page left for later. */
  async #guard(page: string, work: () => Promise<number>): Promise<number> {
    try {
      return await work();
    } catch (err) {
      if (!isLocalProblem(err)) throw err;
      this.log.log("warn", `page ${page}: ${describeError(err)}`);
      this.emit({ type: "problem", path: `page ${page}`, reason: describeError(err) });
      return 1;
    }
  }

  /** The pages once repaired (twice: a lock released can uncover half an update). */
  async #repaired(pages: Map<string, PageView>, stats: RoundStats): Promise<Map<string, PageView>> {
    for (let i = 0; i < 2 && (await this.#repair(pages, stats)); i++) {
      pages = await this.store.pages();
    }
    return pages;
  }

  /**
   * Clears what this client left when it was killed: its page locks, and with a `w` lock (or
   * an unowned stale one) the page's update files, which may be incomplete (Escale's own
   * start-up repair does the same). Another client's lock is never touched. Then, on pages no
   * one holds, an update cut in half (data without its index, or the reverse) can never be
   * taken and would block the page for every pusher: it is removed under a `w` lock.
   */
  async #repair(pages: Map<string, PageView>, stats: RoundStats): Promise<boolean> {
    let changed = false;
    for (const v of pages.values()) {
      if (v.lock) {
        const lock = await this.store.locks.readLock(v.page);
        if (!lock) continue;
        const ours = lock.owner === this.#me;
        const stale = lock.owner === undefined && this.opts.lockTimeoutSec > 0 &&
          v.lock.mtime > 0 && Date.now() - v.lock.mtime > this.opts.lockTimeoutSec * 1000;
        if (!ours && !stale) continue;
        if (lock.mode !== "r") await this.#deleteUpdates(v);
        this.log.log("info", `page ${v.page}: removing the lock left by ${lock.owner ?? "nobody"}`);
        await this.store.locks.release(v.page);
        stats.relayWrites++;
        changed = true;
        continue;
      }
      if (!brokenUpdate(v, this.#spentKept) || !(await this.store.locks.acquire(v.page, "w"))) {
        continue;
      }
      stats.relayWrites++;
      try {
        const fresh = (await this.store.pages()).get(v.page);
        if (fresh && brokenUpdate(fresh, this.#spentKept)) {
          this.log.log("warn", `page ${v.page}: removing an incomplete or duplicate update`);
          await this.#deleteUpdates(fresh);
          changed = true;
        }
      } finally {
        await this.store.locks.release(v.page);
        stats.relayWrites++;
      }
    }
    return changed;
  }

  async #deleteUpdates(v: PageView): Promise<void> {
    for (const [ts, u] of v.updates) {
      if (u.index) await this.store.delete(updateIndexKey(v.page, ts));
      if (u.data) await this.store.delete(updateDataKey(v.page, ts));
    }
  }

  /** Takes the pending update of a page; returns how many files stay due (0: done). */
  async #pullPage(
    v: PageView,
    local: Map<string, LocalFile>,
    stats: RoundStats,
    everything: boolean,
  ): Promise<number> {
    const [entry] = v.updates;
    if (v.updates.size !== 1 || !entry[1].index || !entry[1].data) {
      return everything ? v.updates.size : 0;
    }
    const ts = entry[0];
    if (v.lock) return 1;
    // Read before locking: an update this client took already, or its own, needs no lock.
    const seen = await this.store.readUpdateIndex(v.page, ts);
    if (!seen || (!everything && this.#notForMe(seen))) return 0;
    if (!(await this.store.locks.acquire(v.page, "r"))) return 1;
    stats.relayWrites++;
    try {
      const update = await this.store.readUpdateIndex(v.page, ts);
      if (!update || (!everything && this.#notForMe(update))) return 0;
      // Escale's first-visit puller rewrites the update index with no entries (its
      // multi-puller defect): the persistent index still describes the files of the tar.
      const described = update.entries.size > 0
        ? update.entries
        : (await this.store.readPersistent(v.page))?.entries ?? new Map();
      const wanted = this.#wanted(v.page, described, local, everything, stats);
      const done = new Set<string>();
      const failed = new Set<string>();
      if (wanted.size > 0) {
        await this.store.readUpdateData(
          v.page,
          ts,
          async (f) => {
            const w = wanted.get(f.path);
            if (!w || done.has(f.path)) return;
            try {
              const size = await this.#receive(f, w);
              done.add(f.path);
              stats.downloaded++;
              stats.downloadedBytes += size;
            } catch (err) {
              if (!isLocalProblem(err)) throw err;
              failed.add(f.path);
              stats.problems++;
              this.log.log("warn", `${f.path}: not received: ${describeError(err)}`);
              this.emit({ type: "problem", path: f.path, reason: describeError(err) });
            }
          },
          (name, why) => {
            stats.problems++;
            this.log.log(
              "warn",
              `${this.store.relay.name}/${updateDataKey(v.page, ts)}: refusing ${
                JSON.stringify(name)
              }: ${why}`,
            );
          },
        );
      }
      const missing = [...wanted.keys()].filter((p) => !done.has(p) && !failed.has(p));
      if (missing.length > 0) {
        this.log.log(
          "warn",
          `page ${v.page}: ${missing.length} file(s) missing from the update (first: ${
            missing[0]
          })`,
        );
        if (!everything) await this.#requestMissing(v.page, missing, stats);
      }
      if (failed.size > 0) return failed.size;
      if (!everything) await this.#sign(v.page, ts, update.entries, update.pullers, stats);
      return 0;
    } finally {
      await this.store.locks.release(v.page);
      stats.relayWrites++;
    }
  }

  /** The versions of `described` this client takes, and where each goes. */
  #wanted(
    page: string,
    described: Map<string, string | null>,
    local: Map<string, LocalFile>,
    everything: boolean,
    stats: RoundStats,
  ): Map<string, Want> {
    const out = new Map<string, Want>();
    for (const [path, meta] of described) {
      if (meta === null) continue;
      const problem = legacyPathProblem(path);
      if (problem) {
        this.log.log("warn", `page ${page}: refusing ${JSON.stringify(path)}: ${problem}`);
        continue;
      }
      if (!this.#accepted(path)) continue;
      let p: Placeholder;
      try {
        p = parsePlaceholder(meta, `${this.store.relay.name}/${persistentKey(page)}: ${path}`);
      } catch (err) {
        this.log.log("warn", describeError(err));
        continue;
      }
      if (p.pusher === this.#me && !(everything && !local.has(path))) continue;
      const version = versionOf(p);
      const row = this.state.get(path);
      const l = local.get(path);
      if (l && p.checksum === l.sum) {
        this.state.put({ ...l, base: l.sum, remote: version });
        continue;
      }
      if (row?.remote === version && (!everything || l)) continue;
      const localChanged = l !== undefined && l.sum !== (row?.base ?? "");
      const choice: ConflictChoice = localChanged
        ? chooseOnConflict(
          this.opts.conflict,
          path,
          { pusher: p.pusher ?? "unknown", mtimeMs: (p.timestamp ?? 0) * 1000 },
          { client: this.#me, mtimeMs: l!.mtime },
        )
        : { dest: path, keepsName: true, kept: "remote" };
      if (localChanged) stats.conflicts++;
      if (choice.dest === "") {
        // The local version wins and is sent; the remote one is known, never taken.
        this.emit({ type: "conflict", path, copy: null, kept: "local" });
        this.state.put({ ...l!, base: row?.base ?? "", remote: version });
        continue;
      }
      out.set(path, { ...choice, path, p, version, local: l });
    }
    return out;
  }

  /**
   * An update this client signed already, or its own (which waits for the others: it never
   * signs it).
   */
  #notForMe(update: IndexText): boolean {
    if (update.pullers.includes(this.#me)) return true;
    if (update.entries.size === 0) return false;
    for (const meta of update.entries.values()) {
      if (!meta || !/^pusher: /m.test(meta)) return false;
      const pusher = /^pusher: (.*)$/m.exec(meta)![1].trim();
      if (pusher !== this.#me) return false;
    }
    return true;
  }

  #accepted(path: string): boolean {
    const segs = path.split("/");
    for (let i = 1; i < segs.length; i++) {
      if (!this.opts.filter.acceptDir(segs.slice(0, i).join("/"))) return false;
    }
    return this.opts.filter.acceptFile(path) && !(this.opts.ownFiles ?? []).includes(path);
  }

  /**
   * Writes one file of the tar to its local name: temporary file, checksum against the index,
   * mtime from the index, rename. Returns its size.
   */
  async #receive(f: ArchiveFile, w: Want): Promise<number> {
    const root = this.opts.localPath;
    if (w.local && w.local.sum !== (this.state.get(w.path)?.base ?? "")) {
      const copy = w.moveLocal ?? (w.keepsName ? null : w.dest);
      this.emit({ type: "conflict", path: w.path, copy, kept: w.kept });
    }
    const abs = await safeLocalPath(root, w.dest, true);
    const tmp = tempPathFor(abs);
    this.emit({ type: "file-start", direction: "down", path: w.dest, size: f.size });
    const hash = new LegacyChecksum(w.p.checksum);
    let size = 0;
    const file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o644 });
    try {
      for await (const chunk of f.body) {
        hash.update(chunk);
        size += chunk.length;
        let n = 0;
        while (n < chunk.length) n += await file.write(chunk.subarray(n));
      }
      if (!(await hash.matches(tmp))) {
        throw new EscaleError(
          "integrity",
          `${w.path}: the update's content does not match its index checksum`,
        );
      }
      if (this.opts.modificationTime && w.p.timestamp !== undefined) {
        await file.utime(new Date(), new Date(w.p.timestamp * 1000));
      }
    } catch (e) {
      file.close();
      await Deno.remove(tmp).catch(() => {});
      throw e;
    }
    file.close();
    if (w.moveLocal) {
      await Deno.rename(
        await safeLocalPath(root, w.path, false),
        await safeLocalPath(root, w.moveLocal, true),
      );
    }
    await Deno.rename(tmp, abs);
    this.emit({ type: "file-done", direction: "down", path: w.dest, size });
    if (w.keepsName) {
      const got = await statFile(root, w.path, this.state);
      if (got) this.state.put({ ...got, base: got.sum, remote: w.version });
    } else {
      this.state.put({ ...w.local!, base: this.state.get(w.path)?.base ?? "", remote: w.version });
    }
    return size;
  }

  /**
   * Escale's `requestMissing`: files the index lists but no update brings are removed from the
   * persistent index, so that their pusher sends them again. A page is never emptied this way
   * (Escale refuses it too unless `allow page deletion` is set).
   */
  async #requestMissing(page: string, paths: string[], stats: RoundStats): Promise<void> {
    const idx = await this.store.readPersistent(page);
    if (!idx) return;
    const kept = new Map([...idx.entries].filter(([p]) => !paths.includes(p)));
    // An empty page makes Escale's pusher stop ("page exists but is empty"): one entry stays,
    // asked for at a later round, once the others are back.
    if (kept.size === 0) {
      const [first] = idx.entries;
      kept.set(first[0], first[1]);
    }
    if (kept.size === idx.entries.size) return;
    try {
      await this.store.writePersistent(page, kept);
    } catch (err) {
      if (!isKind(err, "usage")) throw err;
      this.log.log("warn", `page ${page}: cannot ask for missing files: ${describeError(err)}`);
      return;
    }
    stats.relayWrites++;
    this.log.log(
      "info",
      `page ${page}: asked the pushers for ${idx.entries.size - kept.size} missing file(s)`,
    );
  }

  /**
   * A page without a pending update whose index lists versions this client lacks (it joined
   * after they were delivered, or missed them): Escale's pullers then ask for them, as
   * #requestMissing does, and so does this one. Looked at again only when the page changes.
   */
  async #askForMissing(
    v: PageView,
    local: Map<string, LocalFile>,
    stats: RoundStats,
  ): Promise<number> {
    if (!v.index || v.lock) return 0;
    const stamp = `${v.index.size}:${v.index.mtime}`;
    if (this.state.getMeta(`seen:${v.page}`) === stamp) return 0;
    const idx = await this.store.readPersistent(v.page);
    if (!idx) return 0;
    // Conflicts are counted when a version arrives, not when it is asked for.
    const wanted = this.#wanted(v.page, idx.entries, local, false, emptyStats());
    if (wanted.size === 0) {
      this.state.setMeta(`seen:${v.page}`, stamp);
      return 0;
    }
    if (!(await this.store.locks.acquire(v.page, "r"))) return wanted.size;
    stats.relayWrites++;
    try {
      const fresh = (await this.store.pages()).get(v.page);
      if (fresh && !liveUpdate(fresh)) {
        await this.#requestMissing(v.page, [...wanted.keys()], stats);
      }
    } finally {
      await this.store.locks.release(v.page);
      stats.relayWrites++;
    }
    return wanted.size;
  }

  /**
   * Adds this client to the update's pullers (distinct names, unlike Escale, which counts a
   * trailing empty line). The puller that completes `puller count` deletes the update's data
   * (Escale frees space this way) but, with a count above 1, leaves the update index, signed,
   * (no entries) as a spent update: Escale's puller with a count above 1 visits every page with a full index
   * at start-up and on idle rounds, then signs the page's update index, and with none on the
   * relay it crashes and keeps its page lock (docs/relay-format.md, "Index layout"). A spent
   * update is never pulled; the next pusher removes it under its `w` lock. Otherwise the update
   * index is written back with its entries, which Escale drops.
   */
  async #sign(
    page: string,
    ts: number,
    entries: Map<string, string | null>,
    pullers: string[],
    stats: RoundStats,
  ): Promise<void> {
    const names = [...new Set([...pullers, this.#me])];
    const count = this.opts.pullerCount ?? 1;
    if (names.length >= count && count <= 1) {
      // Index first, as Escale does: cut here, data without its index is repaired.
      await this.store.delete(updateIndexKey(page, ts));
      await this.store.delete(updateDataKey(page, ts));
      stats.relayWrites += 2;
      return;
    }
    if (names.length >= count) {
      // The data goes first: cut here, an index without data is a spent update already.
      await this.store.delete(updateDataKey(page, ts));
      // No entries, as Escale writes it: its puller then finds nothing to fetch in the update.
      await this.store.writeUpdateIndex(page, ts, new Map(), names);
      stats.relayWrites += 2;
      return;
    }
    await this.store.writeUpdateIndex(page, ts, entries, names);
    stats.relayWrites++;
  }

  /** Publishes the changed files of one page as an update; returns how many wait for later. */
  async #pushPage(
    page: string,
    view: PageView | undefined,
    files: LocalFile[],
    stats: RoundStats,
  ): Promise<number> {
    const changed = files.filter((f) => this.state.get(f.path)?.base !== f.sum);
    const indexStamp = view?.index ? `${view.index.size}:${view.index.mtime}` : "";
    if (changed.length === 0 && this.state.getMeta(`index:${page}`) === indexStamp) return 0;
    const blocked = (view !== undefined && liveUpdate(view)) || view?.lock !== undefined;
    const idx = await this.store.readPersistent(page);
    const candidates = this.#toSend(page, files, idx?.entries ?? new Map());
    if (candidates.length === 0) {
      // Nothing to send until a file changes here or the index changes (a puller asked again).
      if (!blocked) this.state.setMeta(`index:${page}`, indexStamp);
      return 0;
    }
    // One pending update per page (Escale's rule): a page waits until its pullers took it.
    if (blocked || !(await this.store.locks.acquire(page, "w"))) return candidates.length;
    stats.relayWrites++;
    try {
      const fresh = (await this.store.pages()).get(page);
      if (fresh && liveUpdate(fresh)) return candidates.length;
      // A spent update (its data released by the last puller) makes way for this one.
      if (fresh) await this.#deleteUpdates(fresh);
      const current = (await this.store.readPersistent(page))?.entries ?? new Map();
      const send = this.#toSend(page, files, current);
      if (send.length === 0) return 0;
      const batch: LocalFile[] = [];
      let size = 0;
      for (const f of send) {
        batch.push(f);
        size += f.size;
        if (size > this.opts.maxPageSize) break;
      }
      // Later than a spent update's: Escale's pullers skip a timestamp they saw already.
      const ts = Math.max(
        Math.round(Date.now() / 1000),
        ...[...(fresh?.updates.keys() ?? [])].map((t) => t + 1),
      );
      for (const f of batch) {
        this.emit({ type: "file-start", direction: "up", path: f.path, size: f.size });
      }
      const update = new Map<string, string | null>();
      const placeholders = new Map<string, Placeholder>();
      let packed: Map<string, PackedFile>;
      try {
        packed = await this.store.writeUpdateData(
          page,
          ts,
          batch.map((f) => ({ path: f.path, abs: `${this.opts.localPath}/${f.path}` })),
        );
        stats.relayWrites++;
        for (const f of batch) {
          const got = packed.get(f.path)!;
          const p: Placeholder = {
            pusher: this.#me,
            timestamp: Math.floor(got.mtime / 1000),
            checksum: got.sum,
            extra: [],
            pullers: [],
          };
          placeholders.set(f.path, p);
          update.set(f.path, formatPlaceholder(p));
        }
        const merged = new Map(current);
        for (const [k, m] of update) merged.set(k, m);
        await this.store.writePersistent(page, merged);
        await this.store.writeUpdateIndex(page, ts, update);
        stats.relayWrites += 2;
      } catch (err) {
        // Half an update would block the page for Escale's clients: it goes before the lock
        // does (the files are sent again at a later round).
        await this.store.delete(updateIndexKey(page, ts)).catch(() => {});
        await this.store.delete(updateDataKey(page, ts)).catch(() => {});
        throw err;
      }
      for (const f of batch) {
        const got = packed.get(f.path)!;
        const p = placeholders.get(f.path)!;
        stats.uploaded++;
        stats.uploadedBytes += got.size;
        this.state.put({ ...f, sum: got.sum, base: got.sum, remote: versionOf(p) });
        this.emit({ type: "file-done", direction: "up", path: f.path, size: got.size });
      }
      return send.length - batch.length;
    } finally {
      await this.store.locks.release(page);
      stats.relayWrites++;
    }
  }

  /**
   * The local files of a page to publish, given its persistent index: a file the index lacks
   * (new, or asked for again by a puller), or one changed here since it was last exchanged.
   * A file the index holds with the same content is recorded as exchanged, unless this client
   * published it and never saw that round finish (a killed push: it is sent again). A file
   * unchanged here whose index version is newer is left for the pull.
   */
  #toSend(page: string, files: LocalFile[], index: Map<string, string | null>): LocalFile[] {
    const out: LocalFile[] = [];
    for (const f of files) {
      if (/\s$/u.test(f.path)) {
        // Escale strips trailing blanks from index lines: the name would come back changed.
        this.log.log("warn", `${f.path}: not sent: a name ending with a blank cannot be indexed`);
        continue;
      }
      const row = this.state.get(f.path);
      const meta = index.get(f.path);
      let p: Placeholder | null = null;
      if (meta) {
        try {
          p = parsePlaceholder(meta, `${this.store.relay.name}/${persistentKey(page)}: ${f.path}`);
        } catch {
          p = null;
        }
      }
      if (!p) {
        out.push(f);
        continue;
      }
      const same = p.checksum !== undefined
        ? p.checksum === f.sum
        : p.timestamp === Math.floor(f.mtime / 1000);
      if (same && (p.pusher !== this.#me || row?.base === f.sum)) {
        if (row?.base !== f.sum || row.remote !== versionOf(p)) {
          this.state.put({ ...f, base: f.sum, remote: versionOf(p) });
        }
        continue;
      }
      if (row?.base === f.sum && !same) continue;
      out.push(f);
    }
    return out;
  }
}

/**
 * Two timestamps on one page, or half an update: Escale can never take it. With `spentKept`
 * (a puller count above 1), an index without data is a spent update (see #sign), not a broken
 * one: both pushers write the data first, so only a finished update loses its data.
 */
function brokenUpdate(v: PageView, spentKept: boolean): boolean {
  return v.updates.size > 1 ||
    [...v.updates.values()].some((u) => !u.index || (!u.data && !spentKept));
}

/** The page has an update still to take: one, with its data. */
function liveUpdate(v: PageView): boolean {
  return [...v.updates.values()].some((u) => u.data !== undefined);
}

function isLocalProblem(e: unknown): boolean {
  return isKind(e, "local-io") || isKind(e, "hostile") || isKind(e, "integrity");
}
