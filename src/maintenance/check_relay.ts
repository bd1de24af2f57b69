import { createHash, type Hash } from "node:crypto";
import { EscaleError, isKind } from "../errors/errors.ts";
import { type Commit, HEADER_KEY, LEASES_DIR } from "../protocol/format.ts";
import { readLease } from "../protocol/lease.ts";
import { type CommitRef, RelayStore } from "../protocol/relay_store.ts";
import type { Relay } from "../relay/relay.ts";
import { type Emit, silent } from "./events.ts";

export type Damage = "missing" | "malformed" | "truncated" | "wrong-size" | "wrong-hash";

export interface CheckReport {
  ok: boolean;
  relay: string;
  header: boolean;
  clients: number;
  commits: number;
  dataObjects: number;
  dataBytes: number;
  /** files whose content was read and hashed (`readData`) */
  filesVerified: number;
  damaged: { key: string; problem: Damage; message: string }[];
  /** data objects no commit references (garbage; `escale fix` removes them) */
  orphans: { key: string; size: number }[];
  leases: { key: string; owner: string; expires: string; stale: boolean }[];
}

export interface CheckOptions {
  /** read every file's extents and compare its SHA-256 with the commit's */
  readData?: boolean;
  emit?: Emit;
}

/**
 * Verifies a relay like `restic check`: the header, every client record and commit parse and
 * validate, every data object a commit references exists with the size the commit gives and,
 * with `readData`, every file's content hashes to the commit's hash. `store` reads through the
 * decryption when the relay is encrypted (or null when there is no header to open it with).
 *
 * Clients keep syncing meanwhile: a commit (or its data) that disappears while it is checked was
 * released by its author, which is normal, so it is re-checked before being called missing.
 */
export async function checkRelay(
  raw: Relay,
  store: RelayStore | null,
  opts: CheckOptions = {},
): Promise<CheckReport> {
  const emit = opts.emit ?? silent;
  const report: CheckReport = {
    ok: true,
    relay: raw.name,
    header: false,
    clients: 0,
    commits: 0,
    dataObjects: 0,
    dataBytes: 0,
    filesVerified: 0,
    damaged: [],
    orphans: [],
    leases: [],
  };
  const damage = (key: string, problem: Damage, message: string) => {
    report.damaged.push({ key, problem, message });
    emit({ type: "note", key, message: `damaged: ${message}` });
  };
  try {
    report.header = (await RelayStore.readHeader(raw)) !== null;
    if (!report.header) damage(HEADER_KEY, "missing", `${HEADER_KEY} is missing (no relay here)`);
  } catch (e) {
    if (!(e instanceof EscaleError) || isKind(e, "unreachable") || isKind(e, "transient")) throw e;
    damage(HEADER_KEY, "malformed", e.message);
  }
  if (!store) {
    report.ok = false;
    return report;
  }

  emit({ type: "phase", phase: "client records" });
  for (const { cid, entry } of await store.listClientIds()) {
    try {
      if (await store.readClient(cid)) report.clients++;
    } catch (e) {
      if (!isDamage(e)) throw e;
      damage(entry.key, "malformed", (e as Error).message);
    }
  }

  const refs = await store.listCommits();
  const data = await store.listData();
  const dataByKey = new Map(data.map((d) => [d.key, d]));
  report.dataObjects = data.length;
  report.dataBytes = data.reduce((n, d) => n + d.size, 0);
  const referenced = new Set<string>();
  emit({ type: "phase", phase: "commits", total: refs.length, unit: "objects" });
  let done = 0;
  for (const ref of refs) {
    const commit = await readCommitOrNull(store, ref, damage);
    emit({ type: "progress", done: ++done, total: refs.length });
    if (!commit) continue;
    report.commits++;
    for (const o of commit.objects) referenced.add(o.key);
    const bad = await checkObjects(store, ref, commit, dataByKey, damage);
    if (opts.readData && !bad) {
      report.filesVerified += await verifyContent(store, ref, commit, damage);
    }
  }
  for (const d of data) {
    if (!referenced.has(d.key)) report.orphans.push({ key: d.key, size: d.size });
  }
  for (const e of await store.listAll(LEASES_DIR)) {
    const lease = await readLease(store, e.key);
    report.leases.push({
      key: e.key,
      owner: lease?.owner ?? "unreadable",
      expires: lease?.expires ?? new Date(0).toISOString(),
      stale: !lease || !(Date.parse(lease.expires) > Date.now()),
    });
  }
  report.ok = report.damaged.length === 0;
  return report;
}

