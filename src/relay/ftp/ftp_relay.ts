import { EscaleError, isKind, RelayError } from "../../errors/errors.ts";
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
import { bytesStream } from "../../util/streams.ts";
import { type DataChannel, FTP_CHUNK, FtpConnection, type FtpShared } from "./ftp_connection.ts";
import { type FtpListEntry, parseFtpTime, parseListLine, parseMlsxLine } from "./ftp_listing.ts";
import { FtpPool } from "./ftp_pool.ts";
import { type FtpReply, FtpReplyError } from "./ftp_reply.ts";

export interface FtpRelayOptions {
  host: string;
  /** default 21 */
  port?: number;
  /** default "anonymous" */
  user?: string;
  password?: string;
  /** the relay folder on the server, relative to the login folder unless absolute; created */
  directory: string;
  tls: "none" | "explicit";
  /** PEM file of the CA (or the self-signed certificate) to trust for this server */
  caFile?: string;
  /** default true; false accepts any certificate */
  verifySsl?: boolean;
  /** PROT C after AUTH TLS: for servers that demand TLS session reuse, which Deno cannot do */
  clearDataChannel?: boolean;
  /** longest wait for any single network read or write (the section's `timeout`) */
  timeoutMs: number;
  /** control connections in the pool, default 4 */
  connections?: number;
}

/** Most listing text read for one folder (about two million MLSD lines). */
const MAX_LISTING_BYTES = 256 * 1024 * 1024;

/** Bytes gathered from the data connection before they are handed downstream. */
const READ_CHUNK = 256 * 1024;

/**
 * A relay on an FTP or explicit-FTPS server, over our own client. Objects are uploaded under a
 * temporary name and renamed into place (RNFR/RNTO), so a cut transfer never leaves a partial
 * object visible. FTP has no atomic create: `ifAbsent` checks, uploads, checks again and renames,
 * which leaves a short race (hence `createIfAbsent: false`). Memory per transfer: one 256 KiB
 * read buffer plus one queued chunk on downloads; uploads hold one chunk of the caller's body.
 */
/** Control connections open() logs in ahead: as many as an idle round asks for at once. */
const WARM_CONNECTIONS = 3;

export class FtpRelay implements Relay {
  readonly name: string;
  readonly capabilities: RelayCapabilities;
  readonly #o: FtpRelayOptions;
  readonly #shared: FtpShared = { noEpsv: false, noMlsd: false, tlsDataWorked: false };
  readonly #pool: FtpPool;
  #received = 0;
  #caCerts?: Promise<string[]>;
  /** see UnopenedRelay; true when the relay folder is an absolute path */
  readonly requestsBeforeOpen: boolean;
  /** absolute path of the relay folder on the server, without a trailing slash ("" is "/") */
  #base = "";
  /** relay folders known to exist ("" is the relay folder itself) */
  readonly #dirs = new Set<string>();
  /** listings shared between callers, and the one open() took (see SharedListings) */
  readonly #listings = new SharedListings<FtpListEntry[]>();

