import { EscaleError, isKind } from "../errors/errors.ts";
import {
  type Commit,
  commitKey,
  dataKey,
  type Entry,
  MAX_COMMIT_ENTRIES,
  MAX_COMMIT_JSON,
} from "../protocol/format.ts";
import { utf8Length } from "../protocol/sync_path.ts";
import type { FileRow } from "../state/state_db.ts";
import { expectedPullers, type RoundContext } from "./context.ts";
import { type Part, partsStream, planPacks } from "./data_objects.ts";
import { sameStat, statLocalSync } from "./local_fs.ts";
import { forEachLimit } from "./pool.ts";
import { tap } from "../util/streams.ts";
import { refuseMoved } from "../protocol/moved_record.ts";
import { UNHASHED } from "./scan.ts";

/** Publishes this client's local changes. Returns whether anything was published. */
export async function pushPhase(ctx: RoundContext): Promise<boolean> {
  const rows = sendableRows(ctx);
  let published = false;
  const quota = ctx.opts.diskQuota;
  let budget = quota === undefined || rows.length === 0
    ? Infinity
    : quota - (await usedOnRelay(ctx));
  const limit = Math.min(ctx.opts.maxPageSize, quota ?? Infinity);
  for (const group of groups(rows, limit, ctx.opts.chunkSize)) {
    const bytes = newBytes(group);
    if (bytes > budget) {
      const big = group.length === 1 && quota !== undefined && bytes > quota;
      ctx.log.log(
        "warn",
        big
          ? `${
            group[0].path
          } (${bytes} bytes) is larger than the disk quota (${quota} bytes) and cannot be sent`
          : `disk quota reached (${
            quota! - budget
          } of ${quota} bytes in use on the relay); the remaining changes wait until pullers have released space`,
      );
      if (!big) break;
      continue;
    }
    budget -= bytes;
    await publish(ctx, group);
    published = true;
  }
  published = (await welcomeNewPullers(ctx)) || published;
  published = (await answerWants(ctx)) || published;
  return published;
}

/** Local changes this client publishes once quota allows (not `r-`, not unpublished deletions). */
export function sendableRows(ctx: RoundContext): FileRow[] {
  return ctx.state.dirtyFiles().filter((r) =>
    (r.deleted ? ctx.rules.pushDeletes : true) && ctx.state.getAccess(r.path).r !== "-"
  );
}

const newBytes = (rows: FileRow[]) =>
  rows.reduce((n, r) => n + (r.deleted || r.movedFrom ? 0 : r.size), 0);

/** Bytes this client currently keeps on the relay: its data objects and commits. */
async function usedOnRelay(ctx: RoundContext): Promise<number> {
  const data = (await ctx.store.listData()).filter((d) => d.cid === ctx.me);
  const commits = ctx.commits.filter((c) => c.cid === ctx.me);
  return [...data, ...commits].reduce((n, o) => n + o.size, 0);
}

/**
 * Splits rows into commits of at most `maxBytes` new data (at least one file each), at most
 * MAX_COMMIT_ENTRIES entries, and an encoded size well below what readers accept (long paths and
 * large version vectors make entries big).
 */
function* groups(rows: FileRow[], maxBytes: number, chunkSize: number): Generator<FileRow[]> {
  let cur: FileRow[] = [];
  let bytes = 0;
  let encoded = 0;
  for (const r of rows) {
    const size = r.deleted || r.movedFrom ? 0 : r.size;
    const entry = entrySize(r, chunkSize);
    if (
      cur.length &&
      (bytes + size > maxBytes || cur.length >= MAX_COMMIT_ENTRIES ||
        encoded + entry > MAX_COMMIT_JSON / 2)
    ) {
      yield cur;
      cur = [];
      bytes = 0;
      encoded = 0;
    }
    cur.push(r);
    bytes += size;
    encoded += entry;
  }
  if (cur.length) yield cur;
}

/** An upper estimate of a row's entry in a commit's JSON (one extent per data object it spans). */
function entrySize(r: FileRow, chunkSize: number): number {
  const vv = Object.keys(r.vv).length + 1;
  return 200 + 2 * utf8Length(r.path) + 2 * utf8Length(r.movedFrom ?? "") + 32 * vv +
    40 * (1 + Math.ceil(r.size / chunkSize));
}

/**
 * Writes a change set: data objects first, then the commit that references them (the commit
 * point), then the state. The commit is recorded as pending before any upload, so a crash at any
 * step is recovered by `recoverPending` at the next round.
 */
