import http from "node:http";
import https from "node:https";
import { Readable } from "node:stream";
import { type ErrorKind, EscaleError, oneLine, RelayError } from "../errors/errors.ts";

/** Bytes of an unwanted answer read to its end rather than cancelled (discard). */
const DISCARD_READ_MAX = 64 * 1024;
/**
 * The HTTP transport shared by the WebDAV and S3 relays: one connection pool per relay, custom CA
 * and client certificates, an inactivity timeout on every request, and the mapping of network and
 * TLS failures to the shared error kinds with messages that never carry a secret.
 *
 * Deno's fetch cannot switch certificate verification off per client (only the process-wide
 * `--unsafely-ignore-certificate-errors` flag can), so `verifySsl: false` on an https URL sends
 * its requests through `node:https` with `rejectUnauthorized: false` instead. Deno's fetch also
 * sends every stream body chunked, without its length, which S3 refuses: a stream body of known
 * `size` goes through `node:http(s)` with a Content-Length (holding it in memory for fetch cost
 * about 3 times its size in RSS, docs/benchmarks.md). Everything else goes through fetch with a
 * `Deno.HttpClient`.
 */
export interface HttpOptions {
  /** how messages name the server, e.g. the relay URL; never contains a secret */
  label: string;
  /** PEM file of an extra trusted CA (or the server's own self-signed certificate) */
  caFile?: string;
  /** default true; false accepts any server certificate (https only) */
  verifySsl?: boolean;
  /** PEM client certificate and key for servers that demand mutual TLS */
  certFile?: string;
  keyFile?: string;
  /** inactivity limit per request: no response headers, or no body bytes moving, for this long */
  timeoutMs: number;
  /** connections kept open to the server */
  parallel?: number;
  /** strings that must never reach a message (passwords, secret keys, tokens) */
  secrets?: string[];
}

export type RequestBody = Uint8Array | ReadableStream<Uint8Array>;

export interface HttpRequest {
  method: string;
  headers?: HeadersInit;
  body?: RequestBody;
  /** length of a stream body, when known: it is then sent with a Content-Length (node:http) */
  size?: number;
  signal?: AbortSignal;
  /** what is being done, for messages: e.g. "write commits/x" */
  what: string;
  key?: string;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  /** null for HEAD; otherwise must be read to the end or cancelled (use `discard`) */
  body: ReadableStream<Uint8Array> | null;
}

/**
 * Uploads from memory get extra time on top of the inactivity limit, because their progress is
 * invisible to us: a body of n bytes may take n / MIN_UPLOAD_RATE seconds more.
 */
const MIN_UPLOAD_RATE = 64 * 1024;

/** What a transport needs to send one request. */
interface TransportInit {
  method: string;
  headers: Headers;
  body?: RequestBody;
  size?: number;
  signal: AbortSignal;
}

type Transport = (
  url: string,
  init: TransportInit,
) => Promise<HttpResponse>;

export class HttpSession {
  readonly label: string;
  readonly timeoutMs: number;
  readonly #secrets: string[];
  readonly #close: () => void;
  readonly #transport: Transport;
  #received = 0;
  /** for stream bodies of known size */
  readonly #sized: Transport;

