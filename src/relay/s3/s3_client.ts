import { createHash } from "node:crypto";
import { AwsV4Signer } from "aws4fetch";
import { type ErrorKind, RelayError } from "../../errors/errors.ts";
import { type HttpResponse, HttpSession, statusKind } from "../http_client.ts";
import { S3Xml } from "./s3_xml.ts";

export interface S3ClientOptions {
  endpoint: string;
  region: string;
  bucket: string;
  pathStyle: boolean;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  caFile?: string;
  verifySsl?: boolean;
  timeoutMs: number;
  parallel?: number;
  /** how messages name the relay */
  label: string;
}

export interface SizedStream {
  stream: ReadableStream<Uint8Array>;
  size: number;
}

export interface S3Request {
  headers?: Record<string, string>;
  /** S3 needs a length on every upload: bytes, or a stream with its size */
  body?: Uint8Array | SizedStream;
  signal?: AbortSignal;
  what: string;
  key?: string;
}

/**
 * The S3 wire protocol under the relay: addressing (path-style or virtual-host), SigV4 signing
 * with aws4fetch, and the mapping of S3's XML error codes to the shared error kinds. Bodies in
 * memory are signed with their SHA-256, so the server rejects anything damaged on the way.
 * Stream bodies are sent as `UNSIGNED-PAYLOAD` (S3 accepts it for PutObject and UploadPart): the
 * hash would be needed before the first byte, and reading a body twice is not possible when its
 * every opening is sealed anew (encryption). TLS guards them on the way, and readers check the
 * content hash of everything they apply.
 */
export class S3Client {
  readonly label: string;
  readonly bucket: string;
  readonly http: HttpSession;
  readonly #bucketBase: string;
  readonly #pathStyle: boolean;
  readonly #creds: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  readonly #region: string;
  /** derived signing keys, reused for the day they are valid */
  readonly #signingKeys = new Map<string, ArrayBuffer>();