export async function publish(
  ctx: RoundContext,
  rows: FileRow[],
  targets?: string[],
  answers?: number,
  snapshot = targets !== undefined,
): Promise<void> {
  const seq = ctx.state.seq() + 1;
  const deleting = new Set(rows.filter((r) => r.deleted).map((r) => r.path));
  const isMove = (r: FileRow) =>
    !snapshot && !r.deleted && r.movedFrom !== null && deleting.has(r.movedFrom);
  const puts = rows.filter((r) => !r.deleted && !isMove(r));
  const plan = planPacks(
    puts.map((r) => ({ abs: `${ctx.root}/${r.path}`, size: r.size })),
    ctx.opts.chunkSize,
    ctx.opts.transfers,
  );
  const objects = plan.objects.map((o, n) => ({ key: dataKey(ctx.me, seq, n), size: o.size }));
  const commit: Commit = ctx.state.tx(() => {
    // One block of counters for the whole commit: one state write instead of one per entry.
    let counter = ctx.state.reserveCounters(rows.length);
    const vvOf = (r: FileRow) => (snapshot ? r.vv : { ...r.vv, [ctx.me]: counter++ });
    const entries: Entry[] = [];
    puts.forEach((r, i) =>
      entries.push({
        op: "put",
        path: r.path,
        vv: vvOf(r),
        origin: snapshot ? r.origin : ctx.me,
        size: r.size,
        mtime: r.mtime,
        hash: r.hash,
        data: plan.extents[i],
      })
    );
    for (const r of rows) {
      if (isMove(r)) {
        entries.push({
          op: "move",
          path: r.path,
          from: r.movedFrom!,
          vv: vvOf(r),
          origin: ctx.me,
          size: r.size,
          mtime: r.mtime,
          hash: r.hash,
        });
      } else if (r.deleted) {
        entries.push({
          op: "del",
          path: r.path,
          vv: vvOf(r),
          origin: snapshot ? r.origin : ctx.me,
        });
      }
    }
    const c: Commit = {
      v: 1,
      client: ctx.me,
      seq,
      time: new Date().toISOString(),
      objects,
      entries,
    };
    if (targets) c.for = targets;
    if (answers !== undefined) c.answers = answers;
    ctx.state.setPending(seq, JSON.stringify(c));
    return c;
  });

  const startBytes = ctx.stats.uploadedBytes;
  for (const r of puts) {
    ctx.emit({ type: "file-start", direction: "up", path: r.path, size: r.size });
  }
  // New big files left unhashed by the scan are hashed on the worker while they are sent.
  const hashing = new Map<string, Promise<string>>();
  for (const r of puts) {
    if (r.hash !== UNHASHED) continue;
    const p = ctx.hasher.file(`${ctx.root}/${r.path}`, r.size);
    p.catch(() => {}); // awaited below; a failed upload must not leave it unhandled
    hashing.set(r.path, p);
  }
  const upload = uploadObjects(ctx, commit, false);
  upload.stored.catch(() => {}); // awaited below, whatever happens
  await upload.read;
  // A file that changed while it was being sent is left out; it is still dirty and goes next time.
  const rowOf = new Map(rows.map((r) => [r.path, r]));
  const stillSame = (entries: Entry[], log: boolean) =>
    entries.filter((e) => {
      if (e.op !== "put" || snapshot) return true;
      const st = statLocalSync(`${ctx.root}/${e.path}`);
      const same = st !== null && sameStat(st, rowOf.get(e.path)!);
      if (!same && log) {
        ctx.log.log("info", `${e.path}: changed while it was being sent; it will be sent again`);
      }
      return same;
    });
  commit.entries = stillSame(commit.entries, true);
  if (commit.entries.length > 0 || answers !== undefined) {
    await fillHashes(ctx, commit, hashing).catch(async (e) => {
      await upload.stored.catch(() => {});
      throw e;
    });
    // The commit goes out while the last data objects are still on their way, and becomes
    // visible once they are all stored, unless a file it names changed meanwhile (a data object
    // sent again reads its files again): then it is sent again without those files.
    const sending = commit.entries.length;
    const stored = upload.stored.then(() => {
      if (stillSame(commit.entries, false).length !== sending) throw new FilesChanged();
    });
    stored.catch(() => {}); // the commit's write reports it
    try {
      await writeCommit(ctx, commit, stored);
    } catch (e) {
      await upload.stored.catch(() => {}); // nothing of this commit stays in flight
      if (!(e instanceof FilesChanged)) throw e;
      commit.entries = stillSame(commit.entries, true);
      if (commit.entries.length > 0 || answers !== undefined) await writeCommit(ctx, commit);
    }
  } else await upload.stored;
  if (commit.entries.length === 0 && answers === undefined) {
    // Everything changed while it was sent: nothing to publish, the files go next time.
    for (const o of commit.objects) await ctx.store.delete(o.key);
    ctx.state.clearPending(seq);
    return;
  }
  finalize(ctx, commit);
  ctx.stats.published += commit.entries.length;
  ctx.stats.uploaded += commit.entries.filter((e) => e.op === "put").length;
  for (const e of commit.entries) {
    if (e.op === "put") {
      ctx.emit({ type: "file-done", direction: "up", path: e.path, size: e.size });
    }
  }
  ctx.log.log(
    "debug",
    `published commit ${seq}: ${commit.entries.length} entries, ${
      ctx.stats.uploadedBytes - startBytes
    } bytes`,
  );
}

