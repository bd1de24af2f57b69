import { createHash } from "node:crypto";
import { EscaleError, isKind } from "../errors/errors.ts";
import {
  CLIENTS_DIR,
  COMMITS_DIR,
  DATA_DIR,
  HEADER_KEY,
  parseCommitKey,
  parseDataKey,
} from "../protocol/format.ts";
import { withLease } from "../protocol/lease.ts";
import { MOVED_KEY, movedRecordBytes, readMoved } from "../protocol/moved_record.ts";
import { RelayStore } from "../protocol/relay_store.ts";
import type { Relay } from "../relay/relay.ts";
import { type Emit, silent } from "./events.ts";

export interface MigrateResult {
  copied: number;
  /** objects already at the destination with the same bytes (a resumed migration) */
  kept: number;
  bytes: number;
  /** the source already said it had moved to this address (a re-run after the move) */
  alreadyMoved: boolean;
  /**
   * that move had completed: nothing was copied, since the destination may be in use already
   * (only the configuration is left to point there)
   */
  completed: boolean;
}

export interface MigrateOptions {
  /** the destination's address as shown to other clients (never a secret) */
  to: string;
  /** lease owner text */
  owner: string;
  /** the source store the lease is taken through (decrypting when the key is at hand) */
  sourceStore?: RelayStore;
  emit?: Emit;
}

/**
 * Moves a relay: under the source's maintenance lease, copies every live object as stored
 * (encrypted ones stay encrypted; no key is needed), each commit after its data objects and the
 * header last, so that the destination is a relay only once it is complete. Each copy is read
 * back and compared (size and SHA-256) with the source's bytes. Objects already at the
 * destination with the same bytes are kept, so an interrupted migration resumes without sending
 * them again. Then the moved record goes on the source, and a last pass copies what clients
 * published meanwhile; from their next round on, they stop with the new address. The record is
 * then marked complete: a later run (another client whose configuration still names the old
 * relay) copies nothing over the destination, which clients may be using already.
 */
export async function migrateRelay(
  source: Relay,
  dest: Relay,
  opts: MigrateOptions,
): Promise<MigrateResult> {
  const emit = opts.emit ?? silent;
  const header = await RelayStore.readHeader(source);
  const moved = await readMoved(source);
  if (!header) {
    throw new EscaleError(
      "usage",
      `${source.name} holds no relay (no ${HEADER_KEY}); nothing to migrate`,
    );
  }
  if (moved && moved.to !== opts.to) {
    throw new EscaleError(
      "moved",
      `${source.name} was already moved to ${moved.to}; migrate from there instead`,
    );
  }
  const there = await RelayStore.readHeader(dest);
  if (there && there.created !== header.created) {
    throw new EscaleError(
      "safety",
      `${dest.name} already holds another relay (created ${there.created}); choose an empty destination`,
    );
  }
  const result: MigrateResult = {
    copied: 0,
    kept: 0,
    bytes: 0,
    alreadyMoved: moved !== null,
    completed: moved?.complete === true,
  };
  if (moved?.complete) {
    // A second client whose configuration still names the old relay: the clients may have been
    // using the new one for a while (released commits, newer records), so copying the old
    // relay's stale objects over it would bring them back. Nothing is copied.
    if (!there) {
      throw new EscaleError(
        "moved",
        `${source.name} was moved to ${moved.to}, but ${dest.name} holds no relay; this client's configuration should point where the relay is now`,
      );
    }
    emit({ type: "note", message: `${source.name} had already moved to ${moved.to}` });
    return result;
  }
  const store = opts.sourceStore ?? new RelayStore(source);
  const verified = new Set<string>();
  await withLease(store, "maintenance", opts.owner, async () => {
    await copyPass(source, dest, result, verified, emit);
    if (!moved) {
      await source.write(MOVED_KEY, movedRecordBytes(opts.to, header.created));
      emit({ type: "note", message: `left a moved record on ${source.name}` });
      // Clients that were mid-round when the record appeared may have published since; what
      // this run already verified is immutable and not looked at again (records are).
      const last: MigrateResult = { ...result };
      await copyPass(source, dest, last, verified, emit);
      result.copied = last.copied;
      result.bytes = last.bytes;
    }
    // Until this record says so, a re-run resumes the copy (a migration interrupted after the
    // first record); from now on it copies nothing.
    await source.write(MOVED_KEY, movedRecordBytes(opts.to, header.created, true));
  });
  return result;
}