  constructor(url: string, opts: HttpOptions) {
    this.label = opts.label;
    this.timeoutMs = opts.timeoutMs;
    this.#secrets = (opts.secrets ?? []).filter((s) => s.length >= 3);
    const ca = opts.caFile ? readPem(opts.caFile, "CA file", this.label) : undefined;
    const cert = opts.certFile
      ? readPem(opts.certFile, "client certificate", this.label)
      : undefined;
    const key = opts.keyFile ? readPem(opts.keyFile, "client key", this.label) : undefined;
    if ((cert === undefined) !== (key === undefined)) {
      throw new RelayError(
        "config",
        `${this.label}: a client certificate needs both a certificate file and a key file`,
      );
    }
    const parallel = Math.max(1, opts.parallel ?? 4);
    const tls = new URL(url).protocol === "https:";
    const agent = tls
      ? new https.Agent({
        keepAlive: true,
        maxSockets: parallel,
        rejectUnauthorized: opts.verifySsl !== false,
        ...(ca ? { ca } : {}),
        ...(cert && key ? { cert, key } : {}),
      })
      : new http.Agent({ keepAlive: true, maxSockets: parallel });
    this.#sized = (u, init) => nodeTransport(tls ? https : http, agent, u, init);
    if (opts.verifySsl === false && tls) {
      this.#transport = this.#sized;
      this.#close = () => agent.destroy();
    } else {
      const client = Deno.createHttpClient({
        poolMaxIdlePerHost: parallel,
        ...(ca ? { caCerts: [ca] } : {}),
        ...(cert && key ? { cert, key } : {}),
      });
      this.#transport = (u, init) =>
        fetch(u, {
          method: init.method,
          headers: init.headers,
          // Our bodies are plain ArrayBuffer-backed views; TS cannot know they are not shared.
          body: init.body as Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array> | undefined,
          signal: init.signal,
          redirect: "manual",
          client,
        });
      this.#close = () => {
        client.close();
        agent.destroy();
      };
    }
  }

  /** Removes every configured secret from a text bound for a message. */
  redact(text: string): string {
    let out = text;
    for (const s of this.#secrets) out = out.split(s).join("***");
    return oneLine(out);
  }

  /** A RelayError whose message is redacted and prefixed with the server label. */
  error(kind: ErrorKind, what: string, reason: string, key?: string, cause?: unknown): RelayError {
    return new RelayError(kind, this.redact(`${this.label}: ${what}: ${reason}`), key, { cause });
  }

  /** The error for an HTTP status that the caller did not expect. */
  statusError(status: number, what: string, key?: string, detail?: string): RelayError {
    const kind = statusKind(status);
    const reason = STATUS_REASON[kind] ?? "unexpected answer";
    return this.error(kind, what, `${reason} (HTTP ${status}${detail ? `, ${detail}` : ""})`, key);
  }

  /**
   * Sends one request and returns once the response headers are in. Network, TLS and timeout
   * failures become RelayErrors; an error raised by a stream body is rethrown as it is (it is the
   * caller's data that failed, not the server).
   */
  async request(url: string, req: HttpRequest): Promise<HttpResponse> {
    const ctl = new AbortController();
    let timedOut = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Re-armed on every chunk of a transfer: moving the deadline is one assignment, and the one
    // pending timer looks at it when it fires (a new timer per chunk cost about 0.1 s per GiB).
    let deadline = 0;
    let firesAt = Infinity;
    const schedule = (ms: number) => {
      clearTimeout(timer);
      firesAt = Date.now() + ms;
      timer = setTimeout(fire, ms);
    };
    const fire = () => {
      const left = deadline - Date.now();
      if (left > 0) return schedule(left);
      timer = undefined;
      timedOut = true;
      ctl.abort(new DOMException("request timed out", "TimeoutError"));
    };
    const arm = (ms: number) => {
      deadline = Date.now() + ms;
      // Only a deadline earlier than the pending timer needs a new one.
      if (timer === undefined || deadline < firesAt) schedule(ms);
    };
    const disarm = () => {
      clearTimeout(timer);
      timer = undefined;
      firesAt = Infinity;
    };
    const outer = req.signal;
    const onAbort = () => ctl.abort(outer?.reason);
    if (outer?.aborted) throw outer.reason;
    outer?.addEventListener("abort", onAbort, { once: true });
    const release = () => {
      disarm();
      outer?.removeEventListener("abort", onAbort);
    };

    let sourceError: unknown;
    let body: RequestBody | undefined = req.body;
    const sized = body instanceof ReadableStream && req.size !== undefined;
    if (body instanceof ReadableStream) {
      // A body that is not as long as announced would leave the server waiting for the rest.
      const wrongLength = (got: number, ended: boolean) =>
        this.error(
          "permanent",
          req.what,
          `the data to send ${ended ? "ended after" : "is longer than"} ${got} bytes, ` +
            `where ${req.size} were announced`,
          req.key,
        );
      body = watchUpload(
        body,
        () => arm(this.timeoutMs),
        (e) => (sourceError = e),
        req.size,
        wrongLength,
      );
      arm(this.timeoutMs);
    } else {
      arm(this.timeoutMs + (body ? (body.length / MIN_UPLOAD_RATE) * 1000 : 0));
    }
    const transport = sized ? this.#sized : this.#transport;
    const send = () =>
      transport(url, {
        method: req.method,
        headers: new Headers(req.headers),
        body,
        size: req.size,
        signal: ctl.signal,
      });
    let res: HttpResponse;
    try {
      try {
        res = await send();
      } catch (e) {
        // A kept-alive connection that the server closed just as we reused it fails the request
        // before the server saw it; browsers resend at once, and so do we when that is safe.
        if (
          !isStaleConnection(e) || !REPLAYABLE.has(req.method) ||
          !(body instanceof Uint8Array || body === undefined) || timedOut || outer?.aborted
        ) throw e;
        res = await send();
      }
    } catch (e) {
      release();
      if (sourceError !== undefined) throw sourceError;
      if (outer?.aborted && !timedOut) throw outer.reason;
      throw this.#networkError(e, req, timedOut);
    }
    if (sourceError !== undefined) {
      release();
      await res.body?.cancel().catch(() => {});
      throw sourceError;
    }
    if (!res.body) {
      release();
      return res;
    }
    arm(this.timeoutMs);
    const mapRead = (e: unknown) =>
      outer?.aborted && !timedOut
        ? outer.reason
        : this.#networkError(e, req, timedOut, "reading the answer");
    return {
      status: res.status,
      headers: res.headers,
      body: watchDownload(res.body, () => arm(this.timeoutMs), release, mapRead, (n) => {
        this.#received += n;
      }),
    };
  }

  /** Bytes of answer bodies received so far (Relay.received). */
  get received(): number {
    return this.#received;
  }

  /** Reads a whole (small) answer: XML listings and error documents, at most `limit` bytes. */
  async text(res: HttpResponse, what: string, limit = 16 * 1024 * 1024): Promise<string> {
    if (!res.body) return "";
    const dec = new TextDecoder();
    let out = "";
    let n = 0;
    for await (const chunk of res.body) {
      n += chunk.length;
      if (n > limit) {
        throw this.error("permanent", what, `the server's answer is larger than ${limit} bytes`);
      }
      out += dec.decode(chunk, { stream: true });
    }
    return out + dec.decode();
  }

  /**
   * Throws away an answer's body so that the connection can be reused: a short one is read to its
   * end, since node:http destroys the socket of an answer cancelled before its end (every upload
   * of known size then paid a new connection and TCP slow start); a long one is cancelled.
   */
  async discard(res: HttpResponse): Promise<void> {
    if (!res.body) return;
    const reader = res.body.getReader();
    try {
      for (let n = 0; n <= DISCARD_READ_MAX;) {
        const r = await reader.read();
        if (r.done) return;
        n += r.value.length;
      }
      await reader.cancel();
    } catch {
      // A failed body of an answer that did not matter: the connection is gone, nothing else.
    } finally {
      reader.releaseLock();
    }
  }

  close(): void {
    this.#close();
  }

  #networkError(e: unknown, req: HttpRequest, timedOut: boolean, during?: string): RelayError {
    if (e instanceof RelayError) return e;
    const what = during ? `${req.what} (${during})` : req.what;
    if (timedOut) {
      return this.error(
        "transient",
        what,
        `no answer from the server for ${Math.round(this.timeoutMs / 100) / 10} s`,
        req.key,
        e,
      );
    }
    const detail = innermost(e);
    if (/CertificateRequired/i.test(detail)) {
      return this.error(
        "permanent",
        what,
        `TLS: the server demands a client certificate (${detail})`,
        req.key,
        e,
      );
    }
    if (/certificate|UnknownIssuer|NotValidForName|CaUsedAsEndEntity|BadSignature/i.test(detail)) {
      return this.error(
        "permanent",
        what,
        `TLS certificate problem: ${detail} (give the server's CA file, or check the host name)`,
        req.key,
        e,
      );
    }
    if (/corrupt message|InvalidContentType|wrong version number/i.test(detail)) {
      return this.error(
        "permanent",
        what,
        `TLS connection failed, is this an https port? (${detail})`,
        req.key,
        e,
      );
    }
    if (/tls|handshake|ssl|alert/i.test(detail)) {
      return this.error("permanent", what, `TLS connection failed: ${detail}`, req.key, e);
    }
    return this.error("transient", what, `cannot reach the server: ${detail}`, req.key, e);
  }
}

