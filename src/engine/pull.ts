import { createHash, type Hash } from "node:crypto";
import {
  describeError,
  EscaleError,
  isKind,
  localIoError,
  type RelayError,
} from "../errors/errors.ts";
import { type ClientRecord, type Commit, type Entry, MAX_WANTS } from "../protocol/format.ts";
import { NAME_MAX, utf8Length } from "../protocol/sync_path.ts";
import type { CommitRef, RelayStore } from "../protocol/relay_store.ts";
import type { FileRow, StateDb } from "../state/state_db.ts";
import { clientName, type RoundContext } from "./context.ts";
import { conflictName } from "./conflict_name.ts";
import {
  closeTempFile,
  hashFile,
  type LocalStat,
  pruneEmptyParents,
  safeLocalPath,
  sameStat,
  statLocal,
  tempPathFor,
  writeTempFile,
} from "./local_fs.ts";
import { compareVV, mergeVV } from "./version_vector.ts";
import { concat } from "../util/streams.ts";
import { forEachLimit, limiter } from "./pool.ts";
import { UNHASHED } from "./scan.ts";
import { type Follower, WORKER_MIN } from "./hasher.ts";

/** Commits read and applied together (bounds memory: their entries are held at once). */
const BATCH = 32;

interface Item {
  entry: Entry;
  commit: Commit;
}

type Plan =
  | { t: "skip" }
  | { t: "state"; rows: FileRow[] }
  | { t: "delete"; item: Item; row: FileRow }
  | { t: "move"; item: Item; row: FileRow | undefined }
  | {
    t: "fetch";
    item: Item;
    /** where the fetched content goes (the entry's path, or a conflict copy) */
    dest: string;
    /** the state row of `dest` once written (stat fields filled in after the write) */
    destRow: FileRow;
    /** move the current local file away first (keep-both where the remote side wins) */
    saveLocalAs?: { to: string; row: FileRow };
    /** other rows to record (the kept local file of a keep-both where the local side wins) */
    rows?: FileRow[];
    /** the local file that is about to be replaced must still match this row */
    replaces?: FileRow;
  };

/**
 * Applies the commits of other clients that this client has not applied yet, in publication
 * order, then records how far it got (acknowledgements). Returns whether anything was applied.
 */
export async function pullPhase(ctx: RoundContext): Promise<boolean> {
  const todo = commitsToPull(ctx.me, ctx.state, ctx.commits);
  noteGaps(ctx, todo);
  const gate = limiter(ctx.store.relay.capabilities.parallel);
  for (let i = 0; i < todo.length; i += BATCH) {
    const refs = todo.slice(i, i + BATCH);
    const commits: Commit[] = [];
    // The commits of a batch are read together (those read ahead while the round began are
    // taken as they are), then applied in order.
    const reads = refs.map((ref) => {
      const read = ctx.commitReads.get(ref.key) ?? gate(() => ctx.store.readCommit(ref));
      ctx.commitReads.delete(ref.key);
      read.catch(() => {}); // awaited in turn below
      return read;
    });
    for (const [j, ref] of refs.entries()) {
      let c: Commit;
      try {
        c = await reads[j];
      } catch (e) {
        if (!isKind(e, "not-found")) throw e;
        missedRelease(ctx, ref.cid, ref.seq); // released by its author meanwhile
        continue;
      }
      if (!c.for || c.for.includes(ctx.me)) commits.push(c);
    }
    await applyCommits(ctx, commits);
    ctx.state.tx(() => {
      for (const r of refs) if (r.seq > ctx.state.getAck(r.cid)) ctx.state.setAck(r.cid, r.seq);
      for (const c of commits) {
        if (c.answers !== undefined) ctx.state.dropWants(c.client, c.answers);
      }
    });
    ctx.stats.commitsApplied += refs.length;
  }
  return todo.length > 0;
}

/** The commits of others listed in `commits` that this client has not applied yet, in order. */
export function commitsToPull(me: string, state: StateDb, commits: CommitRef[]): CommitRef[] {
  return commits.filter((c) => c.cid !== me && c.seq > state.getAck(c.cid));
}

/**
 * Starts reading the first batch of `commitsToPull` (at most `parallel` at a time): what a round
 * hands its pull phase in `commitReads`, so that reading them overlaps what comes before.
 */
export function readCommitsAhead(
  store: RelayStore,
  todo: CommitRef[],
  parallel: number,
): Map<string, Promise<Commit>> {
  const gate = limiter(parallel);
  const reads = new Map<string, Promise<Commit>>();
  for (const ref of todo.slice(0, BATCH)) {
    const read = gate(() => store.readCommit(ref));
    read.catch(() => {}); // taken by the pull phase, or dropped with a round that failed
    reads.set(ref.key, read);
  }
  return reads;
}

/**
 * first[p] tells p from which of its commits this client has seen everything. It is the lowest
 * commit of p found when p was first read; it moves up when commits of p were released before
 * this client applied them (it was new, evicted, timed out, or its state was restored): p's
 * record announces its last sequence, so a gap shows even when nothing of p is left. A first
 * above 1 asks p for a snapshot (see push.ts).
 */
function noteGaps(ctx: RoundContext, todo: CommitRef[]): void {
  const first = ctx.state.firstSeen();
  let changed = false;
  const lowest = new Map<string, number>();
  for (const c of todo) if (!lowest.has(c.cid)) lowest.set(c.cid, c.seq);
  for (const p of ctx.clients.values()) {
    if (p.id === ctx.me || !p.pushes) continue;
    const ack = ctx.state.getAck(p.id);
    const low = lowest.get(p.id);
    const last = p.seq ?? 0;
    let from: number | undefined;
    if (low !== undefined) from = first[p.id] === undefined || low > ack + 1 ? low : undefined;
    else if (last > ack) from = last + 1; // everything after our acknowledgement was released
    if (from === undefined || (first[p.id] !== undefined && from <= first[p.id])) continue;
    if (from > 1 && first[p.id] !== undefined) {
      ctx.log.log(
        "warn",
        `missed changes of ${p.name} that the relay already released; asking for a full copy`,
      );
    }
    first[p.id] = from;
    changed = true;
  }
  if (changed) ctx.state.setFirstSeen(first);
}

