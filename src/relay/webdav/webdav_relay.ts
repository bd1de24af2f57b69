import { RelayError } from "../../errors/errors.ts";
import {
  type HttpOptions,
  type HttpResponse,
  HttpSession,
  rangedGet,
  type RequestBody,
} from "../http_client.ts";
import { checkKey, joinKey, parentOf } from "../keys.ts";
import { SharedListings } from "../shared_listings.ts";
import {
  type Body,
  type DeleteOptions,
  type ReadOptions,
  type Relay,
  type RelayCapabilities,
  type RelayEntry,
  TEMP_PREFIX,
  tempKeyFor,
  type WriteOptions,
} from "../relay.ts";
import { type DavResource, parseMultistatus, PROPFIND_BODY } from "./propfind.ts";

/** TLS, timeout and connection settings as the HTTP client takes them. */
export interface WebDavOptions extends
  Pick<
    HttpOptions,
    "caFile" | "verifySsl" | "certFile" | "keyFile" | "timeoutMs" | "parallel"
  > {
  /** base URL of the relay folder, e.g. http://127.0.0.1:8080/dav/relay/ */
  url: string;
  user?: string;
  password?: string;
}

/** A PROPFIND answer larger than this is refused (about 120,000 entries on Apache). */
const LISTING_LIMIT = 64 * 1024 * 1024;

/**
 * A relay in a WebDAV collection, spoken through fetch: PROPFIND with Depth 1 only (servers
 * refuse or choke on infinity), GET with Range, PUT to a temporary name in the target collection
 * and MOVE into place, so objects appear only complete. Create-if-absent is MOVE with
 * `Overwrite: F` (412 when the name exists), which Apache's mod_dav checks and then performs as
 * two steps: of writers racing for one name, several can win (the conformance suite's race check
 * showed it), so this relay does not claim an atomic create-if-absent.
 *
 * Memory: bodies stream through; only a PROPFIND answer is held whole, up to LISTING_LIMIT.
 */
export class WebDavRelay implements Relay {
  readonly name: string;
  readonly capabilities: RelayCapabilities;
  /** every request is a URL of its own: see UnopenedRelay */
  readonly requestsBeforeOpen = true;
  readonly #base: string;
  readonly #baseSegments: string[];
  readonly #auth?: string;
  readonly #http: HttpSession;
  /** relay folders known to exist, so that a streamed PUT never meets a missing parent */
  readonly #knownDirs = new Set<string>();
  /** relay folders a listing found missing: a write into one creates it first, not after a 409 */
  readonly #missingDirs = new Set<string>();
  readonly #creating = new Map<string, Promise<void>>();
  /** listings shared between callers, and the one open() took */
  readonly #listings = new SharedListings<DavResource[] | null>();

