import { EscaleError, isKind } from "../errors/errors.ts";
import { createCryptoParams } from "../crypto/key_params.ts";
import { EncryptedRelay } from "../crypto/encrypted_relay.ts";
import type { Repository } from "../engine/repository.ts";
import {
  type ClientRecord,
  CLIENTS_DIR,
  COMMITS_DIR,
  DATA_DIR,
  FORMAT_NAME,
  FORMAT_VERSION,
  type Header,
  HEADER_KEY,
  LEASES_DIR,
  validateClientRecord,
} from "../protocol/format.ts";
import { readLease, withLease } from "../protocol/lease.ts";
import { MOVED_KEY } from "../protocol/moved_record.ts";
import { type EncryptionSetting, openStore } from "../protocol/open_store.ts";
import { RelayStore } from "../protocol/relay_store.ts";
import type { Relay, UnfinishedUpload } from "../relay/relay.ts";
import { utf8 } from "../util/streams.ts";
import { type Emit, silent } from "./events.ts";

/** A data object no commit references is garbage only once its writer cannot be mid-publication. */
export const ORPHAN_AGE_MS = 24 * 3600 * 1000;
/**
 * A temporary object (or an unfinished upload) untouched this long belongs to a writer that was
 * killed, not to a transfer in flight.
 */
export const TEMP_AGE_MS = 3600 * 1000;

/** What this client remembers of the relay (its state), the ground a rebuild stands on. */
export interface LocalView {
  /** the relay's `created` as last seen, when this client ever synchronised with it */
  relayId?: string;
  me: string;
  /** whether this client's record was ever written to the relay */
  registered: boolean;
  /** the client records seen at the last rounds (JSON) */
  records: string[];
  /** sequence of this client's interrupted publication, if any (its data objects are kept) */
  pendingSeq?: number;
}

export interface FixPlan {
  /** the header is missing (or a fresh, empty one replaced it): written with the old identity */
  writeHeader: boolean;
  /** the relay lost every client record: restored from this client's copy, with a full copy */
  rebuild: boolean;
  restoreRecords: { id: string; name: string }[];
  staleLeases: string[];
  orphans: { key: string; size: number }[];
  temporary: { key: string; size: number }[];
  /** unfinished multipart uploads of killed writers (S3), aborted */
  uploads: UnfinishedUpload[];
}

export interface FixOptions {
  relay: Relay;
  enc: EncryptionSetting;
  local: LocalView;
  /** opens this client's repository on the repaired store (for the full copy) */
  openRepository: (store: RelayStore, relayId: string) => Repository;
  /** lease owner text, e.g. "laptop (3fa9…) fix" */
  owner: string;
  dryRun?: boolean;
  emit?: Emit;
  /** milliseconds clock, for the ages of orphans, temporary objects and uploads */
  now?: () => number;
}

/**
 * `escale fix`: Escale's recovery of a lost relay, and repairs of a damaged one.
 *
 * When the relay lost its header and every client record (wiped, or replaced by an empty
 * folder), an up-to-date client rebuilds it: the header with the identity (`created`) the
 * clients remember, so that none of them takes the relay for a new one and republishes
 * everything; the client records it last saw, so that every client keeps its acknowledgements;
 * and a full copy of its tree with the existing version vectors, deletions included: a client
 * holding the same version downloads nothing, and a file deleted before the loss is deleted
 * everywhere instead of coming back.
 *
 * It also removes expired leases, temporary objects of killed writers and data objects no
 * commit references (only those whose writer cannot still be publishing them). With `dryRun`
 * it only returns the plan.
 */
export async function fixRelay(o: FixOptions): Promise<{ plan: FixPlan; entries: number }> {
  const emit = o.emit ?? silent;
  const now = o.now ?? Date.now;
  const { relay, local } = o;
  let header = await RelayStore.readHeader(relay);
  const records = header ? await listRecords(relay) : [];
  let writeHeader = false;
  if (!header || (header.created !== local.relayId && records === 0 && await noCommits(relay))) {
    if (!local.relayId) {
      throw new EscaleError(
        "usage",
        `${relay.name} holds no relay and this client never synchronised with it: nothing to rebuild it from; run "escale fix" on a client that was in sync`,
      );
    }
    writeHeader = true;
  } else if (local.relayId && header.created !== local.relayId) {
    throw new EscaleError(
      "usage",
      `${relay.name} was created again (${header.created}) after this client last synchronised with it; "escale fix" rebuilds only a relay that was lost or emptied`,
    );
  }

  let store: RelayStore;
  let newHeader: Header | null = null;
  if (writeHeader) {
    let encryption: unknown = null;
    store = new RelayStore(relay);
    if (o.enc.mode === "aead") {
      const made = await createCryptoParams(o.enc.secret, o.enc.cost);
      encryption = made.params;
      store = new RelayStore(new EncryptedRelay(relay, made.keys));
    }
    newHeader = {
      format: FORMAT_NAME,
      version: FORMAT_VERSION,
      created: local.relayId!,
      encryption,
    };
  } else {
    store = (await openStore(relay, o.enc)).store;
  }
  const rebuild = local.registered && (writeHeader || records === 0);
  const known = local.records.map((r) => JSON.parse(r) as ClientRecord)
    .filter((r) => r.id !== local.me)
    .map((r) => validateClientRecord(r, `saved record of ${r.id}`, r.id));
  const plan: FixPlan = {
    writeHeader,
    rebuild,
    restoreRecords: rebuild ? known.map((r) => ({ id: r.id, name: r.name })) : [],
    staleLeases: await staleLeases(store),
    orphans: writeHeader ? [] : await orphans(store, local, now),
    temporary: await temporaries(o.relay, now),
    uploads: await unfinishedUploads(o.relay, now),
  };
  if (o.dryRun) return { plan, entries: 0 };

  if (newHeader) {
    if (header) await relay.delete(HEADER_KEY); // an empty relay's fresh header, replaced
    await relay.write(HEADER_KEY, utf8.encode(JSON.stringify(newHeader, null, 2) + "\n"), {
      ifAbsent: true,
    }).catch((e) => {
      if (!isKind(e, "exists")) throw e; // lost a race: told below
    });
    header = await RelayStore.readHeader(relay);
    if (header?.created !== newHeader.created) {
      throw new EscaleError(
        "busy",
        `${relay.name}: another client created a new relay while it was being rebuilt; stop the other clients and run "escale fix" again`,
      );
    }
    emit({ type: "note", message: `wrote the relay header (relay created ${header.created})` });
  }
  let entries = 0;
  await withLease(store, "maintenance", o.owner, async () => {
    for (const key of plan.staleLeases) {
      if (key === `${LEASES_DIR}/maintenance`) continue; // taken over by withLease
      await store.delete(key);
      emit({ type: "note", key, message: `removed the expired lease ${key}` });
    }
    if (rebuild) {
      for (const r of known) {
        if (!(await store.readClient(r.id))) await store.writeClient(r);
      }
      if (known.length) {
        emit({ type: "note", message: `restored the records of ${known.length} other clients` });
      }
      emit({ type: "phase", phase: "full copy" });
      const repo = o.openRepository(store, header!.created);
      entries = (await repo.rebuild()).entries;
      emit({ type: "note", message: `published a full copy: ${entries} files and deletions` });
    }
    const total = plan.orphans.length + plan.temporary.length + plan.uploads.length;
    emit({ type: "phase", phase: "cleaning", total });
    let done = 0;
    for (const x of [...plan.orphans, ...plan.temporary]) {
      await relay.delete(x.key);
      emit({ type: "progress", done: ++done });
    }
    for (const u of plan.uploads) {
      await relay.abortUpload!(u);
      emit({ type: "progress", done: ++done });
    }
  });
  return { plan, entries };
}