/**
 * A commit that its author released while this client was reading it (every puller its author
 * waited for had it): this client was not among them, so it asks for a full copy, as a late
 * joiner does (first[p] past that commit, see push.ts).
 */
function missedRelease(ctx: RoundContext, cid: string, seq: number): void {
  const first = ctx.state.firstSeen();
  if ((first[cid] ?? 0) > seq) return;
  first[cid] = seq + 1;
  ctx.state.setFirstSeen(first);
  ctx.log.log(
    "warn",
    `commit ${seq} of ${
      clientName(ctx, cid)
    } was released while it was being read; asking for a full copy`,
  );
}

async function applyCommits(ctx: RoundContext, commits: Commit[]): Promise<void> {
  // Within one pusher a later entry for a path supersedes an earlier one; across pushers the
  // version vectors decide, entry by entry.
  const byPath = new Map<string, Map<string, Item>>();
  for (const commit of commits) {
    for (const entry of commit.entries) {
      let m = byPath.get(entry.path);
      if (!m) byPath.set(entry.path, m = new Map());
      m.delete(commit.client);
      m.set(commit.client, { entry, commit });
    }
  }
  // Every put of the batch, superseded ones included: a rename whose source this client never
  // got (the put and the move arrived together) takes its content from there.
  const puts = new Map<string, Item>();
  for (const commit of commits) {
    for (const entry of commit.entries) {
      if (entry.op === "put") puts.set(entry.hash, { entry, commit });
    }
  }
  const coalesced = [...byPath.values()].flatMap((m) => [...m.values()]);
  // The sources of renames are not deletions of content.
  const moved = new Set(coalesced.map((i) => i.entry.op === "move" ? i.entry.from : ""));
  const items = coalesced.map((i) => withContent(ctx, i, puts));
  if (ctx.rules.applyDeletes) {
    const doomed = items.filter((i) =>
      i.entry.op === "del" && !moved.has(i.entry.path) &&
      ctx.state.getFile(i.entry.path)?.deleted === false
    ).length;
    checkDeleteShare(ctx, doomed, "remote deletions would remove");
  }
  // Moves first: they need their source, which a deletion in the same batch would remove.
  const rank = (i: Item) => (i.entry.op === "move" ? 0 : i.entry.op === "put" ? 1 : 2);
  items.sort((a, b) => rank(a) - rank(b));
  const fetches: Extract<Plan, { t: "fetch" }>[] = [];
  const multi = new Set([...byPath].filter(([, m]) => m.size > 1).map(([p]) => p));
  for (const item of items) {
    try {
      const plan = await decideChecked(ctx, item);
      if (plan.t === "fetch" && !multi.has(item.entry.path)) fetches.push(plan);
      else {
        await execute(ctx, plan);
        if (plan.t !== "skip") solved(ctx, item.entry.path);
      }
    } catch (e) {
      failEntry(ctx, item, e);
    }
  }
  await fetchAll(ctx, fetches);
}

/**
 * One entry that cannot be applied here (a name this file system cannot hold, a folder or a
 * symbolic link in the way, a permission): it is recorded in the problem list, reported, and the
 * rest goes on. Anything else (the disk is full, the relay failed, data was tampered with) stops
 * the round. The commit is still acknowledged; `retryProblems` asks for the version again once
 * the cause looks gone.
 */
function failEntry(ctx: RoundContext, item: Item, e: unknown): void {
  const err = localIoError(e, `writing ${item.entry.path}`);
  if (err.kind !== "local-io" && err.kind !== "hostile") throw err;
  const reason = entryReason(err);
  ctx.state.putProblem({
    path: item.entry.path,
    direction: "down",
    reason,
    pusher: item.commit.client,
  });
  ctx.problems.add(item.entry.path);
  ctx.stats.problems++;
  ctx.emit({ type: "problem", path: item.entry.path, reason });
  ctx.log.log(
    "warn",
    `${item.entry.path}: cannot be written here (${reason}); skipped until the cause is gone`,
  );
}

/** Why an entry failed, in the words of its usual causes rather than of a system call. */
function entryReason(err: EscaleError): string {
  const code = (err.cause as { code?: string } | undefined)?.code;
  switch (code) {
    case "ENAMETOOLONG":
      return "the name is too long for this file system";
    case "EISDIR":
      return "a folder of that name is in the way";
    case "ENOTDIR":
      return "a file stands where its folder should be";
    case "EACCES":
    case "EPERM":
      return "permission denied";
  }
  return describeError(err);
}

/** A path that was a problem has been applied. */
function solved(ctx: RoundContext, path: string): void {
  if (!ctx.problems.delete(path)) return;
  ctx.state.clearProblem(path, "down");
  ctx.log.log("info", `${path}: synchronised again`);
}

/**
 * Problems whose cause looks gone (the name fits, nothing stands in the way) are asked again
 * from the client that published them. A problem that comes back waits longer each time (one
 * minute, doubling, at most a day), since its cause could not be seen from here.
 */