/**
 * Writes a commit, then reads the moved record again before the caller records the commit as
 * published. A round checks it when it starts, but `escale migrate` may have written it since and
 * made its last pass before this commit arrived: the commit is then on the old relay only. The
 * record is read after the commit is complete, so that it is seen whenever the migration's last
 * listing may have missed the commit (docs/relay-format.md §8a). The round then stops with the
 * new address, the commit still pending in the state: at the next round, against the new relay,
 * `recoverPending` finds it there (the last pass took it) or sends it again. Only rounds that
 * publish pay this read; an idle round writes no commit.
 */
async function writeCommit(
  ctx: RoundContext,
  commit: Commit,
  after?: Promise<unknown>,
): Promise<void> {
  try {
    await ctx.store.writeCommit(commit, after);
  } catch (e) {
    if (isKind(e, "exists")) {
      throw new EscaleError(
        "permanent",
        `${ctx.store.name}: commit ${commit.seq} of this client already exists on the relay; is another process using the same state, or was the state restored from a backup?`,
      );
    }
    throw e;
  }
  ctx.stats.relayWrites++;
  try {
    await refuseMoved(ctx.store.relay);
  } catch (e) {
    if (isKind(e, "moved")) ctx.state.setPendingElsewhere(commit.seq);
    throw e;
  }
}

/**
 * Puts the hashes of files sent unhashed (see scan.ts) into the commit, the state and the
 * pending copy of the commit, before the commit is written.
 */
async function fillHashes(
  ctx: RoundContext,
  commit: Commit,
  started: Map<string, Promise<string>>,
): Promise<void> {
  const missing = commit.entries.filter((e) => e.op === "put" && e.hash === UNHASHED);
  if (!missing.length) return;
  for (const e of missing) {
    if (e.op !== "put") continue;
    e.hash = await (started.get(e.path) ?? ctx.hasher.file(`${ctx.root}/${e.path}`, e.size));
  }
  ctx.state.tx(() => {
    for (const e of missing) {
      const row = ctx.state.getFile(e.path);
      if (row && e.op === "put" && row.hash === UNHASHED) {
        ctx.state.putFile({ ...row, hash: e.hash });
      }
    }
    ctx.state.setPending(commit.seq, JSON.stringify(commit));
  });
}

/** The file slices each data object of a commit holds, rebuilt from the entries' extents. */
function objectParts(ctx: RoundContext, commit: Commit): Part[][] {
  const parts: { at: number; part: Part }[][] = commit.objects.map(() => []);
  for (const e of commit.entries) {
    if (e.op !== "put") continue;
    let fileOff = 0;
    for (const [obj, off, len] of e.data) {
      parts[obj].push({
        at: off,
        part: { abs: `${ctx.root}/${e.path}`, offset: fileOff, length: len },
      });
      fileOff += len;
    }
  }
  return parts.map((l) => l.sort((a, b) => a.at - b.at).map((x) => x.part));
}

/** The files of a commit changed while its data objects were sent again. */
class FilesChanged extends Error {}

/**
 * Writes the data objects of a commit, `transfers` at a time; the body reopens the local files, so
 * the retry layer under the store can replay it. When resuming, objects already complete on the
 * relay are skipped. `read` settles once every object's body was read to its end (the local files
 * are read: the commit can be decided), `stored` once every object is on the relay; both fail
 * when a write fails, `stored` only once no write is in flight any more.
 */