  constructor(opts: WebDavOptions) {
    let url: URL;
    try {
      url = new URL(opts.url);
    } catch {
      throw new RelayError("config", `invalid WebDAV address ${JSON.stringify(opts.url)}`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new RelayError("config", `WebDAV address must start with http:// or https://`);
    }
    let user = opts.user;
    let password = opts.password;
    // Credentials written into the address are moved to the header: a URL gets shown to users.
    if (url.username || url.password) {
      user ??= decodeURIComponent(url.username);
      password ??= decodeURIComponent(url.password);
      url.username = "";
      url.password = "";
    }
    url.search = "";
    url.hash = "";
    if (!url.pathname.endsWith("/")) url.pathname += "/";
    this.#base = url.href;
    this.#baseSegments = url.pathname.split("/").filter((s) => s !== "").map(decodeURIComponent);
    this.name = this.#base;
    const secrets: string[] = [];
    if (user !== undefined || password !== undefined) {
      const token = basicToken(user ?? "", password ?? "");
      this.#auth = `Basic ${token}`;
      secrets.push(token);
      if (password) secrets.push(password);
    }
    this.#http = new HttpSession(this.#base, {
      label: this.name,
      caFile: opts.caFile,
      verifySsl: opts.verifySsl,
      certFile: opts.certFile,
      keyFile: opts.keyFile,
      timeoutMs: opts.timeoutMs,
      parallel: opts.parallel,
      secrets,
    });
    this.capabilities = {
      createIfAbsent: false,
      rangeRead: true,
      maxKeyLength: 1024,
      parallel: Math.max(1, opts.parallel ?? 4),
      tempObjects: true,
    };
  }

  /**
   * Checks that the server answers and accepts the credentials, and creates the relay folder,
   * level by level, when it is missing. The check is a listing of the folder (PROPFIND Depth 1),
   * kept for the layout detection that follows (SharedListings).
   */
  async open(): Promise<this> {
    const what = "opening the relay folder";
    const res = await this.#propfind(this.#base, "1", what);
    if (res.status === 404) {
      await this.#http.discard(res);
      await this.#mkcol(this.#baseSegments, what);
      this.#listings.keep("", []);
    } else if (res.status === 207) {
      const all = this.#parse(await this.#http.text(res, what, LISTING_LIMIT), this.#base, what);
      const self = all.find((r) => this.#inside(r, this.#baseSegments, 0));
      if (self && !self.collection) {
        throw new RelayError("config", `${this.name}: the relay address is a file, not a folder`);
      }
      this.#listings.keep("", all.filter((r) => this.#inside(r, this.#baseSegments, 1)));
    } else {
      throw await this.#fail(res, what);
    }
    this.#knownDirs.add("");
    return this;
  }

  list(dir: string): AsyncIterable<RelayEntry> {
    return this.#list(dir, false);
  }

  /** The temporary objects of unfinished uploads in `dir` (for `escale fix`). */
  listTemporary(dir: string): AsyncIterable<RelayEntry> {
    return this.#list(dir, true);
  }

  async *#list(dir: string, temporary: boolean): AsyncIterable<RelayEntry> {
    checkKey(dir, true);
    const children = await this.#children(dir);
    if (!children) return;
    const depth = this.#baseSegments.length + (dir ? dir.split("/").length : 0);
    const entries: RelayEntry[] = [];
    for (const r of children) {
      const name = r.segments[depth];
      if (r.collection || name.startsWith(TEMP_PREFIX) !== temporary) continue;
      const key = joinKey(dir, name);
      if (!isKey(key)) continue;
      const size = r.size >= 0 ? r.size : await this.#headSize(key);
      if (size !== null) entries.push({ key, size, mtime: r.mtime });
    }
    entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    yield* entries;
  }

  async listFolders(dir: string): Promise<string[]> {
    checkKey(dir, true);
    const children = await this.#children(dir);
    const depth = this.#baseSegments.length + (dir ? dir.split("/").length : 0);
    const names: string[] = [];
    for (const r of children ?? []) {
      const name = r.segments[depth];
      if (r.collection && !name.startsWith(TEMP_PREFIX) && isKey(joinKey(dir, name))) {
        names.push(name);
      }
    }
    return names.sort();
  }

  /**
   * What a PROPFIND Depth 1 of `dir` shows directly inside it (null when `dir` is missing),
   * shared by the listings of files and of folders asked together. Notes the folders it saw.
   */
  async #children(dir: string): Promise<DavResource[] | null> {
    const children = await this.#listings.get(dir, async () => {
      const what = `listing ${dir || "/"}`;
      const url = this.#url(dir, true);
      const res = await this.#propfind(url, "1", what);
      if (res.status === 404) {
        await this.#http.discard(res);
        return null;
      }
      if (res.status !== 207) throw await this.#fail(res, what, dir);
      const dirSegments = [...this.#baseSegments, ...(dir ? dir.split("/") : [])];
      return this.#parse(await this.#http.text(res, what, LISTING_LIMIT), url, what)
        .filter((r) => this.#inside(r, dirSegments, 1));
    });
    if (!children) {
      this.#missingDirs.add(dir);
      return null;
    }
    for (const r of children) {
      if (r.collection) this.#noteFolder(dir, r.segments[r.segments.length - 1]);
    }
    this.#knownDirs.add(dir);
    this.#missingDirs.delete(dir);
    return children;
  }

  /** `r` is `levels` levels below the folder `segments` (0: the folder itself). */
  #inside(r: DavResource, segments: string[], levels: number): boolean {
    return r.segments.length === segments.length + levels &&
      segments.every((s, i) => r.segments[i] === s);
  }

  /**
   * A listing showed folder `name` in `dir`: a write into it needs no MKCOL first (a folder
   * removed behind our back answers the upload with 409, which creates it).
   */
  #noteFolder(dir: string, name: string): void {
    const key = joinKey(dir, name);
    if (!isKey(key)) return;
    this.#knownDirs.add(key);
    this.#missingDirs.delete(key);
  }

  async stat(key: string): Promise<RelayEntry | null> {
    checkKey(key);
    const what = `checking ${key}`;
    const url = this.#url(key);
    const res = await this.#propfind(url, "0", what, key);
    if (res.status === 404) {
      await this.#http.discard(res);
      return null;
    }
    if (res.status !== 207) throw await this.#fail(res, what, key);
    const self = this.#parse(await this.#http.text(res, what), url, what)[0];
    if (!self || self.collection) return null;
    const size = self.size >= 0 ? self.size : await this.#headSize(key);
    return size === null ? null : { key, size, mtime: self.mtime };
  }

  read(key: string, opts: ReadOptions = {}): Promise<ReadableStream<Uint8Array>> {
    checkKey(key);
    const what = `reading ${key}`;
    return rangedGet(opts.offset ?? 0, opts.length, {
      exists: async () => (await this.stat(key)) !== null,
      get: (headers) =>
        this.#send("GET", this.#url(key), { headers, what, key, signal: opts.signal }),
      discard: (res) => this.#http.discard(res),
      fail: (res) => this.#fail(res, what, key),
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
    const dir = parentOf(key);
    const tmp = tempKeyFor(key, opts.ifAbsent);
    const what = `writing ${key}`;
    const streamed = !(body instanceof Uint8Array);
    // Sending a stream again means reading its source again: make sure of its folder first; a
    // folder a listing found missing is created first too, rather than after a refused upload.
    if (streamed || this.#missingDirs.has(dir)) await this.#ensureDir(dir, what);
    let uploaded = false;
    try {
      let res = await this.#put(tmp, body, opts, what, key);
      if (res.status === 409) {
        await this.#http.discard(res);
        this.#knownDirs.delete(dir);
        await this.#ensureDir(dir, what);
        res = await this.#put(tmp, body, opts, what, key);
      }
      if (res.status !== 200 && res.status !== 201 && res.status !== 204) {
        throw await this.#fail(res, what, key);
      }
      await this.#http.discard(res);
      uploaded = true;
      await opts.after;
      const moved = await this.#send("MOVE", this.#url(tmp), {
        headers: { destination: this.#url(key), overwrite: opts.ifAbsent ? "F" : "T" },
        what,
        key,
      });
      if (moved.status === 412) {
        await this.#http.discard(moved);
        throw new RelayError("exists", `${this.name}: ${key}: already exists on relay`, key);
      }
      if (moved.status !== 201 && moved.status !== 204) throw await this.#fail(moved, what, key);
      await this.#http.discard(moved);
      this.#knownDirs.add(dir);
      this.#missingDirs.delete(dir);
    } catch (e) {
      // A failed or refused upload may still have left the temporary object behind.
      if (uploaded || streamed) await this.delete(tmp).catch(() => {});
      throw e;
    }
  }

  async delete(key: string, opts: DeleteOptions = {}): Promise<void> {
    try {
      await this.#delete(key, opts);
    } finally {
      this.#listings.changed();
    }
  }

  async #delete(key: string, opts: DeleteOptions): Promise<void> {
    checkKey(key);
    const what = `deleting ${key}`;
    // Also the unfinished upload of this key a killed process may have left (see tempKeyFor),
    // in the same round trip: the two are independent.
    const [res] = await Promise.all([
      this.#send("DELETE", this.#url(key), { what, key }).then(async (r) => {
        await this.#http.discard(r);
        return r;
      }),
      opts.onlyCreated ? undefined : this.#send("DELETE", this.#url(tempKeyFor(key)), { what, key })
        .then((r) => this.#http.discard(r), () => {}),
    ]);
    if (res.status === 404 || (res.status >= 200 && res.status < 300)) return;
    throw await this.#fail(res, what, key);
  }

  received(): number {
    return this.#http.received;
  }

  close(): Promise<void> {
    this.#http.close();
    return Promise.resolve();
  }

  #url(key: string, collection = false): string {
    if (key === "") return this.#base;
    return this.#base + key.split("/").map(encodeURIComponent).join("/") + (collection ? "/" : "");
  }

  #send(
    method: string,
    url: string,
    req: {
      headers?: Record<string, string>;
      body?: RequestBody;
      size?: number;
      signal?: AbortSignal;
      what: string;
      key?: string;
    },
  ): Promise<HttpResponse> {
    const headers: Record<string, string> = { ...req.headers };
    if (this.#auth) headers.authorization = this.#auth;
    return this.#http.request(url, { ...req, method, headers });
  }

  #put(
    tmp: string,
    body: Body,
    opts: WriteOptions,
    what: string,
    key: string,
  ): Promise<HttpResponse> {
    return this.#send("PUT", this.#url(tmp), {
      headers: { "content-type": "application/octet-stream" },
      body: body instanceof Uint8Array ? body : body(),
      size: opts.size,
      signal: opts.signal,
      what,
      key,
    });
  }

  #propfind(url: string, depth: "0" | "1", what: string, key?: string): Promise<HttpResponse> {
    return this.#send("PROPFIND", url, {
      headers: { depth, "content-type": "application/xml; charset=utf-8" },
      body: new TextEncoder().encode(PROPFIND_BODY),
      what,
      key,
    });
  }

  #parse(xml: string, url: string, what: string): DavResource[] {
    try {
      return parseMultistatus(xml, url);
    } catch (e) {
      throw this.#http.error("permanent", what, (e as Error).message, undefined, e);
    }
  }

  async #headSize(key: string): Promise<number | null> {
    const what = `checking ${key}`;
    const res = await this.#send("HEAD", this.#url(key), { what, key });
    await this.#http.discard(res);
    if (res.status === 404) return null;
    if (res.status !== 200) throw await this.#fail(res, what, key);
    return Number(res.headers.get("content-length") ?? 0);
  }

  /** Makes a relay folder exist; parallel writers into one new folder share one attempt. */
  #ensureDir(dir: string, what: string): Promise<void> {
    if (this.#knownDirs.has(dir)) return Promise.resolve();
    let pending = this.#creating.get(dir);
    if (!pending) {
      pending = this.#mkcol([...this.#baseSegments, ...dir.split("/").filter((s) => s)], what)
        .then(() => {
          this.#knownDirs.add(dir);
          this.#missingDirs.delete(dir);
        })
        .finally(() => this.#creating.delete(dir));
      this.#creating.set(dir, pending);
    }
    return pending;
  }

  /** MKCOL of an absolute path, creating missing parents first when the server says 409. */
  async #mkcol(segments: string[], what: string, depth = 0): Promise<void> {
    const url = new URL(this.#base);
    url.pathname = segments.length ? `/${segments.map(encodeURIComponent).join("/")}/` : "/";
    const res = await this.#send("MKCOL", url.href, { what });
    await this.#http.discard(res);
    if (res.status === 201 || res.status === 405) return;
    if (res.status === 409 && segments.length > 1 && depth < 64) {
      await this.#mkcol(segments.slice(0, -1), what, depth + 1);
      return await this.#mkcol(segments, what, depth + 1);
    }
    // Another client creating the same folder at the same moment makes some servers answer 403
    // or 409 instead of 405: what counts is whether the folder is there now.
    const check = await this.#propfind(url.href, "0", what);
    if (check.status === 207) {
      const self = this.#parse(await this.#http.text(check, what), url.href, what)[0];
      if (self?.collection) return;
    } else {
      await this.#http.discard(check);
    }
    throw await this.#fail(res, `${what}: creating folder /${segments.join("/")}/`);
  }

  #notFound(key: string): RelayError {
    return new RelayError("not-found", `${this.name}: ${key}: not found on relay`, key);
  }

  async #fail(res: HttpResponse, what: string, key?: string): Promise<RelayError> {
    await this.#http.discard(res);
    const location = res.headers.get("location");
    const detail = res.status >= 300 && res.status < 400 && location
      ? `redirected to ${location}`
      : undefined;
    return this.#http.statusError(res.status, what, key, detail);
  }
}

function basicToken(user: string, password: string): string {
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

function isKey(key: string): boolean {
  try {
    checkKey(key);
    return true;
  } catch {
    return false;
  }
}