export function retryProblems(ctx: RoundContext): void {
  const wanted = ctx.state.allWants();
  for (const p of ctx.state.problems("down")) {
    ctx.problems.add(p.path);
    if (!p.pusher || !ctx.clients.has(p.pusher)) continue;
    if (wanted[p.pusher]?.paths.includes(p.path) || !placeable(ctx.root, p.path)) continue;
    const wait = Math.min(2 ** (p.tries - 1) * 60_000, 24 * 3600_000);
    if (p.retried !== null && Date.now() - p.retried < wait) continue;
    ctx.state.addWant(p.pusher, p.path);
    ctx.state.markRetried(p.path, "down");
    ctx.log.log("info", `${p.path}: asking ${clientName(ctx, p.pusher)} for it again`);
  }
}

/** Whether a file could be created at `rel` now, as far as can be seen without writing. */
function placeable(root: string, rel: string): boolean {
  const segs = rel.split("/");
  if (segs.some((s) => utf8Length(s) > NAME_MAX)) return false;
  let cur = root;
  for (let i = 0; i < segs.length; i++) {
    cur = `${cur}/${segs[i]}`;
    let st: Deno.FileInfo;
    try {
      st = Deno.lstatSync(cur);
    } catch {
      return true; // missing: the rest will be created
    }
    if (i < segs.length - 1 ? !st.isDirectory : st.isDirectory) return false;
  }
  return true;
}

/**
 * A move whose content exists neither under its source nor under any other local name becomes a
 * put of the same version, with the data of a put of that content in the same batch when there
 * is one. Otherwise the move stays a move, and applying it asks its author for the content.
 */
function withContent(ctx: RoundContext, item: Item, puts: Map<string, Item>): Item {
  const e = item.entry;
  if (e.op !== "move") return item;
  const src = ctx.state.getFile(e.from);
  if (src && !src.deleted && !src.dirty && src.hash === e.hash) return item;
  if (ctx.state.liveFileWithHash(e.hash)) return item;
  const put = puts.get(e.hash);
  if (!put || put.entry.op !== "put") return item;
  const { from: _, ...rest } = e;
  return { entry: { ...rest, op: "put", data: put.entry.data }, commit: put.commit };
}

/**
 * Asks the author of a commit for the current version of a path whose content this client could
 * not get (see answerWants in push.ts); the request goes out with this client's record.
 */
function askFor(ctx: RoundContext, item: Item, why: string): void {
  ctx.state.addWant(item.commit.client, item.entry.path);
  ctx.log.log(
    "info",
    `${item.entry.path}: ${why}; asking ${clientName(ctx, item.commit.client)} to send it`,
  );
}

/** Decides, after making sure the state still describes the local file the plan would touch. */
async function decideChecked(ctx: RoundContext, item: Item): Promise<Plan> {
  const row = ctx.state.getFile(item.entry.path);
  if (row && !row.deleted && await refreshIfChanged(ctx, row)) {
    return decide(ctx, item, ctx.state.getFile(item.entry.path));
  }
  return decide(ctx, item, row);
}

/**
 * A file edited after this round's scan is re-hashed so the decision sees the edit. Returns
 * whether the state row changed.
 */
async function refreshIfChanged(ctx: RoundContext, row: FileRow): Promise<boolean> {
  const abs = `${ctx.root}/${row.path}`;
  const st = await statLocal(abs);
  if (st && sameStat(st, row)) {
    // A new big file the scan left unhashed: the decision compares contents.
    if (row.hash !== UNHASHED) return false;
    ctx.state.putFile({ ...row, hash: await ctx.hasher.file(abs, st.size) });
    return true;
  }
  if (!st) {
    ctx.state.putFile({ ...row, deleted: true, dirty: true, movedFrom: null });
    return true;
  }
  const hash = await hashFile(abs);
  if (hash !== row.hash) ctx.state.putFile({ ...row, ...st, hash, dirty: true, movedFrom: null });
  else ctx.state.putFile({ ...row, ...st });
  return true;
}

function hiddenPath(path: string): boolean {
  return path.split("/").some((s) => s.startsWith("."));
}

/** The plan for one remote entry, given the local state row of its path (as of now). */
function decide(ctx: RoundContext, item: Item, row: FileRow | undefined): Plan {
  const e = item.entry;
  const o = ctx.opts;
  if (
    !o.filter.acceptFile(e.path) || (!o.hiddenFiles && hiddenPath(e.path)) ||
    o.ownFiles?.includes(e.path)
  ) return { t: "skip" };
  const order = compareVV(e.vv, row?.vv ?? {});
  // A replica restores the version it had when the local copy was edited or deleted.
  const restore = ctx.rules.mirrorLocal && order === "equal" && row?.dirty === true &&
    e.op !== "del";
  if (order === "before" || (order === "equal" && !restore)) return { t: "skip" };
  const concurrent = order === "concurrent";
  const merged = mergeVV(row?.vv ?? {}, e.vv);

  if (ctx.rules.mirrorRemote) {
    // This client is the reference: whatever others did to the path is undone by republishing
    // the local state with a version that dominates theirs.
    if (row) return { t: "state", rows: [{ ...row, vv: merged, dirty: true, movedFrom: null }] };
    return { t: "state", rows: [tombstone(e.path, merged, ctx.me, true)] };
  }
  const access = ctx.state.getAccess(e.path);
  if (access.w === "-") return { t: "skip" };
  const localDirty = row?.dirty ?? false;
  if ((!concurrent && !localDirty) || ctx.rules.mirrorLocal) {
    return fastForward(ctx, item, row, merged);
  }
  return resolveConflict(ctx, item, row!, concurrent, merged);
}

