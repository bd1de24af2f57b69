import { assert, assertEquals } from "../assert.ts";
import { AwsClient } from "aws4fetch";
import { fixRelay, TEMP_AGE_MS } from "../../src/maintenance/fix_relay.ts";
import { FORMAT_NAME, FORMAT_VERSION, HEADER_KEY } from "../../src/protocol/format.ts";
import { InterruptibleRelay } from "../../src/relay/interruptible_relay.ts";
import type { Relay } from "../../src/relay/relay.ts";
import { RetryRelay } from "../../src/relay/retry_relay.ts";
import { S3Relay } from "../../src/relay/s3/s3_relay.ts";
import { type S3Server, startS3Server } from "../servers/s3_server.ts";

/** Begins a multipart upload of `fullKey` and sends one part, as a writer killed then would. */
async function beginUpload(s: S3Server, fullKey: string, bytes: number): Promise<string> {
  const c = new AwsClient({ ...s, service: "s3", retries: 0 });
  const base = `${s.endpoint}/${s.bucket}/${fullKey}`;
  const created = await c.fetch(`${base}?uploads`, { method: "POST" });
  const text = await created.text();
  assert(created.ok, `CreateMultipartUpload: ${created.status} ${text}`);
  const id = /<UploadId>([^<]+)<\/UploadId>/.exec(text)![1];
  const part = await c.fetch(`${base}?partNumber=1&uploadId=${encodeURIComponent(id)}`, {
    method: "PUT",
    body: new Uint8Array(bytes),
  });
  await part.body?.cancel();
  assert(part.ok, `UploadPart: ${part.status}`);
  return id;
}

/** The keys of the multipart uploads open in the bucket. */
async function openUploads(s: S3Server): Promise<string[]> {
  const c = new AwsClient({ ...s, service: "s3", retries: 0 });
  const res = await c.fetch(`${s.endpoint}/${s.bucket}?uploads`);
  const text = await res.text();
  assert(res.ok, `ListMultipartUploads: ${res.status} ${text}`);
  return [...text.matchAll(/<Key>([^<]+)<\/Key>/g)].map((m) => m[1]).sort();
}

Deno.test("fix on S3 (moto): aborts the unfinished multipart upload of a killed writer once it is stale, in --dry-run it only reports it", async () => {
  const s = await startS3Server();
  const s3 = await new S3Relay({
    endpoint: s.endpoint,
    region: s.region,
    bucket: s.bucket,
    prefix: "relay",
    pathStyle: true,
    accessKeyId: s.accessKeyId,
    secretAccessKey: s.secretAccessKey,
    timeoutMs: 30_000,
    partRetries: 1,
  }).open();
  // As the commands see it: through the retries and the interruption.
  const relay: Relay = new InterruptibleRelay(
    new RetryRelay(s3, { retries: 1 }),
    new AbortController().signal,
  );
  try {
    const relayId = new Date().toISOString();
    const header = {
      format: FORMAT_NAME,
      version: FORMAT_VERSION,
      created: relayId,
      encryption: null,
    };
    await relay.write(HEADER_KEY, new TextEncoder().encode(JSON.stringify(header)));
    const killed = "data/00000000000000ab-0000000007-0000";
    const id = await beginUpload(s, `relay/${killed}`, 1000);
    await beginUpload(s, "relay/notes/not-ours.iso", 10); // under the prefix, no relay object
    await beginUpload(s, "elsewhere/data/x", 10); // another application's, outside the prefix

    const uploads = await s3.listUploads();
    assertEquals(uploads.map((u) => [u.key, u.id, u.size]).sort(), [
      [killed, id, 1000],
      ["notes/not-ours.iso", uploads.find((u) => u.key.startsWith("notes/"))!.id, 10],
    ]);
    const fix = (dryRun: boolean, later: number) =>
      fixRelay({
        relay,
        enc: { mode: "none" },
        local: { relayId, me: "", registered: false, records: [] },
        openRepository: () => {
          throw new Error("no rebuild here");
        },
        owner: "test fix",
        dryRun,
        now: () => Date.now() + later,
      });
    // Its last part was just written: it may be a writer still uploading.
    assertEquals((await fix(true, 0)).plan.uploads, []);
    assertEquals((await fix(false, 0)).plan.uploads, []);
    assertEquals((await openUploads(s)).length, 3);

    const stale = TEMP_AGE_MS + 60_000;
    const dry = (await fix(true, stale)).plan;
    assertEquals(dry.uploads.map((u) => [u.key, u.id, u.size]), [[killed, id, 1000]]);
    assertEquals((await openUploads(s)).length, 3, "--dry-run aborted an upload");
    const done = (await fix(false, stale)).plan;
    assertEquals(done.uploads.map((u) => u.key), [killed]);
    assertEquals(await openUploads(s), ["elsewhere/data/x", "relay/notes/not-ours.iso"]);
    assertEquals((await fix(true, stale)).plan.uploads, []);
    assert(await relay.stat(HEADER_KEY), "the relay itself was touched");
  } finally {
    await relay.close();
    await s.stop();
  }
});