const STATUS_REASON: Partial<Record<ErrorKind, string>> = {
  auth: "authentication failed, check the user name and password",
  permission: "permission denied",
  "not-found": "not found",
  space: "the server is out of space or over quota",
  transient: "the server is busy or failing",
};

/** Methods whose repetition does no harm: the stale-connection resend is limited to them. */
const REPLAYABLE = new Set(["GET", "HEAD", "PUT", "DELETE", "PROPFIND", "MKCOL", "OPTIONS"]);

function isStaleConnection(e: unknown): boolean {
  return /connection closed before message completed|connection reset|broken pipe|ECONNRESET|EPIPE/i
    .test(innermost(e));
}

/** The shared error kind an unexpected HTTP status stands for. */
export function statusKind(status: number): ErrorKind {
  if (status === 401) return "auth";
  if (status === 403) return "permission";
  if (status === 404 || status === 410) return "not-found";
  if (status === 413 || status === 507) return "space";
  if (status === 408 || status === 429) return "transient";
  if (status >= 500 && status !== 501 && status !== 505) return "transient";
  return "permanent";
}

/** The Range header for a read of `length` bytes (all when undefined) from `offset`. */
export function rangeHeaders(offset: number, length?: number): Record<string, string> {
  if (offset === 0 && length === undefined) return {};
  return { range: `bytes=${offset}-${length !== undefined ? offset + length - 1 : ""}` };
}