  constructor(opts: FtpRelayOptions) {
    this.#o = opts;
    const port = opts.port ?? 21;
    const user = opts.user ?? "anonymous";
    const dir = opts.directory.replace(/^\/+/, "");
    this.name = `${opts.tls === "explicit" ? "ftps" : "ftp"}://${encodeURIComponent(user)}@${
      opts.host.includes(":") ? `[${opts.host}]` : opts.host
    }:${port}/${dir}`;
    const connections = opts.connections ?? 4;
    this.capabilities = {
      createIfAbsent: false,
      rangeRead: true,
      maxKeyLength: 1024,
      parallel: connections,
      tempObjects: true,
    };
    this.#pool = new FtpPool(
      async (loginAfter) =>
        FtpConnection.open(
          {
            host: opts.host,
            port,
            user,
            password: opts.password ?? (opts.user ? "" : "anonymous@"),
            tls: opts.tls,
            caCerts: await this.#certificates(),
            verifySsl: opts.verifySsl ?? true,
            clearDataChannel: opts.clearDataChannel ?? false,
            timeoutMs: opts.timeoutMs,
            label: this.name,
          },
          this.#shared,
          loginAfter,
        ),
      connections,
    );
    // An absolute folder is known without logging in: requests need nothing open() sets up.
    this.requestsBeforeOpen = opts.directory.startsWith("/");
    if (this.requestsBeforeOpen) this.#base = normalizePath(opts.directory);
  }

  /** The CA certificates of `caFile`, read once, before the first connection needs them. */
  #certificates(): Promise<string[] | undefined> {
    const file = this.#o.caFile;
    if (!file) return Promise.resolve(undefined);
    this.#caCerts ??= Deno.readTextFile(file).then((pem) => [pem], (e) => {
      throw new EscaleError(
        "config",
        `${this.name}: cannot read the certificate file ${file}: ${
          e instanceof Error ? e.message : e
        }`,
      );
    });
    return this.#caCerts;
  }

  /**
   * Logs in, creates the relay folder when missing and lists it once, so that a refused data
   * connection (TLS session reuse, firewalls) shows up here rather than in the middle of a sync.
   * The folder check and the listing go together: a missing folder fails both.
   */
  async open(): Promise<this> {
    await this.#certificates();
    const listing = await this.#pool.use(async (c) => {
      // Logged in: the server's features are known. Opening reads two objects together and a
      // round three listings and reads; they find these connections ready.
      this.#pool.warm(WARM_CONNECTIONS);
      let base = this.#base;
      if (!this.#o.directory.startsWith("/")) {
        const r = await c.expect("PWD", [257], "finding the login folder");
        const m = /^257\s+"((?:[^"]|"")*)"/.exec(r.lines[0]);
        const home = m ? m[1].replace(/""/g, '"') : "/";
        base = normalizePath(`${home}/${this.#o.directory}`);
        this.#base = base;
      }
      const cwd = c.command(`CWD ${base || "/"}`, "opening the relay folder");
      const listed = this.#listDir(c, "").then((entries) => ({ entries }), (error) => ({ error }));
      if ((await cwd).code === 250) {
        const r = await listed;
        if ("error" in r) throw r.error;
        return r.entries;
      }
      await listed; // failed as the folder is missing (or the connection is gone)
      let cur = "";
      for (const part of base.split("/").filter(Boolean)) {
        cur += "/" + part;
        await c.command(`MKD ${cur}`, "creating the relay folder");
      }
      await c.expect(`CWD ${base || "/"}`, [250], `opening the relay folder ${base || "/"}`);
      this.#dirs.add("");
      // Just created: empty. Listed anyway, for the data connection check.
      return await this.#listDir(c, "");
    });
    this.#dirs.add("");
    // The layout detection that follows gets this listing.
    this.#listings.keep("", listing);
    return this;
  }

  #abs(key: string): string {
    if (/[\r\n]/.test(key)) {
      throw new RelayError("permanent", `invalid relay key ${JSON.stringify(key)}`, key);
    }
    return key === "" ? this.#base || "/" : `${this.#base}/${key}`;
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
    const entries = await this.#entries(dir);
    const out: RelayEntry[] = [];
    for (const e of entries) {
      const name = e.name.slice(e.name.lastIndexOf("/") + 1);
      if (e.type !== "file" || name.startsWith(TEMP_PREFIX) !== temporary || !validName(name)) {
        continue;
      }
      out.push({ key: joinKey(dir, name), size: e.size, mtime: e.mtime });
    }
    out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    yield* out;
  }

  async listFolders(dir: string): Promise<string[]> {
    checkKey(dir, true);
    const entries = await this.#entries(dir);
    const out: string[] = [];
    for (const e of entries) {
      // MLSD's cdir/pdir entries are "dir" too, named ".", ".." or by the listed path itself.
      if (e.type !== "dir" || e.name.includes("/") || !validName(e.name)) continue;
      if (!e.name.startsWith(TEMP_PREFIX)) out.push(e.name);
    }
    return out.sort();
  }

  #entries(dir: string): Promise<FtpListEntry[]> {
    return this.#listings.get(dir, () => this.#pool.use((c) => this.#listDir(c, dir)));
  }

  async #listDir(c: FtpConnection, dir: string): Promise<FtpListEntry[]> {
    const path = this.#abs(dir);
    const what = `listing ${dir || "/"}`;
    let dc: DataChannel | undefined;
    let mlsd = !this.#shared.noMlsd && this.#shared.features?.has("MLST") !== false;
    if (mlsd) {
      try {
        dc = await c.startTransfer(`MLSD ${path}`, what, dir);
      } catch (e) {
        if (missingFolder(e)) return [];
        if (!(e instanceof FtpReplyError) || ![500, 501, 502, 504].includes(e.code)) throw e;
        this.#shared.noMlsd = true;
        mlsd = false;
      }
    }
    if (!dc) {
      try {
        dc = await c.startTransfer(`LIST ${path}`, what, dir);
      } catch (e) {
        if (missingFolder(e)) return [];
        throw e;
      }
    }
    const entries: FtpListEntry[] = [];
    const decoder = new TextDecoder("utf-8", { fatal: false });
    const now = Date.now();
    let pending = new Uint8Array(0);
    const take = (line: Uint8Array) => {
      let text = decoder.decode(line);
      if (text.endsWith("\r")) text = text.slice(0, -1);
      if (!text) return;
      const e = mlsd ? parseMlsxLine(text) : parseListLine(text, now);
      if (e) entries.push(e);
    };
    const buf = new Uint8Array(FTP_CHUNK);
    for (;;) {
      const n = await dc.read(buf);
      if (n === null) break;
      if (dc.bytes > MAX_LISTING_BYTES) {
        await dc.abort();
        throw new RelayError("permanent", `${this.name}: ${what}: the listing is too long`, dir);
      }
      const merged = new Uint8Array(pending.length + n);
      merged.set(pending);
      merged.set(buf.subarray(0, n), pending.length);
      let start = 0;
      for (let i = merged.indexOf(10); i >= 0; i = merged.indexOf(10, start)) {
        take(merged.subarray(start, i));
        start = i + 1;
      }
      pending = merged.slice(start);
    }
    if (pending.length) take(pending);
    try {
      await dc.finish(false);
    } catch (e) {
      // ProFTPD opens the data connection before it finds that a LIST path is missing.
      if (!entries.length && missingFolder(e)) return [];
      throw e;
    }
    // A folder that listed is there, and so are the sub-folders it shows: writes into them need
    // no MKD (a removed one is handled by the STOR that fails).
    this.#dirs.add(dir);
    for (const e of entries) {
      if (e.type === "dir" && !e.name.includes("/") && validName(e.name)) {
        this.#dirs.add(joinKey(dir, e.name));
      }
    }
    return entries;
  }

  async stat(key: string): Promise<RelayEntry | null> {
    checkKey(key);
    return await this.#pool.use((c) => this.#stat(c, key));
  }

  async #stat(c: FtpConnection, key: string): Promise<RelayEntry | null> {
    const path = this.#abs(key);
    const what = `checking ${key}`;
    const features = this.#shared.features ?? new Set();
    if (features.has("MLST")) {
      const found = this.#mlstAnswer(c, await c.command(`MLST ${path}`, what), key, what);
      if (found !== undefined) return found;
    }
    const size = await c.command(`SIZE ${path}`, what);
    if (size.code !== 213) {
      if (size.code === 550 && !isKind(c.fail(size, what, key), "permission")) return null;
      throw c.fail(size, what, key);
    }
    const n = Number(size.lines[0].slice(4).trim());
    const mdtm = await c.command(`MDTM ${path}`, what);
    const mtime = mdtm.code === 213 ? parseFtpTime(mdtm.lines[0].slice(4)) : 0;
    return { key, size: Number.isFinite(n) ? n : 0, mtime };
  }

  /** What an MLST reply says of `key`: its entry, null when absent, undefined without MLST. */
  #mlstAnswer(
    c: FtpConnection,
    r: FtpReply,
    key: string,
    what: string,
  ): RelayEntry | null | undefined {
    if (r.code === 250) {
      const line = r.lines.slice(1).find((l) => l.startsWith(" "));
      const e = line ? parseMlsxLine(line.slice(1)) : null;
      return e && e.type === "file" ? { key, size: e.size, mtime: e.mtime } : null;
    }
    if (r.code === 550 && !isKind(c.fail(r, what, key), "permission")) return null;
    if (![500, 501, 502, 504].includes(r.code)) throw c.fail(r, what, key);
    this.#shared.features?.delete("MLST");
    return undefined;
  }

  async read(key: string, opts: ReadOptions = {}): Promise<ReadableStream<Uint8Array>> {
    checkKey(key);
    opts.signal?.throwIfAborted();
    const offset = Math.max(0, opts.offset ?? 0);
    if (opts.length !== undefined && opts.length <= 0) {
      if (!(await this.stat(key))) throw notFound(key);
      return bytesStream(new Uint8Array(0));
    }
    const [c, dc] = await this.#pool.hold((c) =>
      c.startTransfer(`RETR ${this.#abs(key)}`, `reading ${key}`, key, offset)
    );
    let left = opts.length ?? Infinity;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      opts.signal?.removeEventListener("abort", onAbort);
      this.#pool.release(c);
    };
    const onAbort = () => {
      dc.drop();
      c.kill();
    };
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    const interrupted = (e: unknown) =>
      opts.signal?.aborted
        ? new RelayError("interrupted", `${this.name}: reading ${key}: interrupted`, key)
        : e;
    const count = (n: number) => void (this.#received += n);
    return new ReadableStream<Uint8Array>({
      async pull(ctl) {
        try {
          // Reads fill a fresh buffer that is handed on as is: no copy, and few large chunks
          // downstream even over TLS, whose reads return 16 KiB records.
          const buf = new Uint8Array(Math.min(left, READ_CHUNK));
          let got = 0;
          let end = false;
          while (got < buf.length) {
            const n = await dc.read(buf.subarray(got));
            if (n === null) {
              end = true;
              break;
            }
            got += n;
          }
          left -= got;
          count(got);
          if (got) ctl.enqueue(got === buf.length ? buf : buf.subarray(0, got));
          if (end) {
            await dc.finish(false);
            release();
            ctl.close();
            return;
          }
          if (left <= 0) {
            // The rest of the file is not wanted: drop the data connection (abort also reads
            // the server's 426/451 about it).
            await dc.abort();
            release();
            ctl.close();
          }
        } catch (e) {
          release();
          ctl.error(interrupted(e));
        }
      },
      async cancel() {
        await dc.abort();
        release();
      },
    }, { highWaterMark: 1 });
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
    opts.signal?.throwIfAborted();
    const parent = parentOf(key);
    const tmpKey = tempKeyFor(key, opts.ifAbsent);
    const tmp = this.#abs(tmpKey);
    const target = this.#abs(key);
    // A write that waits for `after` gives its connection back meanwhile: the writes it waits
    // for may need it (a pool of one), and renames on a connection taken again.
    const deferred = opts.after !== undefined;
    await this.#pool.use(async (c) => {
      let dc: DataChannel | undefined;
      const onAbort = () => {
        dc?.drop();
        c.kill();
      };
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      try {
        await this.#ensureDir(c, parent);
        // Checked before a stream is sent for nothing; a small body is sent, then checked.
        const streamed = !(body instanceof Uint8Array);
        if (opts.ifAbsent && streamed && (await this.#stat(c, key))) throw exists(key);
        try {
          dc = await c.startTransfer(`STOR ${tmp}`, `writing ${key}`, key);
        } catch (e) {
          // The folder may have been removed behind our cache's back: create it and retry once.
          if (!isKind(e, "not-found") || parent === "") throw e;
          for (let d = parent; d !== ""; d = parentOf(d)) this.#dirs.delete(d);
          await this.#ensureDir(c, parent);
          dc = await c.startTransfer(`STOR ${tmp}`, `writing ${key}`, key);
        }
        try {
          await this.#upload(dc, body, key);
          await dc.finish(true);
          // The size check and, for a plain write, the rename's first half go together: RNFR
          // alone publishes nothing, and RNTO is sent only once the size is confirmed.
          const checkSize = this.#shared.features?.has("SIZE") === true;
          const lines = checkSize ? [`SIZE ${tmp}`] : [];
          // A create-if-absent checks the target alongside too, where MLST allows.
          const early = opts.ifAbsent && !deferred && this.#shared.features?.has("MLST") === true;
          if (early) lines.push(`MLST ${target}`);
          else if (!opts.ifAbsent && !deferred) lines.push(`RNFR ${tmp}`);
          const replies = lines.length
            ? await c.commands(lines, `checking the upload of ${key}`)
            : [];
          if (checkSize) {
            const r = replies[0];
            if (r.code !== 213) throw c.fail(r, `checking the upload of ${key}`, key);
            const got = Number(r.lines[0].slice(4).trim());
            if (got !== dc.bytes) {
              throw new RelayError(
                "transient",
                `${this.name}: the upload of ${key} was cut short (${got} of ${dc.bytes} bytes)`,
                key,
              );
            }
          }
          if (deferred) return;
          if (opts.ifAbsent) {
            await this.#renameIfAbsent(
              c,
              tmp,
              target,
              key,
              early ? replies[checkSize ? 1 : 0] : undefined,
            );
          } else {
            const rnfr = replies[replies.length - 1];
            if (rnfr.code !== 350) throw c.fail(rnfr, `publishing ${key}`, key);
            await this.#rename(c, tmp, target, key, true, true);
          }
        } catch (e) {
          if (c.alive) await c.command(`DELE ${tmp}`, "removing a failed upload").catch(() => {});
          throw e;
        }
      } catch (e) {
        if (opts.signal?.aborted) {
          throw new RelayError("interrupted", `${this.name}: writing ${key}: interrupted`, key);
        }
        throw e;
      } finally {
        opts.signal?.removeEventListener("abort", onAbort);
      }
    });
    if (!deferred) return;
    try {
      await opts.after;
    } catch (e) {
      await this.#pool.use((c) => c.command(`DELE ${tmp}`, "removing an upload")).catch(() => {});
      throw e;
    }
    await this.#pool.use(async (c) => {
      try {
        if (opts.ifAbsent) await this.#renameIfAbsent(c, tmp, target, key);
        else await this.#rename(c, tmp, target, key, true);
      } catch (e) {
        if (c.alive) await c.command(`DELE ${tmp}`, "removing a failed upload").catch(() => {});
        throw e;
      }
    });
  }

  /** Streams the body into the data connection; a failing body aborts the transfer. */
  async #upload(dc: DataChannel, body: Body, key: string): Promise<void> {
    if (body instanceof Uint8Array) {
      for (let off = 0; off < body.length; off += FTP_CHUNK) {
        await dc.write(body.subarray(off, off + FTP_CHUNK));
      }
      return;
    }
    const reader = body().getReader();
    try {
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (e) {
          await dc.abort();
          if (e instanceof EscaleError) throw e;
          throw new RelayError(
            "permanent",
            `${this.name}: writing ${key}: the data to upload failed: ${
              e instanceof Error ? e.message : e
            }`,
            key,
            { cause: e },
          );
        }
        if (chunk.done) return;
        await dc.write(chunk.value);
      }
    } catch (e) {
      reader.cancel(e).catch(() => {});
      throw e;
    } finally {
      reader.releaseLock();
    }
  }

  /**
   * Renames the upload `tmp` onto `key` unless `key` exists (FTP has no atomic create: the check
   * and the rename are as close as the protocol allows). `early` holds the reply of the MLST of
   * `key` when it went out with the upload's SIZE. RNFR and RNTO go together: an RNTO after a
   * refused RNFR is refused too, and publishes nothing (but a server takes any command after an
   * accepted RNFR but RNTO as out of sequence, so nothing else may go between them).
   */
  async #renameIfAbsent(
    c: FtpConnection,
    tmp: string,
    target: string,
    key: string,
    early?: FtpReply,
  ): Promise<void> {
    const what = `checking ${key}`;
    let found: RelayEntry | null | undefined;
    if (early) found = this.#mlstAnswer(c, early, key, what);
    else if (this.#shared.features?.has("MLST")) {
      found = this.#mlstAnswer(c, await c.command(`MLST ${target}`, what), key, what);
    }
    if (found === undefined) found = await this.#stat(c, key);
    if (found) throw exists(key);
    const publishing = `publishing ${key}`;
    const [from, to] = await c.commands([`RNFR ${tmp}`, `RNTO ${target}`], publishing);
    if (from.code !== 350) throw c.fail(from, publishing, key);
    if (to.code !== 250) throw c.fail(to, publishing, key);
  }

  /** RNFR (unless `fromSent`: already accepted) and RNTO; where the server refuses to replace an existing target, delete it first. */
  async #rename(
    c: FtpConnection,
    from: string,
    to: string,
    key: string,
    overwrite: boolean,
    fromSent = false,
  ): Promise<void> {
    const what = `publishing ${key}`;
    if (!fromSent) await c.expect(`RNFR ${from}`, [350], what, key);
    const r = await c.command(`RNTO ${to}`, what);
    if (r.code === 250) return;
    if (overwrite && (r.code === 550 || r.code === 553)) {
      const dele = await c.command(`DELE ${to}`, what);
      if (dele.code === 250) {
        await c.expect(`RNFR ${from}`, [350], what, key);
        await c.expect(`RNTO ${to}`, [250], what, key);
        return;
      }
    }
    throw c.fail(r, what, key);
  }

  /** Creates the folders of `dir` that are not known to exist (each MKD's failure tolerated). */
  async #ensureDir(c: FtpConnection, dir: string): Promise<void> {
    if (this.#dirs.has(dir)) return;
    let cur = "";
    for (const part of dir.split("/")) {
      cur = joinKey(cur, part);
      if (this.#dirs.has(cur)) continue;
      const r = await c.command(`MKD ${this.#abs(cur)}`, `creating ${cur}`);
      // "File exists" comes as 550 or 521; any other refusal shows up in the STOR that follows.
      if (r.code === 257 || r.lines.join(" ").match(/exist/i)) this.#dirs.add(cur);
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
    await this.#pool.use(async (c) => {
      const what = `deleting ${key}`;
      // Also the unfinished upload of this key a killed process may have left (see tempKeyFor),
      // in the same round trip; its answer does not matter.
      const lines = [`DELE ${this.#abs(key)}`];
      if (!opts.onlyCreated) lines.push(`DELE ${this.#abs(tempKeyFor(key))}`);
      const [r] = await c.commands(lines, what);
      if (r.code === 250 || r.code === 200) return;
      const err = c.fail(r, what, key);
      if (r.code === 550 && isKind(err, "not-found")) return;
      throw err;
    });
  }

  received(): number {
    return this.#received;
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }
}

/** A listing failed because the folder does not exist (550, or 450 on LIST for some servers). */
function missingFolder(e: unknown): boolean {
  if (!(e instanceof FtpReplyError)) return false;
  if (e.code === 450) return /no such|not found|does not exist/i.test(e.message);
  return e.kind === "not-found";
}

function normalizePath(p: string): string {
  const parts = p.split("/").filter((s) => s !== "" && s !== ".");
  return parts.length ? "/" + parts.join("/") : "";
}

function validName(name: string): boolean {
  return name !== "" && name !== "." && name !== ".." && !/[\\\0\r\n]/.test(name);
}

function notFound(key: string): RelayError {
  return new RelayError("not-found", `${key}: not found on relay`, key);
}

function exists(key: string): RelayError {
  return new RelayError("exists", `${key}: already exists on relay`, key);
}
