import type { Logger } from "../log/logger.ts";
import { type ClientRecord, newClientId, validateClientRecord } from "../protocol/format.ts";
import type { CommitRef, RelayStore } from "../protocol/relay_store.ts";
import { refuseMoved } from "../protocol/moved_record.ts";
import { StateDb } from "../state/state_db.ts";
import {
  emptyStats,
  expectedPullers,
  HEARTBEAT_MS,
  type ProgressEvent,
  type RepoOptions,
  type RepoStatus,
  type RoundContext,
  type RoundStats,
} from "./context.ts";
import { gcPhase } from "./gc.ts";
import { forEachLimit } from "./pool.ts";
import { type ModeRules, modeRules } from "./modes.ts";
import {
  checkDeleteShare,
  commitsToPull,
  openWants,
  pullPhase,
  readCommitsAhead,
  retryProblems,
  undoLocalChanges,
} from "./pull.ts";
import { publishFullCopy, pushPhase, recoverPending, sendableRows } from "./push.ts";
import { scanLocal, type ScanResult } from "./scan.ts";
import { Hasher, WORKER_MIN } from "./hasher.ts";

/**
 * One local folder synchronised with one relay: owns the state database and runs rounds.
 * A round is: read the relay's client records and commit list, recover an interrupted
 * publication, scan the local tree, apply others' commits, publish local changes, release
 * acknowledged commits, and update this client's record (only when something in it changed).
 */
export class Repository {
  readonly opts: RepoOptions;
  readonly store: RelayStore;
  readonly state: StateDb;
  readonly log: Logger;
  readonly me: string;
  emit: (e: ProgressEvent) => void = () => {};

  private constructor(
    opts: RepoOptions,
    store: RelayStore,
    state: StateDb,
    log: Logger,
    me: string,
    movedReadUntil: number,
  ) {
    this.opts = opts;
    this.store = store;
    this.state = state;
    this.log = log;
    this.me = me;
    this.#movedReadUntil = movedReadUntil;
  }

  /** Until when the moved record read while the relay was opened stands for the first round's. */
  #movedReadUntil: number;

  /**
   * Opens the state and binds it to this relay (identified by its header's creation stamp).
   * `movedReadUntil`: the caller read the moved record while it opened the relay, and a first
   * round starting before that time need not read it again.
   */
  static open(
    opts: RepoOptions,
    store: RelayStore,
    relayId: string,
    statePath: string,
    log: Logger,
    movedReadUntil = 0,
  ): Repository {
    const state = StateDb.open(statePath);
    const known = state.relayId();
    if (known !== undefined && known !== relayId) {
      log.log(
        "warn",
        `the relay ${store.name} was replaced or recreated since the last round; republishing local files`,
      );
      state.resetRelayState();
    }
    state.setRelayId(relayId);
    let me = state.clientId();
    if (!me) {
      me = newClientId();
      state.setClientId(me);
    }
    return new Repository(opts, store, state, log, me, movedReadUntil);
  }

  /** Closes the state and the relay connection (network clients, an rclone daemon). */
  async close(): Promise<void> {
    this.state.close();
    await this.store.relay.close().catch(() => {});
  }