/**
 * The body of a ranged GET. A server may ignore Range and answer 200 with the whole object: the
 * range is then cut out here; a 206 is still held to `length`, whatever the server sends.
 */
/** What `rangedGet` needs from an HTTP backend. */
export interface RangedGetIo {
  exists(): Promise<boolean>;
  get(headers: Record<string, string>): Promise<HttpResponse>;
  discard(res: HttpResponse): Promise<void>;
  fail(res: HttpResponse): Promise<Error>;
  notFound(): Error;
}

/**
 * A read of the HTTP backends: GET with a Range header, 404 as not found, 416 (a range past the
 * end) as empty, the body cut to the requested range when a server ignores Range.
 */
export async function rangedGet(
  offset: number,
  length: number | undefined,
  io: RangedGetIo,
): Promise<ReadableStream<Uint8Array>> {
  if (length === 0) {
    if (!(await io.exists())) throw io.notFound();
    return emptyStream();
  }
  const res = await io.get(rangeHeaders(offset, length));
  if (res.status === 404) {
    await io.discard(res);
    throw io.notFound();
  }
  if (res.status === 416) {
    await io.discard(res);
    return emptyStream();
  }
  if ((res.status !== 200 && res.status !== 206) || !res.body) throw await io.fail(res);
  return rangedBody(res.status, res.body, offset, length);
}

function emptyStream(): ReadableStream<Uint8Array> {
  return new ReadableStream({ start: (c) => c.close() });
}

export function rangedBody(
  status: number,
  body: ReadableStream<Uint8Array>,
  offset: number,
  length?: number,
): ReadableStream<Uint8Array> {
  const skip = status === 200 ? offset : 0;
  return skip || length !== undefined ? sliceStream(body, skip, length) : body;
}

