import { DatabaseSync, type StatementSync } from "node:sqlite";
import { EscaleError } from "../errors/errors.ts";
import type { VersionVector } from "../protocol/format.ts";

/**
 * What one client knows about its repository, in SQLite (node:sqlite): per path the last scanned
 * local metadata and the version it corresponds to, how far each pusher's commits have been
 * applied, the relay's client records (cached by size and mtime so idle rounds read nothing),
 * access modifiers, and the commit being published (crash recovery).
 *
 * Row meaning (files): `hash/size/mtime/ino` describe the local file as last scanned or written;
 * `vv` is the version vector of the last version exchanged through the relay (the base);
 * `dirty` says the local content differs from that version and still has to be published;
 * `deleted` says the file is absent locally (a tombstone keeps its vv for later comparisons).
 */
export interface FileRow {
  path: string;
  size: number;
  mtime: number;
  ino: number;
  hash: string;
  vv: VersionVector;
  origin: string;
  deleted: boolean;
  dirty: boolean;
  movedFrom: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files(
  path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime INTEGER NOT NULL, ino INTEGER NOT NULL,
  hash TEXT NOT NULL, vv TEXT NOT NULL, origin TEXT NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0, dirty INTEGER NOT NULL DEFAULT 0, moved_from TEXT);
CREATE INDEX IF NOT EXISTS files_hash ON files(hash);
CREATE INDEX IF NOT EXISTS files_dirty ON files(dirty) WHERE dirty = 1;
CREATE TABLE IF NOT EXISTS acks(pusher TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS clients(cid TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime INTEGER NOT NULL,
  record TEXT NOT NULL, welcomed INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS access(path TEXT PRIMARY KEY, r TEXT NOT NULL, w TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pending(seq INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS published(seq INTEGER PRIMARY KEY, targets TEXT, objects TEXT NOT NULL,
  bytes INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS wants(pusher TEXT NOT NULL, path TEXT NOT NULL, id INTEGER NOT NULL,
  PRIMARY KEY(pusher, path));
CREATE TABLE IF NOT EXISTS problems(path TEXT NOT NULL, direction TEXT NOT NULL, reason TEXT NOT NULL,
  since INTEGER NOT NULL, tries INTEGER NOT NULL DEFAULT 1, pusher TEXT, retried INTEGER,
  PRIMARY KEY(path, direction));
`;

/** A file that could not be synchronised; kept until it succeeds (shown by `ctl status`). */
export interface Problem {
  path: string;
  /** "down": a remote version could not be written here; "up": a local file could not be read */
  direction: "down" | "up";
  reason: string;
  /** ms since the epoch of the first failure */
  since: number;
  tries: number;
  /** down: the client that published the version (asked again when the cause is gone) */
  pusher: string | null;
  /** ms since the epoch when it was last asked again, or null */
  retried: number | null;
}

type Row = Record<string, unknown>;

function toFileRow(r: Row): FileRow {
  return {
    path: r.path as string,
    size: Number(r.size),
    mtime: Number(r.mtime),
    ino: Number(r.ino),
    hash: r.hash as string,
    vv: JSON.parse(r.vv as string),
    origin: r.origin as string,
    deleted: r.deleted === 1,
    dirty: r.dirty === 1,
    movedFrom: (r.moved_from as string | null) ?? null,
  };
}

export class StateDb {
  readonly #db: DatabaseSync;
  readonly #stmts = new Map<string, StatementSync>();
  #depth = 0;

  private constructor(db: DatabaseSync) {
    this.#db = db;
  }

  static open(path: string): StateDb {
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(path);
      db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;");
      db.exec(SCHEMA);
    } catch (e) {
      throw new EscaleError(
        "local-io",
        `cannot open the state database ${path}: ${(e as Error).message}`,
      );
    }
    return new StateDb(db);
  }

  close(): void {
    this.#db.close();
  }

  #q(sql: string): StatementSync {
    let s = this.#stmts.get(sql);
    if (!s) {
      s = this.#db.prepare(sql);
      this.#stmts.set(sql, s);
    }
    return s;
  }

  /** Runs `fn` in one transaction (nested calls join the outer one). */
  tx<T>(fn: () => T): T {
    if (this.#depth > 0) return fn();
    this.#db.exec("BEGIN IMMEDIATE");
    this.#depth++;
    try {
      const out = fn();
      this.#db.exec("COMMIT");
      return out;
    } catch (e) {
      this.#db.exec("ROLLBACK");
      this.#access = null; // may hold changes that were just rolled back
      throw e;
    } finally {
      this.#depth--;
    }
  }

  #meta(k: string): string | undefined {
    return (this.#q("SELECT v FROM meta WHERE k = ?").get(k) as Row | undefined)?.v as
      | string
      | undefined;
  }

  #setMeta(k: string, v: string): void {
    this.#q("INSERT INTO meta(k, v) VALUES(?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v").run(
      k,
      v,
    );
  }

  #counts(k: string): Record<string, number> {
    return JSON.parse(this.#meta(k) ?? "{}");
  }

  /** The id of the relay this state belongs to (a different one means the relay was replaced). */
  relayId(): string | undefined {
    return this.#meta("relayId");
  }

  setRelayId(id: string): void {
    this.#setMeta("relayId", id);
  }

  /** This client's id on the relay, once chosen. */
  clientId(): string | undefined {
    return this.#meta("cid") || undefined;
  }

  setClientId(cid: string): void {
    this.#setMeta("cid", cid);
  }

  /** Whether this client's record was written to the relay (its absence then means an eviction). */
  registered(): boolean {
    return Boolean(this.#meta("registered"));
  }

  setRegistered(): void {
    this.#setMeta("registered", "1");
  }

  /** The sequence number of this client's last published commit (0 before the first). */
  seq(): number {
    return Number(this.#meta("seq") ?? "0");
  }

  setSeq(seq: number): void {
    this.#setMeta("seq", String(seq));
  }

  /** The highest sequence of this client's commits released by garbage collection (0: none). */
  gcFloor(): number {
    return Number(this.#meta("gcFloor") ?? "0");
  }

  setGcFloor(seq: number): void {
    this.#setMeta("gcFloor", String(seq));
  }

  /**
   * The relay keys of a release under way (commits and their data, deleted together): kept until
   * every delete succeeded, so that a release cut short is finished by the next round even when
   * the commit went first and nothing on the relay names its data any more.
   */
  releasing(): string[] {
    return JSON.parse(this.#meta("releasing") ?? "[]");
  }

  setReleasing(keys: string[]): void {
    this.#setMeta("releasing", JSON.stringify(keys));
  }

  /** Per pusher, the first of its commits this client must apply (above 1 asks for a snapshot). */
  firstSeen(): Record<string, number> {
    return this.#counts("first");
  }

  setFirstSeen(first: Record<string, number>): void {
    this.#setMeta("first", JSON.stringify(first));
  }

  /** Per puller, this client's sequence when it last sent that puller a snapshot. */
  served(): Record<string, number> {
    return this.#counts("served");
  }

  setServed(served: Record<string, number>): void {
    this.#setMeta("served", JSON.stringify(served));
  }

  /** Per client, the number of its last request (`wants`) this client answered. */
  answered(): Record<string, number> {
    return this.#counts("answered");
  }

  setAnswered(answered: Record<string, number>): void {
    this.#setMeta("answered", JSON.stringify(answered));
  }

  /**
   * Reserves `count` values of this client's edit counter (the component it owns in version
   * vectors) and returns the first; values are never handed out twice, even after a crash.
   */
  reserveCounters(count: number): number {
    const first = Number(this.#meta("counter") ?? "0") + 1;
    this.#setMeta("counter", String(first + count - 1));
    return first;
  }

  getFile(path: string): FileRow | undefined {
    const r = this.#q("SELECT * FROM files WHERE path = ?").get(path) as Row | undefined;
    return r ? toFileRow(r) : undefined;
  }

  *allFiles(): Generator<FileRow> {
    for (const r of this.#q("SELECT * FROM files ORDER BY path").iterate()) {
      yield toFileRow(r as Row);
    }
  }

  /**
   * path -> (size, mtime, inode, deleted) of every row: what a scan compares against. Read as one
   * JSON text built by SQLite: creating one JavaScript row object per file costs far more.
   */
  statIndex(): Map<string, { size: number; mtime: number; ino: number; deleted: boolean }> {
    const r = this.#q(
      "SELECT json_group_array(json_array(path, size, mtime, ino, deleted)) AS j FROM files",
    ).get() as Row;
    const rows = JSON.parse(r.j as string) as [string, number, number, number, number][];
    const out = new Map<string, { size: number; mtime: number; ino: number; deleted: boolean }>();
    for (const [path, size, mtime, ino, deleted] of rows) {
      out.set(path, { size, mtime, ino, deleted: deleted === 1 });
    }
    return out;
  }

  dirtyFiles(): FileRow[] {
    return (this.#q("SELECT * FROM files WHERE dirty = 1 ORDER BY path").all() as Row[]).map(
      toFileRow,
    );
  }

  liveFileWithHash(hash: string): FileRow | undefined {
    const r = this.#q("SELECT * FROM files WHERE hash = ? AND deleted = 0 LIMIT 1").get(hash) as
      | Row
      | undefined;
    return r ? toFileRow(r) : undefined;
  }

  putFile(f: FileRow): void {
    this.#q(
      `INSERT INTO files(path, size, mtime, ino, hash, vv, origin, deleted, dirty, moved_from)
       VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(path) DO UPDATE SET size=excluded.size, mtime=excluded.mtime, ino=excluded.ino,
         hash=excluded.hash, vv=excluded.vv, origin=excluded.origin, deleted=excluded.deleted,
         dirty=excluded.dirty, moved_from=excluded.moved_from`,
    ).run(
      f.path,
      f.size,
      f.mtime,
      f.ino,
      f.hash,
      JSON.stringify(f.vv),
      f.origin,
      f.deleted ? 1 : 0,
      f.dirty ? 1 : 0,
      f.movedFrom,
    );
  }

  deleteFile(path: string): void {
    this.#q("DELETE FROM files WHERE path = ?").run(path);
  }

  countLiveFiles(): number {
    return Number((this.#q("SELECT count(*) AS n FROM files WHERE deleted = 0").get() as Row).n);
  }

  getAck(pusher: string): number {
    return Number(
      (this.#q("SELECT seq FROM acks WHERE pusher = ?").get(pusher) as Row | undefined)?.seq ?? 0,
    );
  }

  allAcks(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.#q("SELECT pusher, seq FROM acks").all() as Row[]) {
      out[r.pusher as string] = Number(r.seq);
    }
    return out;
  }

  setAck(pusher: string, seq: number): void {
    this.#q(
      "INSERT INTO acks(pusher, seq) VALUES(?, ?) ON CONFLICT(pusher) DO UPDATE SET seq = excluded.seq",
    )
      .run(pusher, seq);
  }

  cachedClient(
    cid: string,
  ): { size: number; mtime: number; record: string; welcomed: boolean } | undefined {
    const r = this.#q("SELECT * FROM clients WHERE cid = ?").get(cid) as Row | undefined;
    return r
      ? {
        size: Number(r.size),
        mtime: Number(r.mtime),
        record: r.record as string,
        welcomed: r.welcomed === 1,
      }
      : undefined;
  }

  /** Every client record seen at the last rounds, as JSON (what `escale fix` restores). */
  cachedRecords(): string[] {
    return (this.#q("SELECT record FROM clients ORDER BY cid").all() as Row[]).map((r) =>
      r.record as string
    );
  }

  cacheClient(cid: string, size: number, mtime: number, record: string): void {
    this.#q(
      `INSERT INTO clients(cid, size, mtime, record) VALUES(?, ?, ?, ?)
       ON CONFLICT(cid) DO UPDATE SET size=excluded.size, mtime=excluded.mtime, record=excluded.record`,
    ).run(cid, size, mtime, record);
  }

  setWelcomed(cid: string): void {
    this.#q("UPDATE clients SET welcomed = 1 WHERE cid = ?").run(cid);
  }

  forgetClient(cid: string): void {
    this.#q("DELETE FROM clients WHERE cid = ?").run(cid);
  }

  /** Access modifiers are few and read for every file of a round: kept in memory. */
  #access: Map<string, { r: string; w: string }> | null = null;

  getAccess(path: string): { r: string; w: string } {
    if (!this.#access) {
      this.#access = new Map();
      for (const row of this.#q("SELECT path, r, w FROM access").all() as Row[]) {
        this.#access.set(row.path as string, { r: row.r as string, w: row.w as string });
      }
    }
    return this.#access.get(path) ?? { r: "?", w: "?" };
  }

  setAccess(path: string, r: string, w: string): void {
    if (r === "?" && w === "?") {
      this.#q("DELETE FROM access WHERE path = ?").run(path);
      this.#access?.delete(path);
      return;
    }
    this.#q(
      "INSERT INTO access(path, r, w) VALUES(?, ?, ?) ON CONFLICT(path) DO UPDATE SET r=excluded.r, w=excluded.w",
    ).run(path, r, w);
    this.#access?.set(path, { r, w });
  }

  getPending(): { seq: number; body: string } | undefined {
    const r = this.#q("SELECT seq, body FROM pending ORDER BY seq LIMIT 1").get() as
      | Row
      | undefined;
    return r ? { seq: Number(r.seq), body: r.body as string } : undefined;
  }

  setPending(seq: number, body: string): void {
    this.#q(
      "INSERT INTO pending(seq, body) VALUES(?, ?) ON CONFLICT(seq) DO UPDATE SET body=excluded.body",
    ).run(seq, body);
  }

  /** Own commits still on the relay: their targets and data objects, for space release. */
  recordPublished(seq: number, targets: string[] | undefined, objects: string[], bytes = 0): void {
    this.#q("INSERT OR REPLACE INTO published(seq, targets, objects, bytes) VALUES(?, ?, ?, ?)")
      .run(seq, targets ? JSON.stringify(targets) : null, JSON.stringify(objects), bytes);
  }

  /** Data bytes of this client's commits still on the relay. */
  publishedBytes(): number {
    return Number((this.#q("SELECT coalesce(sum(bytes), 0) AS n FROM published").get() as Row).n);
  }

  /** Sequence numbers of this client's commits still on the relay (not released yet). */
  publishedSeqs(): number[] {
    return (this.#q("SELECT seq FROM published ORDER BY seq").all() as Row[]).map((r) =>
      Number(r.seq)
    );
  }

  countDirty(): number {
    return Number((this.#q("SELECT count(*) AS n FROM files WHERE dirty = 1").get() as Row).n);
  }

  getPublished(seq: number): { targets?: string[]; objects: string[] } | undefined {
    const r = this.#q("SELECT targets, objects FROM published WHERE seq = ?").get(seq) as
      | Row
      | undefined;
    if (!r) return undefined;
    return {
      targets: r.targets ? JSON.parse(r.targets as string) : undefined,
      objects: JSON.parse(r.objects as string),
    };
  }

  forgetPublished(seq: number): void {
    this.#q("DELETE FROM published WHERE seq = ?").run(seq);
  }

  /** Forgets everything exchanged with a relay (it was replaced): local files will be republished. */
  resetRelayState(): void {
    this.tx(() => {
      this.#db.exec(
        "DELETE FROM acks; DELETE FROM clients; DELETE FROM pending; DELETE FROM published; DELETE FROM wants;",
      );
      this.#db.exec("DELETE FROM files WHERE deleted = 1");
      this.#db.exec("UPDATE files SET vv = '{}', dirty = 1, moved_from = NULL");
      for (
        const k of ["seq", "served", "answered", "gcFloor", "first", "registered", "releasing"]
      ) {
        this.#q("DELETE FROM meta WHERE k = ?").run(k);
      }
      this.setPendingElsewhere(null);
    });
  }

  /** Forgets how far other clients' commits were applied (after an eviction). */
  forgetProgress(): void {
    this.tx(() => {
      this.#db.exec("DELETE FROM acks; DELETE FROM wants");
      for (const k of ["first", "registered"]) this.#q("DELETE FROM meta WHERE k = ?").run(k);
    });
  }

  /**
   * Asks pusher `pusher` for the current version of `path` (its content could not be had from
   * the relay or a local copy). Returns the request number, which grows with every new request.
   */
  addWant(pusher: string, path: string): number {
    const id = Number(this.#meta("wantSeq") ?? "0") + 1;
    this.#setMeta("wantSeq", String(id));
    this.#q(
      "INSERT INTO wants(pusher, path, id) VALUES(?, ?, ?) ON CONFLICT(pusher, path) DO UPDATE SET id = excluded.id",
    ).run(pusher, path, id);
    return id;
  }

  /** Open requests, per pusher: the latest request number and every path asked. */
  allWants(): Record<string, { id: number; paths: string[] }> {
    const out: Record<string, { id: number; paths: string[] }> = {};
    for (
      const r of this.#q("SELECT pusher, path, id FROM wants ORDER BY pusher, path").all() as Row[]
    ) {
      const w = out[r.pusher as string] ??= { id: 0, paths: [] };
      w.id = Math.max(w.id, Number(r.id));
      w.paths.push(r.path as string);
    }
    return out;
  }

  /** Forgets requests to `pusher` up to request `id` (answered), or all of them. */
  dropWants(pusher: string, id = Number.MAX_SAFE_INTEGER): void {
    this.#q("DELETE FROM wants WHERE pusher = ? AND id <= ?").run(pusher, id);
  }

  /** Records (or refreshes) a problem with one file; `tries` counts the failures. */
  putProblem(p: Omit<Problem, "since" | "tries" | "retried">): void {
    this.#q(
      `INSERT INTO problems(path, direction, reason, since, tries, pusher) VALUES(?, ?, ?, ?, 1, ?)
       ON CONFLICT(path, direction) DO UPDATE SET reason = excluded.reason, tries = tries + 1,
         pusher = coalesce(excluded.pusher, pusher)`,
    ).run(p.path, p.direction, p.reason, Date.now(), p.pusher);
  }

  markRetried(path: string, direction: Problem["direction"]): void {
    this.#q("UPDATE problems SET retried = ? WHERE path = ? AND direction = ?").run(
      Date.now(),
      path,
      direction,
    );
  }

  clearProblem(path: string, direction: Problem["direction"]): void {
    this.#q("DELETE FROM problems WHERE path = ? AND direction = ?").run(path, direction);
  }

  problems(direction?: Problem["direction"]): Problem[] {
    const rows =
      (direction
        ? this.#q("SELECT * FROM problems WHERE direction = ? ORDER BY path").all(direction)
        : this.#q("SELECT * FROM problems ORDER BY direction, path").all()) as Row[];
    return rows.map((r) => ({
      path: r.path as string,
      direction: r.direction as Problem["direction"],
      reason: r.reason as string,
      since: Number(r.since),
      tries: Number(r.tries),
      pusher: (r.pusher as string | null) ?? null,
      retried: r.retried === null || r.retried === undefined ? null : Number(r.retried),
    }));
  }

  clearPending(seq: number): void {
    this.#q("DELETE FROM pending WHERE seq = ?").run(seq);
  }

  /**
   * The pending commit of this sequence number was written to a relay that then said it had
   * moved (push.ts): clients still there may have applied it, so the number must keep that
   * content. Cleared once the publication is settled.
   */
  setPendingElsewhere(seq: number | null): void {
    if (seq === null) this.#q("DELETE FROM meta WHERE k = ?").run("pendingElsewhere");
    else this.#setMeta("pendingElsewhere", String(seq));
  }

  pendingElsewhere(): number | null {
    const v = this.#meta("pendingElsewhere");
    return v === undefined ? null : Number(v);
  }
}
