import { RelayError } from "../../errors/errors.ts";
import { type RetryOptions, withRetries } from "../retry_relay.ts";
import type { PartReader } from "./part_reader.ts";
import type { S3Client } from "./s3_client.ts";

/** S3 accepts at most this many parts in one upload. */
export const MAX_PARTS = 10_000;

export interface MultipartJob {
  s3: S3Client;
  /** full object key (prefix included) and the relay key used in messages */
  fullKey: string;
  key: string;
  /** the first part, already read, and the reader that yields the rest */
  first: { data: Uint8Array; last: boolean };
  parts: PartReader;
  /** parts uploading at once; memory is partSize × (inflight + 1) */
  inflight: number;
  ifAbsent: boolean;
  retry: RetryOptions;
  signal?: AbortSignal;
}

/**
 * Uploads an object in parts: CreateMultipartUpload, parts sent a few at a time while the next
 * one is read, each part retried on transient failures (a part is in memory, so it can be sent
 * again), then CompleteMultipartUpload, which carries `If-None-Match: *` for a create-if-absent
 * write. Any failure aborts the upload so that no invisible parts linger and cost storage.
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
      total += part.data.length;
      const p = uploadPart(job, uploadId, n, part.data)
        .then((etag) => void (etags[n - 1] = etag))
        .catch((e) => void (failure ??= e));
      running.add(p);
      void p.finally(() => running.delete(p));
      if (part.last) break;
      while (running.size >= job.inflight && failure === undefined) await Promise.race(running);
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
  data: Uint8Array,
): Promise<string> {
  const { s3, fullKey, key } = job;
  const what = `writing ${key} (part ${n})`;
  return await withRetries(what, async () => {
    const url = s3.objectUrl(fullKey, { partNumber: String(n), uploadId });
    const res = await s3.send("PUT", url, { body: data, what, key, signal: job.signal });
    if (res.status !== 200) throw await s3.fail(res, what, key);
    await s3.discard(res);
    const etag = res.headers.get("etag");
    if (!etag) throw s3.http.error("permanent", what, "the server gave no ETag for the part", key);
    return etag;
  }, { ...job.retry, signal: job.signal });
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
  await withRetries(what, async (attempt) => {
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
  }, { ...job.retry, signal: job.signal });
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
    // Best effort: a bucket lifecycle rule is the safety net for uploads that cannot be aborted.
  }
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}