/** Skips `skip` bytes, then passes at most `length` bytes (all when undefined). */
function sliceStream(
  src: ReadableStream<Uint8Array>,
  skip: number,
  length: number | undefined,
): ReadableStream<Uint8Array> {
  const reader = src.getReader();
  let toSkip = skip;
  let left = length ?? Infinity;
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      while (true) {
        if (left <= 0) {
          await reader.cancel().catch(() => {});
          c.close();
          return;
        }
        const r = await reader.read();
        if (r.done) {
          c.close();
          return;
        }
        let chunk = r.value;
        if (toSkip > 0) {
          const n = Math.min(toSkip, chunk.length);
          toSkip -= n;
          chunk = chunk.subarray(n);
        }
        if (chunk.length === 0) continue;
        if (chunk.length > left) chunk = chunk.subarray(0, left);
        left -= chunk.length;
        c.enqueue(chunk);
        return;
      }
    },
    async cancel(reason) {
      await reader.cancel(reason).catch(() => {});
    },
  }, { highWaterMark: 0 });
}

function readPem(path: string, what: string, label: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (e) {
    const msg = e instanceof Error
      ? e.message.replace(/,? ?\(os error \d+\)/, "").replace(/: \w+ '.*'$/, "")
      : String(e);
    throw new RelayError("config", `${label}: cannot read the ${what} ${path}: ${msg}`);
  }
}

/** The most specific message in an error's cause chain, without fetch's URL-laden prefixes. */
function innermost(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let i = 0; cur && i < 5; i++) {
    if (cur instanceof Error) {
      parts.push(cur.message);
      const code = (cur as { code?: unknown }).code;
      if (typeof code === "string") parts.push(code);
      cur = cur.cause;
    } else {
      parts.push(String(cur));
      break;
    }
  }
  const last = parts.filter((p) => p && p !== "fetch failed").pop() ?? "network error";
  // fetch reports "error sending request for url (…): client error (Connect): tcp connect error:
  // Connection refused"; the tail is what the user needs.
  const tail = last.split(/\): /).pop() ?? last;
  return oneLine(tail.replace(/^(tcp connect error|dns error|client error \(\w+\)):\s*/i, ""))
    .replace(/ \(os error \d+\)/, "");
}

/**
 * Passes an upload through, re-arming the timeout on progress and noting its own failure, which
 * is also what a body of the wrong length (when `size` is given) becomes.
 */
function watchUpload(
  src: ReadableStream<Uint8Array>,
  progress: () => void,
  failed: (e: unknown) => void,
  size: number | undefined,
  wrongLength: (got: number, ended: boolean) => Error,
): ReadableStream<Uint8Array> {
  const reader = src.getReader();
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await reader.read();
        if (size !== undefined) {
          if (r.done ? sent !== size : sent + r.value.length > size) {
            throw wrongLength(r.done ? sent : sent + r.value.length, r.done);
          }
          if (!r.done) sent += r.value.length;
        }
      } catch (e) {
        failed(e);
        c.error(e);
        await reader.cancel(e).catch(() => {});
        return;
      }
      progress();
      if (r.done) c.close();
      else c.enqueue(r.value);
    },
    async cancel(reason) {
      await reader.cancel(reason).catch(() => {});
    },
  }, { highWaterMark: 0 });
}

/**
 * Passes a download through, re-arming the timeout per read and mapping failures, in chunks
 * that own their bytes (see `fullChunks`).
 */
