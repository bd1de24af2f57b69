import { EscaleError } from "../errors/errors.ts";
import { checkSyncPath } from "./sync_path.ts";

/**
 * The native relay format, version 1 (normative text: docs/relay-format.md). Object keys:
 *
 *   escale.json                      header, created once (create-if-absent), never encrypted
 *   clients/<cid>                    client record, written only by that client
 *   commits/<cid>-<seq>              commit, immutable, written by its author after its data
 *   data/<cid>-<seq>-<n>             data objects of commit <seq>, written before the commit
 *   leases/<name>                    maintenance leases (owner + expiry)
 *
 * <cid> is a random 16-hex-digit client id (never the client name), <seq> a 10-digit decimal,
 * <n> a 4-digit decimal, so keys reveal nothing about files and sort in publication order.
 */
export const FORMAT_NAME = "escale-relay";
export const FORMAT_VERSION = 1;
export const HEADER_KEY = "escale.json";
export const CLIENTS_DIR = "clients";
export const COMMITS_DIR = "commits";
export const DATA_DIR = "data";
export const LEASES_DIR = "leases";

const CID = /^[0-9a-f]{16}$/;
const COMMIT_NAME = /^([0-9a-f]{16})-([0-9]{10})$/;
const DATA_NAME = /^([0-9a-f]{16})-([0-9]{10})-([0-9]{4})$/;

