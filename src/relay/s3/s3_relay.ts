import { RelayError } from "../../errors/errors.ts";
import { type HttpResponse, rangedGet } from "../http_client.ts";
import { checkKey, joinKey } from "../keys.ts";
import { SharedListings } from "../shared_listings.ts";
import {
  type Body,
  type ReadOptions,
  type Relay,
  type RelayCapabilities,
  type RelayEntry,
  TEMP_PREFIX,
  type UnfinishedUpload,
  type WriteOptions,
} from "../relay.ts";
import type { RetryOptions } from "../retry_relay.ts";
import { MAX_PARTS, uploadMultipart } from "./multipart_upload.ts";
import { PartReader } from "./part_reader.ts";
import { PartStreams } from "./part_streams.ts";
import { S3Client, type SizedStream } from "./s3_client.ts";
import type { S3Xml } from "./s3_xml.ts";

export interface S3Options {
  /** e.g. https://s3.eu-west-1.amazonaws.com or http://127.0.0.1:9000 */
  endpoint: string;
  region: string;
  bucket: string;
  /** folder inside the bucket that holds the relay ("" for the bucket root) */
  prefix: string;
  /** true: endpoint/bucket/key (MinIO, most self-hosted); false: bucket.endpoint/key (AWS) */
  pathStyle: boolean;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  caFile?: string;
  /** default true */
  verifySsl?: boolean;
  /** inactivity limit per request (the section's `timeout`) */
  timeoutMs: number;
  /** bytes per upload part and largest single PUT, default 8 MiB, at least 5 MiB (S3's minimum) */
  partSize?: number;
  /** requests worth running at once, default 8 */
  parallel?: number;
  /**
   * retries of one part of a multipart upload in memory, or of its completion: the section's
   * `max retries`. A part is replayed from memory here (replaying the whole write from the retry
   * layer above would send every part again); a part that outlives its retries fails the write
   * for good (multipart_upload.ts), so no request is tried more than `max retries` + 1 times.
   * Streamed parts are not retried here: the retry layer sends the object again.
   */
  partRetries: number;
}

const MIB = 1024 * 1024;
const MIN_PART = 5 * MIB;
/** parts of one object uploading at once */
const INFLIGHT = 2;
/** backoff of the retries of one part */
const PART_BACKOFF: Omit<RetryOptions, "retries"> = { baseDelayMs: 200, maxDelayMs: 5_000 };

/**
 * A relay in an S3 bucket (AWS or compatible), spoken natively through fetch with SigV4.
 *
 * Deno's fetch sends stream bodies chunked, which S3 refuses, so uploads are cut into in-memory
 * parts: an object that fits in one part is a single PUT, a larger one a multipart upload whose
 * parts are retried one by one and which is aborted on failure. A part retried here is not sent
 * again by the retry layer above once its own retries are spent (multipart_upload.ts), so a
 * section's `max retries` bounds the attempts of every request, not of every request per attempt
 * of the object. Either way an object becomes visible only once complete. Create-if-absent is
 * `If-None-Match: *` (on the completion for multipart), which AWS honours atomically (moto only
 * one request at a time: `escale ctl test-relay` shows it); servers that ignore it (s3rver, older
 * MinIO) would make it a plain overwrite.
 *
 * Memory bound per write: partSize × (INFLIGHT + 1), 24 MiB with the defaults (a larger part
 * size is chosen when a known size would need more than 10,000 parts).
 */
export class S3Relay implements Relay {
  readonly name: string;
  readonly capabilities: RelayCapabilities;
  /** every request is a URL of its own: see UnopenedRelay */
  readonly requestsBeforeOpen = true;
  readonly #s3: S3Client;
  readonly #root: string;
  readonly #partSize: number;
  readonly #partRetries: number;
  /** listings' first pages shared between callers, and the one open() took */
  readonly #listings = new SharedListings<S3Xml>();