function fastForward(
  ctx: RoundContext,
  item: Item,
  row: FileRow | undefined,
  vv: FileRow["vv"],
): Plan {
  const e = item.entry;
  const live = row !== undefined && !row.deleted;
  if (live && ctx.rules.conservative && ctx.state.getAccess(e.path).w !== "+") return { t: "skip" };
  if (e.op === "del") {
    if (!live) return { t: "state", rows: [tombstone(e.path, vv, e.origin, false)] };
    if (!ctx.rules.applyDeletes) return { t: "state", rows: [{ ...row, vv, dirty: false }] };
    return { t: "delete", item, row };
  }
  if (live && row.hash === e.hash) {
    return { t: "state", rows: [{ ...row, vv, origin: e.origin, dirty: false, movedFrom: null }] };
  }
  if (e.op === "move") return { t: "move", item, row };
  return {
    t: "fetch",
    item,
    dest: e.path,
    destRow: remoteRow(e, vv),
    replaces: live ? row : undefined,
  };
}

function resolveConflict(
  ctx: RoundContext,
  item: Item,
  row: FileRow,
  concurrent: boolean,
  merged: FileRow["vv"],
): Plan {
  const e = item.entry;
  const live = !row.deleted;
  // Against a concurrent version, a resolution that involved an unpublished local change is
  // published again: other clients compared the remote version with this client's published one
  // and may have chosen differently. Between two published versions every client decides alike.
  const republish = concurrent && row.dirty;
  if (!live && e.op === "del") {
    return { t: "state", rows: [{ ...row, vv: merged, dirty: republish }] };
  }
  if (live && e.op !== "del" && row.hash === e.hash) {
    return { t: "state", rows: [{ ...row, vv: merged, dirty: false, movedFrom: null }] };
  }
  ctx.stats.conflicts++;
  if (e.op === "del") {
    // An edit beats a concurrent deletion: keep the file and publish it again.
    ctx.emit({ type: "conflict", path: e.path, copy: null, kept: "local" });
    ctx.log.log(
      "info",
      `${e.path}: deleted by ${clientName(ctx, e.origin)} but edited here; keeping the edit`,
    );
    return { t: "state", rows: [{ ...row, vv: merged, dirty: true }] };
  }
  if (!live) {
    // A deletion loses against a concurrent edit: the file comes back.
    ctx.emit({ type: "conflict", path: e.path, copy: null, kept: "remote" });
    ctx.log.log(
      "info",
      `${e.path}: deleted here but edited by ${clientName(ctx, e.origin)}; restoring it`,
    );
    return {
      t: "fetch",
      item,
      dest: e.path,
      destRow: { ...remoteRow(e, merged), dirty: republish },
    };
  }
  const strategy = ctx.opts.conflict;
  let remoteWins: boolean;
  // local/remote choose between an unpublished local edit and a remote one; two versions that
  // are both published are ordered the same way on every client, or clients would diverge.
  if (!concurrent && strategy === "local") remoteWins = false;
  else if (!concurrent && strategy === "remote") remoteWins = true;
  else remoteWins = e.mtime > row.mtime || (e.mtime === row.mtime && e.hash > row.hash);
  const keepBoth = strategy === "keep-both";
  const localOrigin = row.dirty ? ctx.me : row.origin;
  if (remoteWins) {
    const copy = keepBoth
      ? freeName(ctx, conflictName(e.path, clientName(ctx, localOrigin), row.mtime))
      : null;
    ctx.emit({ type: "conflict", path: e.path, copy, kept: "remote" });
    ctx.log.log(
      "warn",
      `${e.path}: conflicting edits; keeping ${clientName(ctx, e.origin)}'s version` +
        (copy ? `, this client's saved as ${copy}` : ", this client's discarded"),
    );
    return {
      t: "fetch",
      item,
      dest: e.path,
      destRow: { ...remoteRow(e, merged), dirty: republish },
      replaces: row,
      saveLocalAs: copy
        ? {
          to: copy,
          row: { ...row, path: copy, vv: {}, origin: ctx.me, dirty: true, movedFrom: null },
        }
        : undefined,
    };
  }
  const keptRow: FileRow = { ...row, vv: merged, dirty: row.dirty, movedFrom: null };
  if (!keepBoth) {
    ctx.emit({ type: "conflict", path: e.path, copy: null, kept: "local" });
    ctx.log.log(
      "warn",
      `${e.path}: conflicting edits; keeping this client's version, ${
        clientName(ctx, e.origin)
      }'s discarded`,
    );
    return { t: "state", rows: [keptRow] };
  }
  const copy = freeName(ctx, conflictName(e.path, clientName(ctx, e.origin), e.mtime));
  ctx.emit({ type: "conflict", path: e.path, copy, kept: "local" });
  ctx.log.log(
    "warn",
    `${e.path}: conflicting edits; keeping this client's version, ${
      clientName(ctx, e.origin)
    }'s saved as ${copy}`,
  );
  return {
    t: "fetch",
    item,
    dest: copy,
    destRow: { ...remoteRow(e, {}), path: copy, origin: ctx.me, dirty: true },
    rows: [keptRow],
  };
}

/** A conflict copy never overwrites anything: if the name is taken, a counter is added. */
function freeName(ctx: RoundContext, name: string): string {
  let candidate = name;
  for (let n = 1;; n++) {
    const row = ctx.state.getFile(candidate);
    let exists = false;
    try {
      Deno.lstatSync(`${ctx.root}/${candidate}`);
      exists = true;
    } catch { /* free */ }
    if (!exists && (!row || row.deleted)) return candidate;
    const dot = name.lastIndexOf(".");
    candidate = dot > name.lastIndexOf("/") + 1
      ? `${name.slice(0, dot)}-${n}${name.slice(dot)}`
      : `${name}-${n}`;
  }
}