async function listRecords(relay: Relay): Promise<number> {
  let n = 0;
  for await (const _ of relay.list(CLIENTS_DIR)) n++;
  return n;
}

async function noCommits(relay: Relay): Promise<boolean> {
  for await (const _ of relay.list(COMMITS_DIR)) return false;
  return true;
}

async function staleLeases(store: RelayStore): Promise<string[]> {
  const out = [];
  for (const e of await store.listAll(LEASES_DIR)) {
    const l = await readLease(store, e.key);
    if (!l || !(Date.parse(l.expires) > Date.now())) out.push(e.key);
  }
  return out;
}

/**
 * Data objects no commit references and whose writer is past them: the commit of their sequence
 * is gone (released, rolled back) and the writer's record says it published beyond it, or the
 * object is old enough that no publication can still be under way. An object a present commit
 * does not list is garbage at once (commits are immutable).
 */
async function orphans(
  store: RelayStore,
  local: LocalView,
  now: () => number,
): Promise<{ key: string; size: number }[]> {
  const refs = await store.listCommits();
  const present = new Set(refs.map((r) => `${r.cid}-${r.seq}`));
  const referenced = new Set<string>();
  for (const ref of refs) {
    try {
      for (const obj of (await store.readCommit(ref)).objects) referenced.add(obj.key);
    } catch {
      // A malformed commit's objects are left alone: `escale check` names it.
      for (const d of await store.listData()) {
        if (d.cid === ref.cid && d.seq === ref.seq) referenced.add(d.key);
      }
    }
  }
  const seqOf = new Map<string, number>();
  for (const { cid } of await store.listClientIds()) {
    const r = await store.readClient(cid).catch(() => null);
    if (r) seqOf.set(cid, r.seq ?? 0);
  }
  const out = [];
  for (const d of await store.listData()) {
    if (referenced.has(d.key)) continue;
    if (d.cid === local.me && d.seq === local.pendingSeq) continue;
    const settled = present.has(`${d.cid}-${d.seq}`) || d.seq <= (seqOf.get(d.cid) ?? 0) ||
      (d.mtime > 0 && now() - d.mtime > ORPHAN_AGE_MS);
    if (settled) out.push({ key: d.key, size: d.size });
  }
  return out;
}

async function temporaries(
  relay: Relay,
  now: () => number,
): Promise<{ key: string; size: number }[]> {
  if (!relay.listTemporary) return [];
  const out = [];
  for (const dir of ["", CLIENTS_DIR, COMMITS_DIR, DATA_DIR, LEASES_DIR]) {
    for await (const e of relay.listTemporary(dir)) {
      if (e.mtime > 0 && now() - e.mtime > TEMP_AGE_MS) out.push({ key: e.key, size: e.size });
    }
  }
  return out;
}

/**
 * Multipart uploads of relay objects that nothing wrote to for TEMP_AGE_MS: their writer was
 * killed (its abort is best effort). A younger one may be a writer still sending parts. Uploads
 * of keys that are no relay object's (a bucket shared with other data) are left alone.
 */
async function unfinishedUploads(
  relay: Relay,
  now: () => number,
): Promise<UnfinishedUpload[]> {
  if (!relay.listUploads || !relay.abortUpload) return [];
  const dirs = new Set([CLIENTS_DIR, COMMITS_DIR, DATA_DIR, LEASES_DIR]);
  const ours = (key: string) =>
    key === HEADER_KEY || key === MOVED_KEY || dirs.has(key.slice(0, key.lastIndexOf("/")));
  return (await relay.listUploads())
    .filter((u) => ours(u.key) && u.mtime > 0 && now() - u.mtime > TEMP_AGE_MS);
}