  constructor(opts: S3ClientOptions) {
    this.label = opts.label;
    this.bucket = opts.bucket;
    this.#pathStyle = opts.pathStyle;
    this.#region = opts.region;
    this.#creds = {
      accessKeyId: opts.accessKeyId,
      secretAccessKey: opts.secretAccessKey,
      sessionToken: opts.sessionToken,
    };
    let ep: URL;
    try {
      ep = new URL(opts.endpoint.includes("://") ? opts.endpoint : `https://${opts.endpoint}`);
    } catch {
      throw new RelayError("config", `invalid S3 endpoint ${JSON.stringify(opts.endpoint)}`);
    }
    if (ep.protocol !== "http:" && ep.protocol !== "https:") {
      throw new RelayError("config", `S3 endpoint must start with http:// or https://`);
    }
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(opts.bucket)) {
      throw new RelayError("config", `invalid S3 bucket name ${JSON.stringify(opts.bucket)}`);
    }
    const path = ep.pathname.replace(/\/+$/, "");
    this.#bucketBase = opts.pathStyle
      ? `${ep.protocol}//${ep.host}${path}/${opts.bucket}/`
      : `${ep.protocol}//${opts.bucket}.${ep.host}${path}/`;
    this.http = new HttpSession(this.#bucketBase, {
      label: opts.label,
      caFile: opts.caFile,
      verifySsl: opts.verifySsl,
      timeoutMs: opts.timeoutMs,
      parallel: opts.parallel,
      secrets: [opts.secretAccessKey, ...(opts.sessionToken ? [opts.sessionToken] : [])],
    });
  }

  /** URL of an object (full key, prefix included) with an optional sub-resource query. */
  objectUrl(fullKey: string, query?: Record<string, string>): string {
    return this.#bucketBase + fullKey.split("/").map(rfc3986).join("/") + queryString(query);
  }

  /** URL of the bucket itself, for HeadBucket and ListObjectsV2. */
  bucketUrl(query?: Record<string, string>): string {
    const base = this.#pathStyle ? this.#bucketBase.slice(0, -1) : this.#bucketBase;
    return base + queryString(query);
  }

  async send(method: string, url: string, req: S3Request): Promise<HttpResponse> {
    const headers = new Headers(req.headers);
    const bytes = req.body instanceof Uint8Array ? req.body : undefined;
    const sized = req.body instanceof Uint8Array ? undefined : req.body;
    if (sized) headers.set("x-amz-content-sha256", "UNSIGNED-PAYLOAD");
    else if (bytes) {
      headers.set("x-amz-content-sha256", createHash("sha256").update(bytes).digest("hex"));
    }
    const signed = await new AwsV4Signer({
      method,
      url,
      headers,
      ...this.#creds,
      service: "s3",
      region: this.#region,
      cache: this.#signingKeys,
    }).sign();
    return await this.http.request(url, {
      method,
      headers: signed.headers,
      body: sized ? sized.stream : bytes,
      size: sized?.size,
      signal: req.signal,
      what: req.what,
      key: req.key,
    });
  }

  /** Reads and parses an XML answer (listings, upload ids); at most 16 MiB. */
  async xml(res: HttpResponse, what: string): Promise<S3Xml> {
    const text = await this.http.text(res, what);
    try {
      return S3Xml.parse(text);
    } catch (e) {
      throw this.http.error("permanent", what, `unreadable answer: ${(e as Error).message}`);
    }
  }

  discard(res: HttpResponse): Promise<void> {
    return this.http.discard(res);
  }

  /** The error for an answer the caller did not expect, from S3's XML error code when present. */
  async fail(res: HttpResponse, what: string, key?: string): Promise<RelayError> {
    let code = "";
    let message = "";
    if (res.body) {
      try {
        const doc = S3Xml.parse(await this.http.text(res, what, 64 * 1024));
        if (doc.name === "Error") {
          code = doc.text("Code");
          message = doc.text("Message");
        }
      } catch {
        // not an S3 error document (a proxy's HTML page, say): the status alone must do
      }
    }
    return this.errorFor(res.status, code, message, what, key, res.headers);
  }

  /** An error from a status and an S3 error code (also used for errors inside 200 answers). */
  errorFor(
    status: number,
    code: string,
    message: string,
    what: string,
    key?: string,
    headers?: Headers,
  ): RelayError {
    const kind = codeKind(code) ?? statusKind(status);
    let reason = code ? `${code} (HTTP ${status})` : `HTTP ${status}`;
    if (kind === "auth") reason += ": check the access key and secret key";
    if (status === 301 || code === "PermanentRedirect" || code === "AuthorizationHeaderMalformed") {
      const region = headers?.get("x-amz-bucket-region");
      reason += region
        ? `: the bucket is in region ${region}`
        : ": check the endpoint, region and addressing style";
    }
    // S3's own wording helps with odd codes; for credentials our hint says it better.
    if (message && message.length <= 200 && kind !== "auth") reason += `: ${message}`;
    return this.http.error(kind, what, reason, key);
  }

  close(): void {
    this.http.close();
  }
}

const CODE_KIND: Record<string, ErrorKind> = {
  NoSuchKey: "not-found",
  NoSuchBucket: "not-found",
  NoSuchUpload: "not-found",
  AccessDenied: "auth",
  InvalidAccessKeyId: "auth",
  SignatureDoesNotMatch: "auth",
  ExpiredToken: "auth",
  InvalidToken: "auth",
  TokenRefreshRequired: "auth",
  AllAccessDisabled: "auth",
  SlowDown: "transient",
  InternalError: "transient",
  ServiceUnavailable: "transient",
  RequestTimeout: "transient",
  OperationAborted: "transient",
  ConditionalRequestConflict: "transient",
  EntityTooLarge: "space",
  QuotaExceeded: "space",
  XMinioStorageFull: "space",
  StorageFull: "space",
  PreconditionFailed: "exists",
};

function codeKind(code: string): ErrorKind | undefined {
  return Object.hasOwn(CODE_KIND, code) ? CODE_KIND[code] : undefined;
}

/** Percent-encodes like SigV4's canonical form, so that what we send is what we signed. */
function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(
    /[!'()*]/g,
    (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase(),
  );
}

function queryString(query?: Record<string, string>): string {
  if (!query) return "";
  const parts = Object.entries(query).map((
    [k, v],
  ) => (v === "" ? rfc3986(k) : `${rfc3986(k)}=${rfc3986(v)}`));
  return parts.length ? `?${parts.join("&")}` : "";
}