export function newClientId(): string {
  const b = crypto.getRandomValues(new Uint8Array(8));
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

export const clientKey = (cid: string) => `${CLIENTS_DIR}/${cid}`;
export const commitKey = (cid: string, seq: number) =>
  `${COMMITS_DIR}/${cid}-${String(seq).padStart(10, "0")}`;
export const dataKey = (cid: string, seq: number, n: number) =>
  `${DATA_DIR}/${cid}-${String(seq).padStart(10, "0")}-${String(n).padStart(4, "0")}`;

export function parseClientKey(key: string): string | null {
  const name = key.slice(CLIENTS_DIR.length + 1);
  return key.startsWith(CLIENTS_DIR + "/") && CID.test(name) ? name : null;
}

export function parseCommitKey(key: string): { cid: string; seq: number } | null {
  const m = key.startsWith(COMMITS_DIR + "/")
    ? COMMIT_NAME.exec(key.slice(COMMITS_DIR.length + 1))
    : null;
  return m ? { cid: m[1], seq: Number(m[2]) } : null;
}

export function parseDataKey(key: string): { cid: string; seq: number; n: number } | null {
  const m = key.startsWith(DATA_DIR + "/") ? DATA_NAME.exec(key.slice(DATA_DIR.length + 1)) : null;
  return m ? { cid: m[1], seq: Number(m[2]), n: Number(m[3]) } : null;
}

export interface Header {
  format: typeof FORMAT_NAME;
  version: number;
  created: string;
  /** null for a plain relay; otherwise the parameters of src/crypto (KDF, salt, key check) */
  encryption: unknown | null;
}

export interface ClientRecord {
  v: 1;
  id: string;
  name: string;
  /** whether this client applies other clients' commits (expected to acknowledge them) */
  pulls: boolean;
  pushes: boolean;
  joined: string;
  /** last time the record was rewritten (heartbeat for `puller timeout`) */
  seen: string;
  /** per pusher cid: highest commit seq this client has applied */
  acks: Record<string, number>;
  /** per pusher cid: lowest commit seq this client found when it first read that pusher's
   * commits; above 1 it missed released commits and the pusher sends it a full copy */
  first?: Record<string, number>;
  /** last commit sequence this client published (lets pullers see released commits they missed) */
  seq?: number;
  /**
   * per pusher cid: paths whose current version this client asks that pusher to send again (a
   * rename whose content it could not find, a file it could not write before); `id` grows with
   * every new request, and the pusher answers each request once (Commit.answers)
   */
  wants?: Record<string, { id: number; paths: string[] }>;
}

/** Most entries a writer puts in one commit (§5). */
export const MAX_COMMIT_ENTRIES = 20_000;

/**
 * Largest commit once inflated (§4): 20,000 entries of up to 9 KiB, which a move whose two paths
 * have 4,096 bytes each stays below. A few hundred KiB of gzip can inflate to gigabytes, so
 * readers stop inflating as soon as the output passes this bound, and writers cut their change
 * sets well below it.
 */
export const MAX_COMMIT_JSON = MAX_COMMIT_ENTRIES * 9 * 1024;

/** Most paths a client asks one pusher for at once; beyond, it asks for a full copy (§7). */
export const MAX_WANTS = 1000;

/** Version vector: per client id, the counter of that client's last edit included. */
export type VersionVector = Record<string, number>;

/** One byte range of a data object: [object index in commit.objects, offset, length]. */
export type Extent = [number, number, number];

export type Entry =
  | {
    op: "put";
    path: string;
    vv: VersionVector;
    origin: string;
    size: number;
    mtime: number;
    hash: string;
    data: Extent[];
  }
  | { op: "del"; path: string; vv: VersionVector; origin: string }
  | {
    op: "move";
    path: string;
    from: string;
    vv: VersionVector;
    origin: string;
    size: number;
    mtime: number;
    hash: string;
  };

export interface Commit {
  v: 1;
  client: string;
  seq: number;
  time: string;
  /** when set, only these clients need to apply (and acknowledge) the commit: late-joiner snapshot */
  for?: string[];
  /** with `for`: this commit answers the requests of that client up to this number (wants) */
  answers?: number;
  objects: { key: string; size: number }[];
  entries: Entry[];
}

function fail(where: string, why: string): never {
  throw new EscaleError("integrity", `${where}: malformed (${why})`);
}

function isVV(x: unknown): x is VersionVector {
  return typeof x === "object" && x !== null && !Array.isArray(x) &&
    Object.entries(x).every(([k, v]) =>
      CID.test(k) && Number.isSafeInteger(v) && (v as number) > 0
    );
}

const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
const HASH = /^[0-9a-f]{64}$/;

export function validateHeader(x: unknown, where: string): Header {
  const h = x as Header;
  if (typeof h !== "object" || h === null || h.format !== FORMAT_NAME) {
    throw new EscaleError(
      "permanent",
      `${where}: not an escale relay header (is this folder used by something else?)`,
    );
  }
  if (h.version !== FORMAT_VERSION) {
    throw new EscaleError(
      "permanent",
      `${where}: relay format version ${h.version} is not supported by this escale (it reads version ${FORMAT_VERSION})`,
    );
  }
  return h;
}

export function validateClientRecord(x: unknown, where: string, cid: string): ClientRecord {
  const r = x as ClientRecord;
  if (typeof r !== "object" || r === null || r.v !== 1) {
    fail(where, "not a version 1 client record");
  }
  if (r.id !== cid) fail(where, "client id does not match the object name");
  if (typeof r.name !== "string" || r.name.length > 256) fail(where, "bad name");
  if (typeof r.pulls !== "boolean" || typeof r.pushes !== "boolean") fail(where, "bad role");
  if (typeof r.acks !== "object" || r.acks === null) fail(where, "bad acks");
  for (const [k, v] of Object.entries(r.acks)) {
    if (!CID.test(k) || !isCount(v)) fail(where, "bad ack");
  }
  if (r.seq !== undefined && !isCount(r.seq)) fail(where, "bad seq");
  if (r.first !== undefined) {
    if (typeof r.first !== "object" || r.first === null) fail(where, "bad first");
    for (const [k, v] of Object.entries(r.first)) {
      if (!CID.test(k) || !isCount(v)) fail(where, "bad first");
    }
  }
  if (r.wants !== undefined) {
    if (typeof r.wants !== "object" || r.wants === null) fail(where, "bad wants");
    for (const [k, w] of Object.entries(r.wants)) {
      if (
        !CID.test(k) || typeof w !== "object" || w === null || !isCount(w.id) ||
        !Array.isArray(w.paths) || w.paths.length > MAX_WANTS
      ) fail(where, "bad wants");
      for (const p of w.paths) checkSyncPath(p, where);
    }
  }
  return r;
}

export function validateCommit(x: unknown, where: string, cid: string, seq: number): Commit {
  const c = x as Commit;
  if (typeof c !== "object" || c === null || c.v !== 1) fail(where, "not a version 1 commit");
  if (c.client !== cid || c.seq !== seq) {
    fail(where, "author or sequence does not match the object name");
  }
  if (!Array.isArray(c.objects) || !Array.isArray(c.entries)) {
    fail(where, "missing objects or entries");
  }
  c.objects.forEach((o, i) => {
    const d = parseDataKey(o?.key);
    if (!d || d.cid !== cid || d.seq !== seq || d.n !== i || !isCount(o.size)) {
      fail(where, `bad data object ${i}`);
    }
  });
  if (c.for !== undefined && (!Array.isArray(c.for) || !c.for.every((f) => CID.test(f)))) {
    fail(where, "bad target list");
  }
  if (c.answers !== undefined && (c.for === undefined || !isCount(c.answers))) {
    fail(where, "bad answer number");
  }
  for (const e of c.entries) {
    if (typeof e !== "object" || e === null) fail(where, "bad entry");
    checkSyncPath(e.path, where);
    if (!isVV(e.vv) || !CID.test(e.origin)) fail(where, `bad version of ${JSON.stringify(e.path)}`);
    if (e.op === "del") continue;
    if (e.op !== "put" && e.op !== "move") {
      fail(where, `unknown operation ${JSON.stringify((e as Entry).op)}`);
    }
    if (!isCount(e.size) || !Number.isFinite(e.mtime) || !HASH.test(e.hash)) {
      fail(where, `bad metadata of ${JSON.stringify(e.path)}`);
    }
    if (e.op === "move") {
      checkSyncPath(e.from, where);
      continue;
    }
    if (!Array.isArray(e.data)) fail(where, "bad extents");
    let total = 0;
    for (const x of e.data) {
      if (!Array.isArray(x) || x.length !== 3 || !x.every(isCount)) fail(where, "bad extent");
      const [i, off, len] = x;
      if (i >= c.objects.length || off + len > c.objects[i].size) {
        fail(where, "extent outside its data object");
      }
      total += len;
    }
    if (total !== e.size) {
      fail(where, `extents of ${JSON.stringify(e.path)} do not add up to its size`);
    }
  }
  return c;
}