  constructor(opts: S3Options) {
    this.#root = opts.prefix.replace(/^\/+|\/+$/g, "");
    if (this.#root && !isKey(this.#root)) {
      throw new RelayError("config", `invalid S3 prefix ${JSON.stringify(opts.prefix)}`);
    }
    const partSize = opts.partSize ?? 8 * MIB;
    if (!Number.isInteger(partSize) || partSize < MIN_PART || partSize > 5 * 1024 * MIB) {
      throw new RelayError("config", `S3 part size must be between 5 MiB and 5 GiB`);
    }
    this.#partSize = partSize;
    this.#partRetries = opts.partRetries;
    const endpoint = opts.endpoint.replace(/\/+$/, "");
    this.name = `s3://${opts.bucket}/${this.#root ? this.#root + "/" : ""} (${endpoint})`;
    this.#s3 = new S3Client({
      endpoint: opts.endpoint,
      region: opts.region,
      bucket: opts.bucket,
      pathStyle: opts.pathStyle,
      accessKeyId: opts.accessKeyId,
      secretAccessKey: opts.secretAccessKey,
      sessionToken: opts.sessionToken,
      caFile: opts.caFile,
      verifySsl: opts.verifySsl,
      timeoutMs: opts.timeoutMs,
      parallel: opts.parallel,
      label: this.name,
    });
    this.capabilities = {
      createIfAbsent: true,
      rangeRead: true,
      maxKeyLength: 1024 - (this.#root ? this.#root.length + 1 : 0),
      parallel: Math.max(1, opts.parallel ?? 8),
      tempObjects: false,
    };
  }

  /**
   * Checks the endpoint, the credentials and the bucket (HeadBucket), and lists the relay's
   * prefix at the same time, for the layout detection that follows (kept only when it worked:
   * the check's answer is the one that counts).
   */
  async open(): Promise<this> {
    const what = "opening the bucket";
    const listing = this.#s3.send("GET", this.#s3.bucketUrl(this.#query("")), { what })
      .then(async (res) => {
        if (res.status === 200) return await this.#page(res, what);
        await this.#s3.discard(res);
        return null;
      })
      .catch(() => null);
    const res = await this.#s3.send("HEAD", this.#s3.bucketUrl(), { what }).finally(() => listing);
    await this.#s3.discard(res);
    if (res.status === 200) {
      const doc = await listing;
      if (doc) this.#listings.keep("", doc);
      return this;
    }
    await listing;
    if (res.status === 404) {
      throw new RelayError(
        "not-found",
        `${this.name}: bucket ${this.#s3.bucket} not found (check the bucket name and endpoint)`,
      );
    }
    if (res.status === 401 || res.status === 403) {
      throw this.#s3.http.error(
        "auth",
        what,
        `access denied (HTTP ${res.status}): check the access key, secret key and bucket policy`,
      );
    }
    throw await this.#s3.fail(res, what);
  }

  async *list(dir: string): AsyncIterable<RelayEntry> {
    for await (const { doc, prefix } of this.#pages(dir)) {
      const entries: RelayEntry[] = [];
      for (const c of doc.all("Contents")) {
        const fullKey = urlDecode(doc.text("Key", c));
        if (!fullKey.startsWith(prefix)) continue;
        const name = fullKey.slice(prefix.length);
        if (!name || name.includes("/") || name.startsWith(TEMP_PREFIX)) continue;
        const key = joinKey(dir, name);
        if (!isKey(key)) continue;
        const mtime = Date.parse(doc.text("LastModified", c));
        entries.push({
          key,
          size: Number(doc.text("Size", c)) || 0,
          mtime: Number.isFinite(mtime) ? mtime : 0,
        });
      }
      yield* entries;
    }
  }

  /** S3 has no folders: a sub-folder is a common prefix of the keys, so an empty one is absent. */
  async listFolders(dir: string): Promise<string[]> {
    const names: string[] = [];
    for await (const { doc, prefix } of this.#pages(dir)) {
      for (const p of doc.all("CommonPrefixes")) {
        const full = urlDecode(doc.text("Prefix", p));
        if (!full.startsWith(prefix) || !full.endsWith("/")) continue;
        const name = full.slice(prefix.length, -1);
        if (!name || name.includes("/") || name.startsWith(TEMP_PREFIX)) continue;
        if (isKey(joinKey(dir, name))) names.push(name);
      }
    }
    return names.sort();
  }

  /**
   * The pages of a ListObjectsV2 of `dir` with delimiter "/", and the key prefix they answer. The
   * first page is shared by the listings of files and of folders asked together (SharedListings).
   */
  async *#pages(dir: string): AsyncIterable<{ doc: S3Xml; prefix: string }> {
    checkKey(dir, true);
    const what = `listing ${dir || "/"}`;
    const full = this.#full(dir);
    const prefix = full ? `${full}/` : "";
    let doc = await this.#listings.get(dir, async () => {
      const res = await this.#s3.send("GET", this.#s3.bucketUrl(this.#query(dir)), {
        what,
        key: dir,
      });
      if (res.status !== 200) throw await this.#s3.fail(res, what, dir);
      return await this.#page(res, what);
    });
    for (;;) {
      yield { doc, prefix };
      const token = doc.text("NextContinuationToken");
      if (doc.text("IsTruncated") !== "true" || !token) return;
      const res = await this.#s3.send("GET", this.#s3.bucketUrl(this.#query(dir, token)), {
        what,
        key: dir,
      });
      if (res.status !== 200) throw await this.#s3.fail(res, what, dir);
      doc = await this.#page(res, what);
    }
  }

  /** The query of a ListObjectsV2 of `dir`'s direct content, from `token` on. */
  #query(dir: string, token = ""): Record<string, string> {
    const full = this.#full(dir);
    const query: Record<string, string> = {
      "list-type": "2",
      delimiter: "/",
      "encoding-type": "url",
      prefix: full ? `${full}/` : "",
    };
    if (token) query["continuation-token"] = token;
    return query;
  }

  async #page(res: HttpResponse, what: string): Promise<S3Xml> {
    const doc = await this.#s3.xml(res, what);
    if (doc.name !== "ListBucketResult") {
      throw this.#s3.http.error("permanent", what, `unexpected answer <${doc.name}>`);
    }
    return doc;
  }

  async stat(key: string): Promise<RelayEntry | null> {
    checkKey(key);
    const what = `checking ${key}`;
    const res = await this.#s3.send("HEAD", this.#s3.objectUrl(this.#full(key)), { what, key });
    await this.#s3.discard(res);
    if (res.status === 404) return null;
    if (res.status !== 200) throw await this.#s3.fail(res, what, key);
    const mtime = Date.parse(res.headers.get("last-modified") ?? "");
    return {
      key,
      size: Number(res.headers.get("content-length") ?? 0),
      mtime: Number.isFinite(mtime) ? mtime : 0,
    };
  }

  read(key: string, opts: ReadOptions = {}): Promise<ReadableStream<Uint8Array>> {
    checkKey(key);
    const what = `reading ${key}`;
    return rangedGet(opts.offset ?? 0, opts.length, {
      exists: async () => (await this.stat(key)) !== null,
      get: (headers) =>
        this.#s3.send("GET", this.#s3.objectUrl(this.#full(key)), {
          headers,
          what,
          key,
          signal: opts.signal,
        }),
      discard: (res) => this.#s3.discard(res),
      fail: (res) => this.#s3.fail(res, what, key),
      notFound: () => this.#notFound(key),
    });
  }

  async write(key: string, body: Body, opts: WriteOptions = {}): Promise<void> {
    try {
      await this.#write(key, body, opts);
    } finally {
      this.#listings.changed();
    }
  }

  async #write(key: string, body: Body, opts: WriteOptions): Promise<void> {
    checkKey(key);
    // An upload is visible as soon as it ends: nothing to send ahead.
    await opts.after;
    let partSize = this.#partSize;
    const known = body instanceof Uint8Array ? body.length : opts.size;
    if (known !== undefined && known > partSize * MAX_PARTS) {
      partSize = Math.ceil(known / MAX_PARTS / MIB) * MIB;
    }
    if (body instanceof Uint8Array && body.length <= partSize) {
      return await this.#putSingle(key, body, opts);
    }
    if (!(body instanceof Uint8Array) && opts.size !== undefined) {
      return await this.#writeStream(key, body(), opts.size, partSize, opts);
    }
    const parts = new PartReader(
      body instanceof Uint8Array ? slices(body, partSize) : body(),
      partSize,
    );
    let first: { data: Uint8Array; last: boolean };
    try {
      first = await parts.next();
    } catch (e) {
      await parts.cancel(e);
      throw e;
    }
    if (first.last) return await this.#putSingle(key, first.data, opts);
    // No point sending gigabytes that the completion would refuse.
    if (opts.ifAbsent && (await this.stat(key))) {
      await parts.cancel();
      throw this.#exists(key);
    }
    await uploadMultipart({
      s3: this.#s3,
      fullKey: this.#full(key),
      key,
      first,
      parts,
      inflight: INFLIGHT,
      ifAbsent: opts.ifAbsent ?? false,
      retry: { ...PART_BACKOFF, retries: this.#partRetries },
      signal: opts.signal,
    });
  }

  async delete(key: string): Promise<void> {
    try {
      await this.#delete(key);
    } finally {
      this.#listings.changed();
    }
  }

  async #delete(key: string): Promise<void> {
    checkKey(key);
    const what = `deleting ${key}`;
    const res = await this.#s3.send("DELETE", this.#s3.objectUrl(this.#full(key)), { what, key });
    if (res.status === 404 || (res.status >= 200 && res.status < 300)) {
      await this.#s3.discard(res);
      return;
    }
    throw await this.#s3.fail(res, what, key);
  }

  /**
   * The multipart uploads under the prefix that were never completed nor aborted (ListMultipartUploads):
   * aborting is best effort, so a writer killed mid-upload leaves one, invisible to listings but
   * stored and billed. Each is dated by its latest part (ListParts), since its start says nothing
   * of a long upload still under way.
   */
  async listUploads(): Promise<UnfinishedUpload[]> {
    const what = "listing unfinished uploads";
    const prefix = this.#root ? `${this.#root}/` : "";
    const out: UnfinishedUpload[] = [];
    let from: Record<string, string> = {};
    for (;;) {
      const query = { uploads: "", prefix, "encoding-type": "url", ...from };
      const res = await this.#s3.send("GET", this.#s3.bucketUrl(query), { what });
      if (res.status !== 200) throw await this.#s3.fail(res, what);
      const doc = await this.#s3.xml(res, what);
      if (doc.name !== "ListMultipartUploadsResult") {
        throw this.#s3.http.error("permanent", what, `unexpected answer <${doc.name}>`);
      }
      for (const u of doc.all("Upload")) {
        const full = urlDecode(doc.text("Key", u));
        const id = doc.text("UploadId", u);
        const key = full.slice(prefix.length);
        if (!full.startsWith(prefix) || !id || !isKey(key)) continue;
        const started = Date.parse(doc.text("Initiated", u));
        const parts = await this.#parts(full, key, id);
        if (!parts) continue; // completed or aborted meanwhile
        const mtime = Math.max(Number.isFinite(started) ? started : 0, parts.latest);
        out.push({ key, id, size: parts.size, mtime });
      }
      const key = urlDecode(doc.text("NextKeyMarker"));
      if (doc.text("IsTruncated") !== "true" || !key) return out;
      from = { "key-marker": key, "upload-id-marker": doc.text("NextUploadIdMarker") };
    }
  }

  /** The bytes an upload's parts hold and when the latest was written; null once it is gone. */
  async #parts(
    full: string,
    key: string,
    id: string,
  ): Promise<{ size: number; latest: number } | null> {
    const what = `listing the parts of an upload of ${key}`;
    let size = 0;
    let latest = 0;
    let from = "";
    for (;;) {
      const query: Record<string, string> = { uploadId: id };
      if (from) query["part-number-marker"] = from;
      const res = await this.#s3.send("GET", this.#s3.objectUrl(full, query), { what, key });
      if (res.status === 404) {
        await this.#s3.discard(res);
        return null;
      }
      if (res.status !== 200) throw await this.#s3.fail(res, what, key);
      const doc = await this.#s3.xml(res, what);
      for (const p of doc.all("Part")) {
        size += Number(doc.text("Size", p)) || 0;
        const t = Date.parse(doc.text("LastModified", p));
        if (Number.isFinite(t)) latest = Math.max(latest, t);
      }
      from = doc.text("NextPartNumberMarker");
      if (doc.text("IsTruncated") !== "true" || !from) return { size, latest };
    }
  }

  async abortUpload(upload: UnfinishedUpload): Promise<void> {
    checkKey(upload.key);
    const what = `abandoning an upload of ${upload.key}`;
    const url = this.#s3.objectUrl(this.#full(upload.key), { uploadId: upload.id });
    const res = await this.#s3.send("DELETE", url, { what, key: upload.key });
    if (res.status === 404 || (res.status >= 200 && res.status < 300)) {
      await this.#s3.discard(res);
      return;
    }
    throw await this.#s3.fail(res, what, upload.key);
  }

  received(): number {
    return this.#s3.http.received;
  }

  close(): Promise<void> {
    this.#s3.close();
    return Promise.resolve();
  }

  /**
   * A body of known size streams from its source: one PUT when it fits in a part, else a
   * multipart upload of streamed parts. Nothing but the chunk in hand is held.
   */
  async #writeStream(
    key: string,
    source: ReadableStream<Uint8Array>,
    size: number,
    partSize: number,
    opts: WriteOptions,
  ): Promise<void> {
    const parts = new PartStreams(source, size, partSize, `${this.name}: writing ${key}`);
    const first = parts.next();
    if (first.last) {
      try {
        return await this.#putSingle(key, { stream: first.stream, size }, opts);
      } catch (e) {
        await parts.cancel(e);
        throw e;
      }
    }
    if (opts.ifAbsent && (await this.stat(key))) {
      await parts.cancel();
      throw this.#exists(key);
    }
    await uploadMultipart({
      s3: this.#s3,
      fullKey: this.#full(key),
      key,
      first,
      parts,
      inflight: INFLIGHT,
      ifAbsent: opts.ifAbsent ?? false,
      retry: { ...PART_BACKOFF, retries: this.#partRetries },
      signal: opts.signal,
    });
  }

  async #putSingle(key: string, data: Uint8Array | SizedStream, opts: WriteOptions): Promise<void> {
    const what = `writing ${key}`;
    const headers: Record<string, string> = { "content-type": "application/octet-stream" };
    if (opts.ifAbsent) headers["if-none-match"] = "*";
    const res = await this.#s3.send("PUT", this.#s3.objectUrl(this.#full(key)), {
      headers,
      body: data,
      what,
      key,
      signal: opts.signal,
    });
    if (res.status === 412) {
      await this.#s3.discard(res);
      throw this.#exists(key);
    }
    if (res.status !== 200) throw await this.#s3.fail(res, what, key);
    await this.#s3.discard(res);
  }

  #full(key: string): string {
    if (!this.#root) return key;
    return key ? `${this.#root}/${key}` : this.#root;
  }

  #notFound(key: string): RelayError {
    return new RelayError("not-found", `${this.name}: ${key}: not found on relay`, key);
  }

  #exists(key: string): RelayError {
    return new RelayError("exists", `${this.name}: ${key}: already exists on relay`, key);
  }
}

/** A buffer handed out as part-sized views, so that no part of it is copied. */
function slices(data: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (off >= data.length) return c.close();
      c.enqueue(data.subarray(off, off + size));
      off += size;
    },
  });
}

/** Keys come back with `encoding-type=url`, where some servers write a space as "+". */
function urlDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, " "));
  } catch {
    return s;
  }
}

function isKey(key: string): boolean {
  try {
    checkKey(key);
    return true;
  } catch {
    return false;
  }
}