function remoteRow(e: Extract<Entry, { op: "put" | "move" }>, vv: FileRow["vv"]): FileRow {
  return {
    path: e.path,
    size: e.size,
    mtime: e.mtime,
    ino: 0,
    hash: e.hash,
    vv,
    origin: e.origin,
    deleted: false,
    dirty: false,
    movedFrom: null,
  };
}

function tombstone(path: string, vv: FileRow["vv"], origin: string, dirty: boolean): FileRow {
  return {
    path,
    size: 0,
    mtime: 0,
    ino: 0,
    hash: "",
    vv,
    origin,
    deleted: true,
    dirty,
    movedFrom: null,
  };
}

async function execute(ctx: RoundContext, plan: Plan): Promise<void> {
  switch (plan.t) {
    case "skip":
      return;
    case "state":
      ctx.state.tx(() => plan.rows.forEach((r) => ctx.state.putFile(r)));
      return;
    case "delete": {
      const abs = await safeLocalPath(ctx.root, plan.row.path, false);
      try {
        await Deno.remove(abs);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) {
          throw localIoError(e, `deleting ${plan.row.path}`);
        }
      }
      await pruneEmptyParents(ctx.root, plan.row.path);
      ctx.state.putFile(
        tombstone(plan.row.path, plan.item.entry.vv, plan.item.entry.origin, false),
      );
      ctx.stats.deletedLocal++;
      ctx.emit({ type: "deleted", path: plan.row.path });
      return;
    }
    case "move":
      return await executeMove(ctx, plan.item, plan.row);
    case "fetch":
      return await fetchAll(ctx, [plan]);
  }
}

/** Applies a rename by moving (or copying) a local file with the same content. */
async function executeMove(
  ctx: RoundContext,
  item: Item,
  row: FileRow | undefined,
  destPath?: string,
  destRow?: FileRow,
  rows: FileRow[] = [],
): Promise<void> {
  const e = item.entry as Extract<Entry, { op: "move" }>;
  const src = destPath && destPath !== e.path ? undefined : ctx.state.getFile(e.from);
  const dest = await safeLocalPath(ctx.root, destPath ?? e.path, true);
  const vv = mergeVV(row?.vv ?? {}, e.vv);
  if (row && !row.deleted) {
    const st = await statLocal(dest);
    if (st && !sameStat(st, row)) return; // edited meanwhile: the next round sees it as a conflict
  }
  let done = false;
  if (src && !src.deleted && !src.dirty && src.hash === e.hash) {
    const from = await safeLocalPath(ctx.root, src.path, false);
    const st = await statLocal(from);
    if (st && sameStat(st, src)) {
      await Deno.rename(from, dest).catch((err) => {
        throw localIoError(err, `moving ${src.path} to ${e.path}`);
      });
      await pruneEmptyParents(ctx.root, src.path);
      ctx.state.putFile({ ...src, deleted: true, dirty: false, hash: "", movedFrom: null });
      done = true;
    }
  }
  if (!done) {
    // The source is gone or differs here: any local file with the same content will do.
    const twin = ctx.state.liveFileWithHash(e.hash);
    if (!twin) return askFor(ctx, item, `moved from ${e.from}, whose content is not here`);
    const tmp = tempPathFor(dest);
    await Deno.copyFile(`${ctx.root}/${twin.path}`, tmp).catch((err) => {
      throw localIoError(err, `copying ${twin.path}`);
    });
    if ((await hashFile(tmp)) !== e.hash) {
      await Deno.remove(tmp).catch(() => {});
      return askFor(ctx, item, `moved from ${e.from}, but the local copy changed`);
    }
    await setTimes(ctx, tmp, e.mtime);
    await Deno.rename(tmp, dest);
  }
  if (ctx.opts.modificationTime) await setTimes(ctx, dest, e.mtime);
  const st = (await statLocal(dest))!;
  ctx.state.tx(() => {
    ctx.state.putFile({ ...(destRow ?? remoteRow(e, vv)), ...st });
    for (const r of rows) ctx.state.putFile(r);
  });
  ctx.stats.movedLocal++;
  ctx.emit({ type: "moved", from: e.from, path: e.path });
}

async function setTimes(ctx: RoundContext, abs: string, mtimeMs: number): Promise<void> {
  if (!ctx.opts.modificationTime) return;
  await Deno.utime(abs, new Date(), new Date(mtimeMs)).catch((e) => {
    throw localIoError(e, `setting the time of ${abs}`);
  });
}

/**
 * Largest single write: 8 MiB writes took about three times the system time of 256 KiB ones on
 * the test machine.
 */
const WRITE_MAX = 256 * 1024;

/** Files up to this size are assembled in memory and written with one call. */
const SMALL_FILE = 256 * 1024;

interface Sink {
  plan: Extract<Plan, { t: "fetch" }>;
  abs: string;
  tmp: string;
  file: Deno.FsFile | null;
  small: Uint8Array[] | null;
  finished?: boolean;
  stat?: { size: number; mtime: number; ino: number };
  /** small files: hashed here as they arrive */
  hash: Hash;
  /** big files: hashed on the worker from what was written (see Hasher.follow) */
  follow: Follower | null;
  /** bytes written to `tmp` so far */
  written: number;
  /** writing this file failed (reported when it is finished) */
  failed?: EscaleError;
  left: number;
}

/**
 * Downloads the content of many entries with few relay requests: per data object, one read of
 * the range that covers every needed extent, its bytes dispatched to the files they belong to.
 * Each file goes to a temporary name, is checked against its hash, gets its time, and is renamed
 * into place; only then is the state updated.
 */