function isDamage(e: unknown): boolean {
  return isKind(e, "integrity") || isKind(e, "hostile") || isKind(e, "permanent") ||
    isKind(e, "key");
}

async function readCommitOrNull(
  store: RelayStore,
  ref: CommitRef,
  damage: (key: string, problem: Damage, message: string) => void,
): Promise<Commit | null> {
  try {
    return await store.readCommit(ref);
  } catch (e) {
    if (isKind(e, "not-found")) return null; // released by its author meanwhile
    if (!isDamage(e)) throw e;
    damage(ref.key, "malformed", (e as Error).message);
    return null;
  }
}

/** Whether a damaged data object was found for this commit (its content is then not read). */
async function checkObjects(
  store: RelayStore,
  ref: CommitRef,
  commit: Commit,
  listed: Map<string, { size: number }>,
  damage: (key: string, problem: Damage, message: string) => void,
): Promise<boolean> {
  let bad = false;
  for (const o of commit.objects) {
    // Listed before the commits were read: an object written since is looked at again.
    const entry = listed.get(o.key) ?? await store.relay.stat(o.key);
    if (entry && entry.size === o.size) continue;
    if (!(await store.relay.stat(ref.key))) return true; // the commit was released meanwhile
    bad = true;
    if (!entry) damage(o.key, "missing", `${o.key} is missing (referenced by ${ref.key})`);
    else {
      damage(
        o.key,
        entry.size < o.size ? "truncated" : "wrong-size",
        `${o.key} has ${entry.size} bytes, ${ref.key} says ${o.size}`,
      );
    }
  }
  return bad;
}

/**
 * Hashes every file of a commit from its extents, reading each data object once from start to
 * end (small files share objects), so memory stays at one chunk whatever the commit holds.
 */
async function verifyContent(
  store: RelayStore,
  ref: CommitRef,
  commit: Commit,
  damage: (key: string, problem: Damage, message: string) => void,
): Promise<number> {
  const hashes: Hash[] = commit.entries.map(() => createHash("sha256"));
  const parts: { entry: number; off: number; len: number }[][] = commit.objects.map(() => []);
  commit.entries.forEach((e, i) => {
    if (e.op === "put") {
      for (const [obj, off, len] of e.data) parts[obj].push({ entry: i, off, len });
    }
  });
  for (let obj = 0; obj < commit.objects.length; obj++) {
    const key = commit.objects[obj].key;
    const list = parts[obj].sort((a, b) => a.off - b.off);
    if (list.length === 0) continue;
    let pos = 0;
    try {
      for await (const chunk of await store.relay.read(key)) {
        const next = pos + chunk.length;
        for (const p of list) {
          const a = Math.max(p.off, pos);
          const b = Math.min(p.off + p.len, next);
          if (a < b) hashes[p.entry].update(chunk.subarray(a - pos, b - pos));
        }
        pos = next;
      }
    } catch (e) {
      if (isKind(e, "not-found") && !(await store.relay.stat(ref.key))) return 0; // released
      if (!isDamage(e)) throw e;
      damage(key, "malformed", (e as Error).message);
      return 0;
    }
  }
  let verified = 0;
  commit.entries.forEach((e, i) => {
    if (e.op !== "put") return;
    const got = hashes[i].digest("hex");
    if (got === e.hash) verified++;
    else {
      const objs = [...new Set(e.data.map(([n]) => commit.objects[n].key))].join(", ");
      damage(
        objs,
        "wrong-hash",
        `${JSON.stringify(e.path)} in ${ref.key}: its content in ${objs} does not match its hash`,
      );
    }
  });
  return verified;
}