/** One pass over the source: data and commits (data first), client records, then the header. */
async function copyPass(
  source: Relay,
  dest: Relay,
  r: MigrateResult,
  verified: Set<string>,
  emit: Emit,
): Promise<void> {
  const copy = async (key: string, sizes: Map<string, number>) => {
    if (verified.has(key)) return;
    await copyObject(source, dest, key, sizes, r);
    if (key.startsWith(`${DATA_DIR}/`) || key.startsWith(`${COMMITS_DIR}/`)) verified.add(key);
  };
  const destSizes = new Map<string, number>();
  for (const dir of [CLIENTS_DIR, COMMITS_DIR, DATA_DIR]) {
    for await (const e of dest.list(dir)) destSizes.set(e.key, e.size);
  }
  const commits = [];
  for await (const e of source.list(COMMITS_DIR)) if (parseCommitKey(e.key)) commits.push(e);
  const data = new Map<string, { key: string; size: number }[]>();
  for await (const e of source.list(DATA_DIR)) {
    const d = parseDataKey(e.key);
    if (!d) continue;
    const id = `${d.cid}-${String(d.seq).padStart(10, "0")}`;
    data.set(id, [...(data.get(id) ?? []), e]);
  }
  const records = [];
  for await (const e of source.list(CLIENTS_DIR)) records.push(e);
  const total = commits.length + records.length + 1;
  emit({ type: "phase", phase: "copying", total, unit: "objects" });
  let done = 0;
  for (const c of commits) {
    const id = c.key.slice(COMMITS_DIR.length + 1);
    for (const d of data.get(id) ?? []) await copy(d.key, destSizes);
    await copy(c.key, destSizes);
    emit({ type: "progress", done: ++done, total });
  }
  for (const e of records) {
    await copy(e.key, destSizes);
    emit({ type: "progress", done: ++done, total });
  }
  const hs = await dest.stat(HEADER_KEY);
  await copy(HEADER_KEY, new Map(hs ? [[HEADER_KEY, hs.size]] : []));
  emit({ type: "progress", done: ++done, total });
}

/**
 * Copies one object and verifies the copy by reading it back. An object the source released
 * meanwhile (its commit acknowledged by everyone) is skipped, and an unfinished copy of it
 * removed. One already at the destination with the same size is compared, not sent again.
 */
async function copyObject(
  source: Relay,
  dest: Relay,
  key: string,
  destSizes: Map<string, number>,
  r: MigrateResult,
): Promise<void> {
  let size = 0;
  if (destSizes.has(key)) {
    const there = await hashOf(dest, key);
    const here = await hashOf(source, key);
    if (!here) return;
    if (there && there.sha === here.sha && there.size === here.size) {
      r.kept++;
      return;
    }
  }
  if (!(await source.stat(key))) return; // released meanwhile
  // Replayable, as writes must be: each opening reads the source again from the start.
  let h = createHash("sha256");
  const body = () => {
    h = createHash("sha256");
    size = 0;
    let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
    return new ReadableStream<Uint8Array>({
      async pull(ctl) {
        reader ??= (await source.read(key)).getReader();
        const { value, done } = await reader.read();
        if (done) return ctl.close();
        size += value.length;
        h.update(value);
        ctl.enqueue(value);
      },
      async cancel(reason) {
        await reader?.cancel(reason);
      },
    }, { highWaterMark: 0 });
  };
  try {
    await dest.write(key, body);
  } catch (e) {
    if (isKind(e, "not-found")) {
      await dest.delete(key).catch(() => {});
      return;
    }
    throw e;
  }
  const expected = h.digest("hex");
  const back = await hashOf(dest, key);
  if (!back || back.size !== size || back.sha !== expected) {
    await dest.delete(key).catch(() => {});
    throw new EscaleError(
      "integrity",
      `${dest.name}: the copy of ${key} does not read back as it was written (size or SHA-256 differ); run escale migrate again`,
    );
  }
  r.copied++;
  r.bytes += size;
}

async function hashOf(relay: Relay, key: string): Promise<{ size: number; sha: string } | null> {
  let stream: ReadableStream<Uint8Array>;
  try {
    stream = await relay.read(key);
  } catch (e) {
    if (isKind(e, "not-found")) return null;
    throw e;
  }
  const h = createHash("sha256");
  let size = 0;
  for await (const c of stream) {
    size += c.length;
    h.update(c);
  }
  return { size, sha: h.digest("hex") };
}