async function fetchAll(ctx: RoundContext, all: Extract<Plan, { t: "fetch" }>[]): Promise<void> {
  const plans = [];
  for (const p of all) {
    if (p.item.entry.op !== "move") {
      plans.push(p);
      continue;
    }
    try {
      // A rename carries no data: the content comes from a local file with the same hash.
      if (p.saveLocalAs) {
        await Deno.rename(
          `${ctx.root}/${p.item.entry.path}`,
          await safeLocalPath(ctx.root, p.saveLocalAs.to, true),
        );
        // The local version now lives under its conflict name. Until the move is applied here
        // (its content may have to be asked for, see askFor) the path holds nothing: a clean
        // tombstone with the old version publishes nothing, and the remote version still wins.
        const old = p.replaces;
        const rows = [
          p.saveLocalAs.row,
          tombstone(p.dest, old?.vv ?? {}, old?.origin ?? ctx.me, false),
        ];
        ctx.state.tx(() => rows.forEach((r) => ctx.state.putFile(r)));
      }
      await executeMove(ctx, p.item, undefined, p.dest, p.destRow, p.rows);
      solved(ctx, p.dest);
    } catch (e) {
      failEntry(ctx, p.item, e);
    }
  }
  const byCommit = new Map<Commit, Extract<Plan, { t: "fetch" }>[]>();
  for (const p of plans) {
    const list = byCommit.get(p.item.commit) ?? [];
    list.push(p);
    byCommit.set(p.item.commit, list);
  }
  const dirs = new Set<string>(); // folders already checked for symlinks in this batch
  for (const [commit, list] of byCommit) {
    const sinks: Sink[] = [];
    try {
      for (const plan of list) {
        const e = plan.item.entry as Extract<Entry, { op: "put" }>;
        let abs: string;
        try {
          abs = await safeLocalPath(ctx.root, plan.dest, true, dirs);
        } catch (err) {
          failEntry(ctx, plan.item, err);
          continue;
        }
        sinks.push({
          plan,
          abs,
          tmp: tempPathFor(abs),
          file: null,
          small: e.size <= SMALL_FILE ? [] : null,
          hash: createHash("sha256"),
          follow: null,
          written: 0,
          left: e.size,
        });
        ctx.emit({ type: "file-start", direction: "down", path: plan.dest, size: e.size });
      }
      const need = new Map<number, { sink: Sink; off: number; len: number }[]>();
      for (const s of sinks) {
        for (const [obj, off, len] of (s.plan.item.entry as Extract<Entry, { op: "put" }>).data) {
          const l = need.get(obj) ?? [];
          l.push({ sink: s, off, len });
          need.set(obj, l);
        }
      }
      // Files are finished as soon as their last byte arrived, so that memory holds at most
      // the small files of one data object (chunk size), whatever the size of the commit.
      const settle = async (ready: Sink[]) => {
        const done: Sink[] = [];
        // Creating files is kernel work that scales with threads: in a large batch, every
        // second new small file is written by the worker while this thread writes the others.
        const away = ready.length >= OFFLOAD_MIN
          ? ready.filter((s, i) =>
            i % 2 === 1 && s.small && !s.plan.replaces && !s.plan.saveLocalAs
          )
          : [];
        const awaySet = new Set(away);
        const remote = away.length ? finishOnWorker(ctx, commit, away, done) : null;
        remote?.catch(() => {}); // awaited below
        try {
          await forEachLimit(ready.filter((s) => !awaySet.has(s)), 16, async (s) => {
            s.finished = true;
            try {
              if (await finish(ctx, commit, s)) done.push(s);
            } catch (e) {
              failEntry(ctx, s.plan.item, e);
            }
          });
          if (remote) await remote;
        } finally {
          // Files the worker put in place are recorded even when this thread failed.
          if (remote) await remote.catch(() => {});
          // One transaction per batch: per-file commits dominate with many small files.
          record(ctx, done);
        }
      };
      // Objects are applied in order (files are hashed as they are written), but up to
      // `transfers` of them are fetched ahead into memory, so transfers overlap: two left the
      // link idle while each new one (on FTP a data connection of its own) left slow start.
      const objs = [...need.keys()].sort((a, b) => a - b);
      for (const o of objs) need.get(o)!.sort((a, b) => a.off - b.off);
      const ahead = new Map<number, Promise<Uint8Array[] | null>>();
      for (let k = 0; k < objs.length; k++) {
        for (
          let j = k;
          j < Math.min(objs.length, k + Math.max(1, ctx.opts.transfers));
          j++
        ) {
          if (ahead.has(objs[j])) continue;
          const p = prefetch(ctx, commit, objs[j], need.get(objs[j])!);
          p.catch(() => {}); // awaited in turn below; an early failure must not go unhandled
          ahead.set(objs[j], p);
        }
        const obj = objs[k];
        const data = await ahead.get(obj)!;
        ahead.delete(obj);
        await readObject(ctx, commit, obj, need.get(obj)!, data);
        await settle(
          sinks.filter((s) =>
            !s.finished && s.left === 0 && s.plan.item.entry.op === "put" &&
            (s.plan.item.entry as Extract<Entry, { op: "put" }>).data.every(([o]) => o <= obj)
          ),
        );
      }
      await settle(sinks.filter((s) => !s.finished));
    } catch (e) {
      // A released commit and its data are deleted together: the commit is on its way out.
      if (
        !(isKind(e, "not-found") && commit.objects.some((o) => o.key === (e as RelayError).key))
      ) {
        throw e;
      }
      missedRelease(ctx, commit.client, commit.seq);
    } finally {
      for (const s of sinks) {
        s.follow?.cancel();
        s.file?.close();
        if (!s.stat) await Deno.remove(s.tmp).catch(() => {});
      }
    }
  }
}

