import { isTransient, oneLine, RelayError } from "../../errors/errors.ts";
import { type RetryOptions, withRetries } from "../retry_relay.ts";
import type { StreamPart } from "./part_streams.ts";
import type { S3Client } from "./s3_client.ts";

/** S3 accepts at most this many parts in one upload. */
export const MAX_PARTS = 10_000;

/** A part in memory (it can be sent again), or one streamed from the source (sent once). */
export type UploadPart = { data: Uint8Array; last: boolean } | StreamPart;

export interface MultipartJob {
  s3: S3Client;
  /** full object key (prefix included) and the relay key used in messages */
  fullKey: string;
  key: string;
  /** the first part, already cut, and what cuts the rest */
  first: UploadPart;
  parts: {
    partSize: number;
    next(): UploadPart | Promise<UploadPart>;
    cancel(reason?: unknown): Promise<void>;
  };
  /** parts in memory uploading at once; memory is partSize × (inflight + 1) */
  inflight: number;
  ifAbsent: boolean;
  retry: RetryOptions;
  signal?: AbortSignal;
}

/**
 * Uploads an object in parts: CreateMultipartUpload, the parts, then CompleteMultipartUpload,
 * which carries `If-None-Match: *` for a create-if-absent write. Parts in memory are sent a few at
 * a time while the next one is read, each retried on transient failures; streamed parts go one
 * after another as the source is read, and the first failure of one fails the upload (the retry
 * layer above sends the object again from a fresh opening of its body). Any failure aborts the
 * upload so that no invisible parts linger and cost storage.
 *
 * A part or completion retried here that still fails is marked `retried`, so that the retry layer
 * above does not send the object again: every request is tried at most `max retries` + 1 times,
 * never that many times per attempt of the object.
 */
export async function uploadMultipart(job: MultipartJob): Promise<void> {
  const { s3, fullKey, key } = job;
  const what = `writing ${key}`;
  const created = await s3.send("POST", s3.objectUrl(fullKey, { uploads: "" }), {
    headers: { "content-type": "application/octet-stream" },
    what,
    key,
    signal: job.signal,
  });
  if (created.status !== 200) throw await s3.fail(created, what, key);
  const uploadId = (await s3.xml(created, what)).text("UploadId");
  if (!uploadId) throw s3.http.error("permanent", what, "the server gave no upload id", key);

  const etags: string[] = [];
  const running = new Set<Promise<void>>();
  let failure: unknown;
  let total = 0;
  try {
    let part = job.first;
    for (let n = 1;; n++) {
      if (n > MAX_PARTS) {
        throw s3.http.error(
          "permanent",
          what,
          `the object needs more than ${MAX_PARTS} parts of ${job.parts.partSize} bytes`,
          key,
        );
      }
      total += "data" in part ? part.data.length : part.size;
      const p = uploadPart(job, uploadId, n, part)
        .then((etag) => void (etags[n - 1] = etag))
        .catch((e) => void (failure ??= e));
      running.add(p);
      void p.finally(() => running.delete(p));
      if (part.last) break;
      // A streamed part must be read to its end before the next one can be cut from the source.
      const inflight = "data" in part ? job.inflight : 1;
      while (running.size >= inflight && failure === undefined) await Promise.race(running);
      if (failure !== undefined) break;
      part = await job.parts.next();
    }
    await Promise.all(running);
    if (failure !== undefined) throw failure;
    await complete(job, uploadId, etags, total);
  } catch (e) {
    await Promise.all(running);
    await job.parts.cancel(e);
    await abort(job, uploadId);
    throw e;
  }
}

async function uploadPart(
  job: MultipartJob,
  uploadId: string,
  n: number,
  part: UploadPart,
): Promise<string> {
  const { s3, fullKey, key } = job;
  const what = `writing ${key} (part ${n})`;
  const send = async () => {
    const url = s3.objectUrl(fullKey, { partNumber: String(n), uploadId });
    const body = "data" in part ? part.data : { stream: part.stream, size: part.size };
    const res = await s3.send("PUT", url, { body, what, key, signal: job.signal });
    if (res.status !== 200) throw await s3.fail(res, what, key);
    await s3.discard(res);
    const etag = res.headers.get("etag");
    if (!etag) throw s3.http.error("permanent", what, "the server gave no ETag for the part", key);
    return etag;
  };
  // A streamed part cannot be read again; its failure is the upload's (see above).
  if (!("data" in part)) return await send();
  return await retriedHere(job, what, send);
}

/** `fn` with the part's retries; a transient failure that outlives them is final (see above). */
async function retriedHere<T>(
  job: MultipartJob,
  what: string,
  fn: (attempt: number) => Promise<T>,
): Promise<T> {
  let attempts = 0;
  try {
    return await withRetries(what, (attempt) => {
      attempts = attempt;
      return fn(attempt);
    }, { ...job.retry, signal: job.signal });
  } catch (e) {
    if (!isTransient(e) || job.signal?.aborted) throw e;
    const err = e as RelayError;
    const tries = attempts === 1 ? "1 attempt" : `${attempts} attempts`;
    throw new RelayError(
      "unreachable",
      `${oneLine(err.message)} (still failing after ${tries})`,
      err.key,
      {
        cause: e,
        retried: true,
      },
    );
  }
}

async function complete(
  job: MultipartJob,
  uploadId: string,
  etags: string[],
  total: number,
): Promise<void> {
  const { s3, fullKey, key } = job;
  const what = `writing ${key} (completing the upload)`;
  const body = new TextEncoder().encode(
    "<CompleteMultipartUpload>" +
      etags.map((e, i) =>
        `<Part><PartNumber>${i + 1}</PartNumber><ETag>${xmlEscape(e)}</ETag></Part>`
      )
        .join("") +
      "</CompleteMultipartUpload>",
  );
  const headers: Record<string, string> = { "content-type": "application/xml" };
  if (job.ifAbsent) headers["if-none-match"] = "*";
  await retriedHere(job, what, async (attempt) => {
    const res = await s3.send("POST", s3.objectUrl(fullKey, { uploadId }), {
      headers,
      body,
      what,
      key,
      signal: job.signal,
    });
    if (res.status === 412) {
      await s3.discard(res);
      throw new RelayError("exists", `${s3.label}: ${key}: already exists on relay`, key);
    }
    // An earlier attempt may have completed the upload before its answer was lost.
    if (res.status === 404 && attempt > 1 && (await landed(job, total))) {
      await s3.discard(res);
      return;
    }
    if (res.status !== 200) throw await s3.fail(res, what, key);
    // S3 can fail a completion after it has sent "200 OK": the error is then in the body.
    const doc = await s3.xml(res, what);
    if (doc.name === "Error") {
      throw s3.errorFor(500, doc.text("Code"), doc.text("Message"), what, key);
    }
  });
}

async function landed(job: MultipartJob, total: number): Promise<boolean> {
  const res = await job.s3.send("HEAD", job.s3.objectUrl(job.fullKey), {
    what: `checking ${job.key}`,
    key: job.key,
  });
  await job.s3.discard(res);
  return res.status === 200 && Number(res.headers.get("content-length")) === total;
}

async function abort(job: MultipartJob, uploadId: string): Promise<void> {
  try {
    const res = await job.s3.send("DELETE", job.s3.objectUrl(job.fullKey, { uploadId }), {
      what: `abandoning the upload of ${job.key}`,
      key: job.key,
    });
    await job.s3.discard(res);
  } catch {
    // Best effort (and a killed process never gets here): `escale fix` aborts the uploads left
    // open (S3Relay.listUploads), and a bucket lifecycle rule can too.
  }
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}