function watchDownload(
  src: ReadableStream<Uint8Array>,
  progress: () => void,
  done: () => void,
  mapError: (e: unknown) => unknown,
  count: (bytes: number) => void,
): ReadableStream<Uint8Array> {
  const chunks = fullChunks(src, progress);
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      try {
        const chunk = await chunks.next();
        if (chunk === null) {
          done();
          c.close();
          return;
        }
        count(chunk.length);
        c.enqueue(chunk);
      } catch (e) {
        done();
        c.error(e instanceof EscaleError ? e : mapError(e));
      }
    },
    async cancel(reason) {
      done();
      await chunks.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/** What fetch reads at most at once. */
const DOWNLOAD_READ = 64 * 1024;

/**
 * The chunks of an answer, each owning its bytes. Deno's fetch reads every chunk into a fresh
 * 64 KiB buffer and hands out a view of what arrived: over a real link mostly 16 or 32 KiB, so
 * a reader that keeps chunks (a download fetched ahead) held two to four times their bytes, and
 * dead buffers piled up four times faster than the data (V8 frees them late). fetch's body is a
 * byte stream, so it reads into a buffer of ours instead: a full read is handed out as it is, a
 * partial one is copied out to its size and the buffer read into again. Either way one
 * allocation of the bytes received, and each read still goes out as soon as it arrives. Other
 * bodies (node:http's) get their partly filled chunks copied.
 */
function fullChunks(
  src: ReadableStream<Uint8Array>,
  progress: () => void,
): { next(): Promise<Uint8Array | null>; cancel(reason: unknown): Promise<void> } {
  let byob: ReadableStreamBYOBReader | undefined;
  try {
    byob = src.getReader({ mode: "byob" });
  } catch {
    // not a byte stream
  }
  if (!byob) {
    const reader = src.getReader();
    return {
      async next() {
        const r = await reader.read();
        if (r.done) return null;
        progress();
        const v = r.value;
        return v.byteLength === v.buffer.byteLength ? v : v.slice();
      },
      cancel: (reason) => reader.cancel(reason).catch(() => {}),
    };
  }
  const reader = byob;
  let buf: ArrayBuffer | null = null;
  return {
    async next() {
      for (;;) {
        const r = await reader.read(new Uint8Array(buf ?? new ArrayBuffer(DOWNLOAD_READ)));
        if (r.done) return null;
        progress();
        // The read hands its buffer back (transferred), filled from the start.
        const v = r.value;
        if (v.byteLength === 0) {
          buf = v.buffer as ArrayBuffer;
          continue;
        }
        if (v.byteLength === v.buffer.byteLength) {
          buf = null;
          return v;
        }
        buf = v.buffer as ArrayBuffer;
        return v.slice();
      }
    },
    cancel: (reason) => reader.cancel(reason).catch(() => {}),
  };
}

/**
 * node:http(s): the `verifySsl: false` path (it can skip verification per agent), and stream
 * bodies of known size (it sends them with their Content-Length, which fetch cannot).
 */
function nodeTransport(
  mod: typeof http | typeof https,
  agent: http.Agent,
  url: string,
  init: TransportInit,
): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    init.headers.forEach((v, k) => (headers[k] = v));
    if (init.body instanceof Uint8Array) headers["content-length"] = String(init.body.length);
    else if (init.body && init.size !== undefined) headers["content-length"] = String(init.size);
    const req = mod.request(
      url,
      { method: init.method, headers, agent, signal: init.signal },
      (r) => {
        const h = new Headers();
        for (const [k, v] of Object.entries(r.headers)) {
          if (Array.isArray(v)) v.forEach((x) => h.append(k, x));
          else if (v !== undefined) h.set(k, String(v));
        }
        if (init.method === "HEAD") {
          r.resume();
          resolve({ status: r.statusCode ?? 0, headers: h, body: null });
          return;
        }
        const web = Readable.toWeb(r) as unknown as ReadableStream<Uint8Array>;
        resolve({ status: r.statusCode ?? 0, headers: h, body: web });
      },
    );
    req.on("error", reject);
    const body = init.body;
    if (body === undefined) req.end();
    else if (body instanceof Uint8Array) req.end(body);
    else {
      (async () => {
        for await (const chunk of body) {
          // Waiting for the socket to take each chunk keeps one chunk in memory, not the body.
          if (!req.write(chunk)) {
            await new Promise<void>((ok, ko) => {
              const onDrain = () => {
                req.off("error", onError);
                ok();
              };
              const onError = (e: Error) => {
                req.off("drain", onDrain);
                ko(e);
              };
              req.once("drain", onDrain);
              req.once("error", onError);
            });
          }
        }
        req.end();
      })().catch((e) => {
        req.destroy(e instanceof Error ? e : new Error(String(e)));
        reject(e);
      });
    }
  });
}