/** Ranges up to this size are fetched ahead into memory; larger ones are streamed in turn. */
const PREFETCH_MAX = 64 * 1024 * 1024;

function neededRange(parts: { off: number; len: number }[]): [number, number] {
  return [parts[0].off, Math.max(...parts.map((p) => p.off + p.len))];
}

async function prefetch(
  ctx: RoundContext,
  commit: Commit,
  obj: number,
  parts: { off: number; len: number }[],
): Promise<Uint8Array[] | null> {
  const [start, end] = neededRange(parts);
  if (end - start > PREFETCH_MAX) return null;
  const key = commit.objects[obj].key;
  // The chunks as they came (no copy); readObject checks the total length.
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (
    const chunk of await ctx.store.relay.read(key, { offset: start, length: end - start })
  ) {
    total += chunk.length;
    if (total > end - start) {
      throw new EscaleError("integrity", `${key}: data object is longer than its commit says`);
    }
    chunks.push(chunk);
  }
  return chunks;
}

async function readObject(
  ctx: RoundContext,
  commit: Commit,
  obj: number,
  parts: { sink: Sink; off: number; len: number }[],
  fetched: Uint8Array[] | null,
): Promise<void> {
  const key = commit.objects[obj].key;
  const [start, end] = neededRange(parts);
  const stream: AsyncIterable<Uint8Array> | Iterable<Uint8Array> = fetched ??
    await ctx.store.relay.read(key, { offset: start, length: end - start });
  // Parts are sorted by offset and may overlap (two paths with the same content share extents).
  let pos = start;
  let i = 0;
  for await (const chunk of stream) {
    const next = pos + chunk.length;
    for (let j = i; j < parts.length && parts[j].off < next; j++) {
      const p = parts[j];
      const a = Math.max(p.off, pos);
      const b = Math.min(p.off + p.len, next);
      if (a < b) deliver(ctx, p.sink, chunk.subarray(a - pos, b - pos));
    }
    pos = next;
    while (i < parts.length && parts[i].off + parts[i].len <= pos) i++;
    // The range asked ends with the last part, so the stream ends by itself; cancelling it
    // instead would make some servers (FTP) wait for an abort that never completes.
  }
  if (i < parts.length) {
    throw new EscaleError(
      "integrity",
      `${key}: data object is shorter than its commit says (truncated?)`,
    );
  }
}

/** Hands received bytes of one file to its sink: memory for small files, the temp file else. */
function deliver(ctx: RoundContext, s: Sink, piece: Uint8Array): void {
  if (s.small) s.small.push(piece.slice());
  else if (!s.failed) {
    // Synchronous writes: Deno's async file ops cost a thread hop and an fd dup each,
    // several times the cost of the write itself (docs/benchmarks.md).
    try {
      if (!s.file) {
        s.file = Deno.openSync(s.tmp, { write: true, createNew: true, mode: 0o644 });
        if (s.left >= WORKER_MIN) s.follow = ctx.hasher.follow(s.tmp);
      }
      let w = 0;
      while (w < piece.length) w += s.file.writeSync(piece.subarray(w, w + WRITE_MAX));
    } catch (e) {
      // This file fails when it is finished (failEntry); the others of the object go on.
      const err = localIoError(e, `writing ${s.plan.dest}`);
      if (err.kind !== "local-io") throw err;
      s.failed = err;
    }
    s.written += piece.length;
  }
  if (s.follow && !s.failed) s.follow.progress(s.written);
  else if (!s.failed) s.hash.update(piece);
  s.left -= piece.length;
  ctx.stats.downloadedBytes += piece.length;
  ctx.emit({ type: "bytes", direction: "down", bytes: piece.length });
}

/** Batches of received small files at least this large are shared with the worker. */
const OFFLOAD_MIN = 64;

/** The content check of `finish`, before anything is written. */
function checkContent(commit: Commit, s: Sink, got: string): void {
  const e = s.plan.item.entry as Extract<Entry, { op: "put" }>;
  if (s.left !== 0 || got !== e.hash) {
    throw new EscaleError(
      "integrity",
      `commit ${commit.client}-${commit.seq}: the content received for ${
        JSON.stringify(e.path)
      } does not match its hash; not applied`,
    );
  }
}

/**
 * `finish` for new small files, on the worker: each is verified here, then written, timed and
 * renamed there. Those put in place are added to `done`; the first failure is thrown after all.
 */
async function finishOnWorker(
  ctx: RoundContext,
  commit: Commit,
  sinks: Sink[],
  done: Sink[],
): Promise<void> {
  const jobs = sinks.map((s) => {
    s.finished = true;
    const e = s.plan.item.entry as Extract<Entry, { op: "put" }>;
    checkContent(commit, s, s.hash.digest("hex"));
    const data = concat(s.small!, e.size);
    s.small = []; // handed over: let the buffers go
    return { tmp: s.tmp, dest: s.abs, data, mtime: ctx.opts.modificationTime ? e.mtime : null };
  });
  const results = await ctx.hasher.writeFiles(jobs);
  let failure: EscaleError | null = null;
  results.forEach((r, i) => {
    const s = sinks[i];
    if ("error" in r) {
      const err = localIoError(new Error(r.error), `writing ${s.plan.dest}`);
      if (err.kind === "local-io") failEntry(ctx, s.plan.item, err);
      else failure ??= err;
      return;
    }
    s.stat = r;
    ctx.stats.downloaded++;
    ctx.emit({ type: "file-done", direction: "down", path: s.plan.dest, size: r.size });
    done.push(s);
  });
  if (failure) throw failure;
}