function uploadObjects(
  ctx: RoundContext,
  commit: Commit,
  resume: boolean,
): { read: Promise<void>; stored: Promise<void> } {
  const parts = objectParts(ctx, commit);
  const read = new Set<number>();
  let allRead = () => {};
  const bodiesRead = new Promise<void>((ok) => allRead = ok);
  const readOne = (n: number) => {
    read.add(n);
    if (read.size === commit.objects.length) allRead();
  };
  if (commit.objects.length === 0) allRead();
  const stored = forEachLimit(commit.objects, ctx.opts.transfers, async (o, n) => {
    if (resume && (await ctx.store.relay.stat(o.key))?.size === o.size) return readOne(n);
    let sent = 0;
    const body = () => {
      // A replayed attempt sends everything again: count only the last one.
      ctx.stats.uploadedBytes -= sent;
      sent = 0;
      return tap(partsStream(parts[n]), (c) => {
        sent += c.length;
        ctx.stats.uploadedBytes += c.length;
        ctx.emit({ type: "bytes", direction: "up", bytes: c.length });
        if (sent === o.size) readOne(n);
      });
    };
    await ctx.store.relay.write(o.key, body, { size: o.size });
    readOne(n);
    ctx.stats.relayWrites++;
  });
  return { read: Promise.race([bodiesRead, stored]), stored };
}

/** Records a published commit in the state: the published versions become the base. */
export function finalize(ctx: RoundContext, commit: Commit): void {
  ctx.state.tx(() => {
    if (!commit.for) {
      for (const e of commit.entries) {
        const row = ctx.state.getFile(e.path);
        if (!row) continue;
        const same = e.op === "del" ? row.deleted : !row.deleted && row.hash === e.hash;
        ctx.state.putFile({
          ...row,
          vv: e.vv,
          // ctx.me for new versions; a full copy (escale fix) keeps each version's origin
          origin: e.origin,
          dirty: row.dirty && !same,
          movedFrom: same ? null : row.movedFrom,
        });
        if (ctx.rules.conservative && e.op !== "del") {
          ctx.state.setAccess(e.path, ctx.state.getAccess(e.path).r, "-");
        }
      }
    }
    ctx.state.recordPublished(
      commit.seq,
      commit.for,
      commit.objects.map((o) => o.key),
      commit.objects.reduce((n, o) => n + o.size, 0),
    );
    ctx.state.setSeq(commit.seq);
    ctx.state.clearPending(commit.seq);
  });
}

/**
 * Finishes a publication that a crash interrupted: if the commit reached the relay only the
 * state is updated; if the local files are unchanged the missing data objects are sent (those
 * already on the relay are kept) and the commit written; otherwise it is rolled back, or, when it
 * reached the old relay of a migration (`writeCommit`), replaced by an empty commit.
 */
export async function recoverPending(ctx: RoundContext): Promise<void> {
  const p = ctx.state.getPending();
  if (!p) return;
  await settlePending(ctx, p.seq, JSON.parse(p.body) as Commit);
  ctx.state.setPendingElsewhere(null);
}

async function settlePending(ctx: RoundContext, seq: number, commit: Commit): Promise<void> {
  if (await ctx.store.relay.stat(commitKey(ctx.me, seq))) {
    ctx.log.log("info", `completing the interrupted publication of commit ${seq}`);
    finalize(ctx, commit);
    return;
  }
  if (commit.for === undefined && unchanged(ctx, commit)) {
    ctx.log.log("info", `resuming the interrupted publication of commit ${seq}`);
    await uploadObjects(ctx, commit, true).stored;
    await fillHashes(ctx, commit, new Map());
    await writeCommit(ctx, commit);
    finalize(ctx, commit);
    ctx.stats.published += commit.entries.length;
    ctx.stats.uploaded += commit.entries.filter((e) => e.op === "put").length;
    return;
  }
  if (ctx.state.pendingElsewhere() === seq) {
    // It reached the old relay of a migration, where clients may have applied it: a commit of
    // other content under this number would be skipped by them. An empty commit takes the
    // number instead; the files it held are still dirty and go with the next one.
    ctx.log.log("info", `commit ${seq} cannot be sent again as it was; publishing it empty`);
    for (const o of commit.objects) await ctx.store.delete(o.key);
    const empty: Commit = {
      v: 1,
      client: ctx.me,
      seq,
      time: new Date().toISOString(),
      objects: [],
      entries: [],
    };
    if (commit.for) empty.for = commit.for;
    ctx.state.setPending(seq, JSON.stringify(empty));
    await writeCommit(ctx, empty);
    finalize(ctx, empty);
    return;
  }
  ctx.log.log("info", `rolling back the interrupted publication of commit ${seq}`);
  for (const o of commit.objects) await ctx.store.delete(o.key);
  ctx.state.clearPending(seq);
}