  async round(): Promise<RoundStats> {
    // A client that keeps running while its relay is migrated stops at its next round. Reading
    // the round's context only reads the relay, so the check goes alongside it (no round trip of
    // its own) and is settled before anything is written. The first round needs no check of its
    // own when opening the relay just read the record: the check after each commit (push.ts) still
    // catches a migration that began since.
    const moved = Date.now() <= this.#movedReadUntil
      ? Promise.resolve()
      : refuseMoved(this.store.relay);
    this.#movedReadUntil = 0;
    moved.catch(() => {}); // awaited below; a rejection must not count as unhandled meanwhile
    const rules = modeRules(this.opts.mode, this.opts.propagateDeletions);
    // The local scan needs nothing from the relay: it runs while the round's first requests are
    // on their way. Not when a publication was interrupted: recovering it comes first, since it
    // changes the versions the scan compares the files with.
    const scan = this.state.getPending() ? undefined : this.#scan();
    scan?.catch(() => {}); // awaited below
    const ctx = await this.#context(rules).catch(async (e) => {
      await scan?.catch(() => {}); // nothing of this round goes on once it failed
      await moved;
      throw e;
    });
    try {
      await moved;
      return await this.#round(ctx, rules, scan);
    } catch (e) {
      await scan?.catch(() => {});
      throw e;
    } finally {
      ctx.hasher.close();
    }
  }

  /**
   * `escale fix` on a relay that lost this client's commits and record: finishes an interrupted
   * publication, scans the local tree, publishes a full copy of every settled version (their
   * version vectors unchanged, deletions included) for every client, and writes this client's
   * record. Local changes not published yet stay dirty and go with the next round.
   */
  async rebuild(): Promise<{ entries: number; stats: RoundStats }> {
    const rules = modeRules(this.opts.mode, this.opts.propagateDeletions);
    const ctx = await this.#context(rules, false);
    try {
      await recoverPending(ctx);
      await this.#scan();
      const entries = await publishFullCopy(ctx);
      await this.#updateOwnRecord(ctx);
      return { entries, stats: ctx.stats };
    } finally {
      ctx.hasher.close();
    }
  }

  /** `pulling`: the round will pull, so the commits to apply are read ahead. */
  async #context(rules: ModeRules, pulling = rules.pulls): Promise<RoundContext> {
    // The commits are listed alongside the client records' listing (one round trip, not two). A
    // record must never be newer than the listing of commits it is compared with (relay-format
    // §6, rule 5): records taken from the cache were read in an earlier round, before that
    // round's listing and so before this one; a record read now is newer only if it claims a
    // commit the early listing lacks (published since), and then the commits are listed again.
    const early = this.store.listCommits();
    early.catch(() => {}); // awaited below, or settled and dropped
    // What there is to pull is read alongside the records (commits never change once written).
    const parallel = Math.max(1, this.store.relay.capabilities.parallel);
    const reading = pulling
      ? early.then((l) =>
        readCommitsAhead(this.store, commitsToPull(this.me, this.state, l), parallel)
      )
      : Promise.resolve(new Map());
    reading.catch(() => {}); // fails with `early`
    const { clients, fresh } = await this.#readClients().catch(async (e) => {
      await early.catch(() => {});
      throw e;
    });
    const listed = await early;
    const commits = claimsUnlisted(fresh, listed) ? await this.store.listCommits() : listed;
    const commitReads = await reading;
    return {
      opts: this.opts,
      rules,
      root: this.opts.localPath,
      state: this.state,
      store: this.store,
      me: this.me,
      log: this.log,
      emit: (e) => this.emit(e),
      stats: emptyStats(),
      clients,
      commits,
      commitReads,
      hasher: new Hasher(),
      problems: new Set(),
    };
  }

  #scan(): Promise<ScanResult> {
    return scanLocal({
      root: this.opts.localPath,
      state: this.state,
      filter: this.opts.filter,
      hiddenFiles: this.opts.hiddenFiles,
      me: this.me,
      skip: this.opts.skip,
      ownFiles: this.opts.ownFiles,
      lazyHashMin: WORKER_MIN,
    });
  }

  /** `early`: the scan, when it was started with the round. */
  async #round(
    ctx: RoundContext,
    rules: ModeRules,
    early?: Promise<ScanResult>,
  ): Promise<RoundStats> {
    if (this.state.registered() && !ctx.clients.has(this.me)) {
      // Evicted by an operator (or the relay lost the record): join again from scratch, so the
      // pushers send what was released meanwhile.
      this.log.log("warn", `this client was evicted from ${this.store.name}; joining again`);
      this.state.forgetProgress();
    }
    await recoverPending(ctx);
    const scan = await (early ?? this.#scan());
    ctx.stats.problems += scan.problems;
    if (rules.pushDeletes) {
      // A rename or a folder move deletes nothing: its sources do not count.
      const moved = new Set(scan.movedFrom);
      const published = scan.deleted.filter((p) =>
        !moved.has(p) && this.state.getFile(p)?.deleted === true
      ).length;
      checkDeleteShare(ctx, published, "local deletions would remove", published);
    }
    this.log.log(
      "debug",
      `scanned ${scan.files} files, hashed ${scan.hashed}, ${scan.changed.length} changed, ${scan.deleted.length} deleted`,
    );
    if (rules.pulls) {
      retryProblems(ctx);
      await pullPhase(ctx);
    }
    if (rules.mirrorLocal) await undoLocalChanges(ctx);
    // Release before publishing, so that space freed by pullers counts against the quota now.
    await gcPhase(ctx);
    if (rules.pushes) await pushPhase(ctx);
    await this.#updateOwnRecord(ctx);
    this.status = this.#status(ctx);
    return ctx.stats;
  }

  /** The state after the last round (for `escale ctl status`). */
  status: RepoStatus | null = null;

  #status(ctx: RoundContext): RepoStatus {
    const mine = ctx.commits.filter((c) => c.cid === this.me);
    // The commits published by this round are not in ctx.commits: the state lists them all.
    const unreleased = [...new Set([...mine.map((c) => c.seq), ...this.state.publishedSeqs()])];
    const pullers = expectedPullers(ctx);
    const needs = (p: ClientRecord, seq: number) => {
      const targets = this.state.getPublished(seq)?.targets;
      return (!targets || targets.includes(p.id)) && (p.acks[this.me] ?? 0) < seq;
    };
    return {
      pendingUploads: this.state.countDirty(),
      unsent: ctx.rules.pushes ? sendableRows(ctx).length : 0,
      pendingDownloads:
        ctx.commits.filter((c) => c.cid !== this.me && c.seq > this.state.getAck(c.cid)).length,
      unreleased: unreleased.length,
      pullers: pullers.map((p) => p.name),
      waitingOn: pullers
        .map((p) => ({
          client: p.name,
          commits: unreleased.filter((seq) => needs(p, seq)).length,
        }))
        .filter((w) => w.commits > 0),
      relayBytes: this.state.publishedBytes() + mine.reduce((n, c) => n + c.size, 0),
      diskQuota: this.opts.diskQuota,
      problems: this.state.problems().map((p) => ({
        path: p.path,
        direction: p.direction,
        reason: p.reason,
        since: new Date(p.since).toISOString(),
      })),
    };
  }

  /**
   * Client records, re-read only when their size or time changed since the last round, fetched
   * together (one round trip, not one per client). `fresh` holds the records of other clients
   * read from the relay: this client's own record was written by this process (the state lock
   * keeps it alone) before the round began, so reading it back makes nothing newer.
   */
  async #readClients(): Promise<{ clients: Map<string, ClientRecord>; fresh: ClientRecord[] }> {
    const ids = await this.store.listClientIds();
    const found = new Map<string, ClientRecord>();
    const toRead = [];
    for (const { cid, entry } of ids) {
      const cached = this.state.cachedClient(cid);
      if (
        cached && cached.size === entry.size && cached.mtime === entry.mtime && entry.mtime !== 0
      ) {
        found.set(cid, validateClientRecord(JSON.parse(cached.record), entry.key, cid));
      } else toRead.push({ cid, entry });
    }
    // Opening read the header and listed the relay together, so the backend's connections are
    // already open: records to read go together, whatever their number.
    const parallel = Math.max(1, this.store.relay.capabilities.parallel);
    await forEachLimit(toRead, parallel, async ({ cid, entry }) => {
      const rec = await this.store.readClient(cid);
      if (!rec) return;
      found.set(cid, rec);
      this.state.cacheClient(cid, entry.size, entry.mtime, JSON.stringify(rec));
    });
    // In the order of the listing, whatever order the answers came in.
    const out = new Map<string, ClientRecord>();
    for (const { cid } of ids) {
      const rec = found.get(cid);
      if (rec) out.set(cid, rec);
    }
    const fresh = toRead.filter((r) => r.cid !== this.me).map((r) => found.get(r.cid));
    return { clients: out, fresh: fresh.filter((r) => r !== undefined) };
  }

  async #updateOwnRecord(ctx: RoundContext): Promise<void> {
    const onRelay = ctx.clients.get(this.me);
    const wants = openWants(ctx);
    const rec: ClientRecord = {
      v: 1,
      id: this.me,
      name: this.opts.clientName,
      pulls: ctx.rules.pulls,
      pushes: ctx.rules.pushes,
      joined: onRelay?.joined ?? new Date().toISOString(),
      seen: new Date().toISOString(),
      acks: this.state.allAcks(),
      first: this.state.firstSeen(),
      seq: this.state.seq(),
    };
    if (wants) rec.wants = wants;
    const same = onRelay && onRelay.name === rec.name && onRelay.pulls === rec.pulls &&
      onRelay.pushes === rec.pushes &&
      JSON.stringify(sorted(onRelay.acks)) === JSON.stringify(sorted(rec.acks)) &&
      JSON.stringify(sorted(onRelay.first ?? {})) === JSON.stringify(sorted(rec.first ?? {})) &&
      (onRelay.seq ?? 0) === rec.seq &&
      JSON.stringify(onRelay.wants ?? {}) === JSON.stringify(rec.wants ?? {});
    if (same && Date.now() - Date.parse(onRelay.seen) < HEARTBEAT_MS) return;
    for (const other of ctx.clients.values()) {
      if (other.id !== this.me && other.name === rec.name && !onRelay) {
        this.log.log(
          "warn",
          `another client on this relay is also named "${rec.name}"; give each client a unique "client name"`,
        );
      }
    }
    await this.store.writeClient(rec);
    this.state.setRegistered();
    ctx.stats.relayWrites++;
  }
}

function sorted(o: Record<string, number>): [string, number][] {
  return Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1));
}

/** Whether a record says its client published a commit later than any `listed` shows. */
function claimsUnlisted(records: ClientRecord[], listed: CommitRef[]): boolean {
  const newest = new Map<string, number>();
  for (const c of listed) newest.set(c.cid, Math.max(newest.get(c.cid) ?? 0, c.seq));
  return records.some((r) => (r.seq ?? 0) > (newest.get(r.id) ?? 0));
}