/** Verifies, times and renames one received file into place; false if it was left alone. */
async function finish(ctx: RoundContext, commit: Commit, s: Sink): Promise<boolean> {
  const plan = s.plan;
  const e = plan.item.entry as Extract<Entry, { op: "put" }>;
  if (s.failed) throw s.failed;
  let got: string;
  if (s.follow) {
    const f = s.follow;
    s.follow = null;
    got = await f.end(s.written);
  } else got = s.hash.digest("hex");
  checkContent(commit, s, got);
  const mtime = ctx.opts.modificationTime ? e.mtime : null;
  let stat: LocalStat;
  try {
    if (s.small) {
      stat = writeTempFile(s.tmp, concat(s.small, e.size), mtime);
      s.small = []; // written: let the buffers go
    } else {
      const f = s.file ?? Deno.openSync(s.tmp, { write: true, createNew: true, mode: 0o644 });
      s.file = null;
      stat = closeTempFile(f, mtime);
    }
  } catch (err) {
    throw localIoError(err, `writing ${plan.dest}`);
  }
  const abs = s.abs;
  if (plan.replaces) {
    // Last check before replacing: the local file must be the one the decision was made on.
    const st = await statLocal(abs);
    if (st && !sameStat(st, plan.replaces)) {
      ctx.log.log(
        "info",
        `${plan.dest}: changed locally during the round; left for the next round`,
      );
      return false;
    }
  }
  try {
    if (plan.saveLocalAs) {
      await Deno.rename(abs, await safeLocalPath(ctx.root, plan.saveLocalAs.to, true));
      ctx.state.putFile(plan.saveLocalAs.row);
    }
    Deno.renameSync(s.tmp, abs);
  } catch (err) {
    throw localIoError(err, `writing ${plan.dest}`);
  }
  // rename keeps the inode and times: the stat of the open file describes the final one
  s.stat = stat;
  ctx.stats.downloaded++;
  ctx.emit({ type: "file-done", direction: "down", path: plan.dest, size: e.size });
  return true;
}

function record(ctx: RoundContext, done: Sink[]): void {
  ctx.state.tx(() => {
    for (const s of done) {
      ctx.state.putFile({ ...s.plan.destRow, ...s.stat! });
      solved(ctx, s.plan.dest);
      for (const r of s.plan.rows ?? []) ctx.state.putFile(r);
      if (ctx.rules.conservative) {
        const a = ctx.state.getAccess(s.plan.dest);
        ctx.state.setAccess(s.plan.dest, a.r, "+");
      }
    }
  });
}

/**
 * Mirror-download: local changes are undone. Files that exist only here are deleted; edited or
 * deleted files are restored from a full copy the pushers are asked for (first[p] past their
 * last commit, see noteGaps and push.ts).
 */
export async function undoLocalChanges(ctx: RoundContext): Promise<void> {
  const dirty = ctx.state.dirtyFiles();
  const extras = dirty.filter((r) => !r.deleted && Object.keys(r.vv).length === 0);
  checkDeleteShare(ctx, extras.length, "mirroring would delete local-only files:");
  for (const r of extras) {
    const abs = await safeLocalPath(ctx.root, r.path, false);
    await Deno.remove(abs).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw localIoError(e, `deleting ${r.path}`);
    });
    await pruneEmptyParents(ctx.root, r.path);
    ctx.state.deleteFile(r.path);
    ctx.stats.deletedLocal++;
    ctx.emit({ type: "deleted", path: r.path });
    ctx.log.log("info", `${r.path}: not on the other side; removed from this mirror`);
  }
  if (dirty.length === extras.length) return;
  const first = ctx.state.firstSeen();
  let asked = false;
  for (const p of ctx.clients.values()) {
    if (p.id === ctx.me || !p.pushes || !p.seq || (first[p.id] ?? 0) > p.seq) continue;
    first[p.id] = p.seq + 1;
    asked = true;
  }
  if (asked) {
    ctx.state.setFirstSeen(first);
    ctx.log.log(
      "info",
      `${dirty.length - extras.length} locally changed files will be restored from the other side`,
    );
  }
}

/**
 * The safety stop shared by both directions: too large a share of the tree deleted at once. The
 * share is of the files there were before the deletions: `gone` of the `count` are no longer
 * counted live (local deletions the scan recorded already).
 */
export function checkDeleteShare(ctx: RoundContext, count: number, what: string, gone = 0): void {
  if (ctx.opts.force || count <= 1) return;
  const live = ctx.state.countLiveFiles() + gone;
  if (count > ctx.opts.deleteThreshold * live) {
    throw new EscaleError(
      "safety",
      `${ctx.opts.name}: ${what} ${count} of ${live} files (more than ${
        Math.round(ctx.opts.deleteThreshold * 100)
      }%); nothing was deleted; re-run with --force if this is intended`,
    );
  }
}

/**
 * This client's open requests, for its record (see askFor). Requests to a client that is gone
 * are dropped; more than MAX_WANTS paths for one pusher become a request for a full copy.
 */
export function openWants(ctx: RoundContext): ClientRecord["wants"] {
  const out: NonNullable<ClientRecord["wants"]> = {};
  let first: Record<string, number> | null = null;
  for (const [p, w] of Object.entries(ctx.state.allWants())) {
    const pusher = ctx.clients.get(p);
    if (!pusher || w.paths.length > MAX_WANTS) {
      if (pusher) {
        first ??= ctx.state.firstSeen();
        first[p] = Math.max(first[p] ?? 0, (pusher.seq ?? 0) + 1);
        ctx.log.log("info", `asking ${pusher.name} for a full copy of its files`);
      }
      ctx.state.dropWants(p);
      continue;
    }
    out[p] = w;
  }
  if (first) ctx.state.setFirstSeen(first);
  return Object.keys(out).length ? out : undefined;
}