/** Whether every file of a pending commit is still as it was when the commit was planned. */
function unchanged(ctx: RoundContext, commit: Commit): boolean {
  return commit.entries.every((e) => {
    const row = ctx.state.getFile(e.path);
    if (!row || !row.dirty) return false;
    if (e.op === "del") return row.deleted;
    if (row.deleted || row.hash !== e.hash) return false;
    const st = statLocalSync(`${ctx.root}/${e.path}`);
    return st !== null && sameStat(st, row);
  });
}

/**
 * `escale fix` after the relay was lost: every settled version this client holds (live files
 * and deletions, whoever produced them), to every client, with its existing version vector, so
 * that clients holding the same version download nothing and deletions made before the loss are
 * not undone. Returns the number of entries published.
 */
export async function publishFullCopy(ctx: RoundContext): Promise<number> {
  const rows = [...ctx.state.allFiles()].filter((r) =>
    !r.dirty && ctx.state.getAccess(r.path).r !== "-"
  );
  for (const g of groups(rows, ctx.opts.maxPageSize, ctx.opts.chunkSize)) {
    await publish(ctx, g, undefined, undefined, true);
  }
  return rows.length;
}

/**
 * Late joiners and pullers that missed released commits: a puller whose record says it first
 * saw this client's commits at a sequence above 1 (or saw none while some were released) gets a
 * snapshot commit addressed to it alone, with every version this client produced (or whose
 * producer is no longer registered), deletions included. `served` remembers the last snapshot per puller, so a puller gets a
 * new one only when it reports a newer gap.
 */
async function welcomeNewPullers(ctx: RoundContext): Promise<boolean> {
  // With a puller count, as in Escale, only that many pullers are meant to get each change.
  if (ctx.opts.pullerCount) return false;
  const served = ctx.state.served();
  const pushers = new Set([...ctx.clients.values()].filter((c) => c.pushes).map((c) => c.id));
  pushers.add(ctx.me);
  let published = false;
  for (const c of expectedPullers(ctx)) {
    const first = c.first?.[ctx.me] ?? 0;
    if (first <= 1 || (served[c.id] !== undefined && first <= served[c.id])) continue;
    // Deletions too: a puller that missed released commits may still hold files deleted since.
    const rows = [...ctx.state.allFiles()].filter((r) =>
      !r.dirty && (r.origin === ctx.me || !pushers.has(r.origin))
    );
    if (rows.length) {
      ctx.log.log(
        "info",
        `sending a full copy of ${
          rows.filter((r) => !r.deleted).length
        } files to client ${c.name}, which joined late or missed released changes`,
      );
      for (const g of groups(rows, ctx.opts.maxPageSize, ctx.opts.chunkSize)) {
        await publish(ctx, g, [c.id]);
      }
      published = true;
    }
    served[c.id] = ctx.state.seq();
    ctx.state.setServed(served);
  }
  return published;
}

/**
 * Requests of other clients (their record's `wants`): a puller that could not get the content of
 * a rename, or could not write a file before, asks for the current version of some paths. Each
 * request is answered once, by a commit addressed to that client alone holding what this client
 * has of those paths (puts with their existing versions, deletions as tombstones); the commit
 * says which request it answers, so the puller forgets it even when nothing was left to send.
 */
async function answerWants(ctx: RoundContext): Promise<boolean> {
  const answered = ctx.state.answered();
  let published = false;
  for (const c of ctx.clients.values()) {
    const w = c.wants?.[ctx.me];
    if (c.id === ctx.me || !w || w.id <= (answered[c.id] ?? 0)) continue;
    const rows = w.paths.map((p) => ctx.state.getFile(p)).filter((r): r is FileRow =>
      r !== undefined && !r.dirty && ctx.state.getAccess(r.path).r !== "-"
    );
    ctx.log.log("info", `sending ${rows.length} of ${w.paths.length} files asked for by ${c.name}`);
    const parts = [...groups(rows, ctx.opts.maxPageSize, ctx.opts.chunkSize)];
    if (parts.length === 0) parts.push([]);
    for (let i = 0; i < parts.length; i++) {
      await publish(ctx, parts[i], [c.id], i === parts.length - 1 ? w.id : undefined);
    }
    answered[c.id] = w.id;
    ctx.state.setAnswered(answered);
    published = true;
  }
  return published;
}
