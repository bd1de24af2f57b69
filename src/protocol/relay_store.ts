import { EscaleError, isKind, RelayError } from "../errors/errors.ts";
import type { DeleteOptions, Relay, RelayEntry } from "../relay/relay.ts";
import { collect, fromUtf8, toArray, utf8 } from "../util/streams.ts";
import {
  clientKey,
  type ClientRecord,
  CLIENTS_DIR,
  type Commit,
  commitKey,
  COMMITS_DIR,
  DATA_DIR,
  FORMAT_NAME,
  FORMAT_VERSION,
  type Header,
  HEADER_KEY,
  MAX_COMMIT_JSON,
  parseClientKey,
  parseCommitKey,
  parseDataKey,
  validateClientRecord,
  validateCommit,
  validateHeader,
} from "./format.ts";

/** Largest encoded commit or client record we accept from a relay (hostile-input bound). */
const MAX_RECORD = 64 * 1024 * 1024;

/** Fed to the inflater at a time: gzip inflates at most about 1,000-fold, so ~8 MiB comes out. */
const INFLATE_SLICE = 8 * 1024;

/**
 * gunzip with a bound on the output, decoded as it arrives: the text is the only copy held (its
 * bytes, a joined buffer and the text at once were three), plus one slice's output.
 */
async function inflateCommit(raw: Uint8Array, key: string): Promise<string> {
  let off = 0;
  const input = new ReadableStream<BufferSource>({
    pull(c) {
      if (off >= raw.length) return c.close();
      c.enqueue(raw.slice(off, off + INFLATE_SLICE));
      off += INFLATE_SLICE;
    },
  }, { highWaterMark: 0 });
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const decode = (chunk?: Uint8Array) => {
    try {
      return decoder.decode(chunk, { stream: chunk !== undefined });
    } catch {
      throw new EscaleError("integrity", `${key}: malformed (not valid JSON)`);
    }
  };
  const out = input.pipeThrough(new DecompressionStream("gzip"));
  let text = "";
  let total = 0;
  try {
    for await (const chunk of out) {
      total += chunk.length;
      if (total > MAX_COMMIT_JSON) {
        await out.cancel().catch(() => {});
        throw new EscaleError(
          "integrity",
          `${key} once inflated is larger than the ${MAX_COMMIT_JSON}-byte limit`,
        );
      }
      text += decode(chunk);
    }
    return text + decode();
  } catch (e) {
    if (e instanceof EscaleError) throw e;
    throw new EscaleError("integrity", `${key}: malformed (not a gzip stream)`);
  }
}

export interface CommitRef {
  key: string;
  cid: string;
  seq: number;
  size: number;
}

/**
 * Typed access to the objects of the native format on top of a (possibly encrypted) relay:
 * encoding, decoding and validation live here, so the engine deals only with records.
 */
export class RelayStore {
  constructor(readonly relay: Relay) {}

  get name(): string {
    return this.relay.name;
  }

  static async readHeader(relay: Relay): Promise<Header | null> {
    let bytes: Uint8Array;
    try {
      bytes = await collect(await relay.read(HEADER_KEY), 1024 * 1024, HEADER_KEY);
    } catch (e) {
      if (isKind(e, "not-found")) return null;
      throw e;
    }
    return validateHeader(parseJson(bytes, HEADER_KEY), `${relay.name}/${HEADER_KEY}`);
  }

  /** Creates the header unless another client won the race, then returns the one in place. */
  static async ensureHeader(relay: Relay, encryption: unknown | null): Promise<Header> {
    const existing = await RelayStore.readHeader(relay);
    if (existing) return existing;
    const header: Header = {
      format: FORMAT_NAME,
      version: FORMAT_VERSION,
      created: new Date().toISOString(),
      encryption,
    };
    try {
      await relay.write(HEADER_KEY, utf8.encode(JSON.stringify(header, null, 2) + "\n"), {
        ifAbsent: true,
      });
    } catch (e) {
      if (!isKind(e, "exists")) throw e;
    }
    // Re-read: on relays without atomic create-if-absent this is the verification step.
    const h = await RelayStore.readHeader(relay);
    if (!h) {
      throw new RelayError(
        "permanent",
        `${relay.name}: the relay header vanished right after it was written`,
      );
    }
    return h;
  }

  async listClientIds(): Promise<{ cid: string; entry: RelayEntry }[]> {
    const out = [];
    for await (const e of this.relay.list(CLIENTS_DIR)) {
      const cid = parseClientKey(e.key);
      if (cid) out.push({ cid, entry: e });
    }
    return out;
  }

  async readClient(cid: string): Promise<ClientRecord | null> {
    const key = clientKey(cid);
    let bytes: Uint8Array;
    try {
      bytes = await collect(await this.relay.read(key), MAX_RECORD, key);
    } catch (e) {
      if (isKind(e, "not-found")) return null;
      throw e;
    }
    return validateClientRecord(parseJson(bytes, key), key, cid);
  }

  async writeClient(rec: ClientRecord): Promise<void> {
    await this.relay.write(clientKey(rec.id), utf8.encode(JSON.stringify(rec)));
  }

  async listCommits(): Promise<CommitRef[]> {
    const out: CommitRef[] = [];
    for await (const e of this.relay.list(COMMITS_DIR)) {
      const p = parseCommitKey(e.key);
      if (p) out.push({ key: e.key, cid: p.cid, seq: p.seq, size: e.size });
    }
    return out.sort((a, b) => (a.cid < b.cid ? -1 : a.cid > b.cid ? 1 : a.seq - b.seq));
  }

  async readCommit(ref: { cid: string; seq: number }): Promise<Commit> {
    const key = commitKey(ref.cid, ref.seq);
    const raw = await collect(await this.relay.read(key), MAX_RECORD, key);
    const bytes = await inflateCommit(raw, key);
    return validateCommit(parseJson(bytes, key), key, ref.cid, ref.seq);
  }

  /**
   * Publishes a commit: the commit point of a change set. Never overwrites. With `after`, the
   * commit is sent at once but becomes visible only once `after` resolved (WriteOptions).
   */
  async writeCommit(c: Commit, after?: Promise<unknown>): Promise<void> {
    // node:zlib loads with the first commit, not with every process (a round without changes).
    const { gzipSync } = await import("node:zlib");
    const body = gzipSync(utf8.encode(JSON.stringify(c)));
    await this.relay.write(commitKey(c.client, c.seq), new Uint8Array(body), {
      ifAbsent: true,
      after,
    });
  }

  async listData(): Promise<
    { key: string; cid: string; seq: number; n: number; size: number; mtime: number }[]
  > {
    const out = [];
    for await (const e of this.relay.list(DATA_DIR)) {
      const p = parseDataKey(e.key);
      if (p) out.push({ key: e.key, ...p, size: e.size, mtime: e.mtime });
    }
    return out;
  }

  async listAll(dir: string): Promise<RelayEntry[]> {
    return await toArray(this.relay.list(dir));
  }

  delete(key: string, opts?: DeleteOptions): Promise<void> {
    return this.relay.delete(key, opts);
  }
}

function parseJson(bytes: Uint8Array | string, key: string): unknown {
  try {
    return JSON.parse(typeof bytes === "string" ? bytes : fromUtf8.decode(bytes));
  } catch {
    throw new EscaleError("integrity", `${key}: malformed (not valid JSON)`);
  }
}
