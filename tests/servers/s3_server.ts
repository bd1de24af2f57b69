/**
 * A real S3 endpoint for tests: moto_server on a random loopback port with one bucket. Objects
 * live in moto's memory; the temporary folder only holds its log and goes away on `stop`.
 *
 * moto checks signatures only in its IAM auth mode (`auth: true`), where the first three requests
 * are free: we spend them minting a user, an access key and an allow-all policy. That mode breaks
 * ListObjectsV2 with prefix or delimiter (moto 5.2 answers SignatureDoesNotMatch), so it is only
 * good for wrong-credential tests. Readiness is a TCP connect, never an HTTP probe, which would use
 * up one of the free requests.
 */
import { AwsClient } from "aws4fetch";
import { freePort, spawnServer, waitForPort } from "./harness.ts";

export interface S3Server {
  endpoint: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  stop(): Promise<void>;
}

export async function startS3Server(
  opts: { bucket?: string; auth?: boolean } = {},
): Promise<S3Server> {
  const bucket = opts.bucket ?? "escale-test";
  const region = "us-east-1";
  const dir = await Deno.makeTempDir({ prefix: "escale-s3-" });
  const port = freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const env: Record<string, string> = {};
  if (opts.auth) env.INITIAL_NO_AUTH_ACTION_COUNT = "3";
  let proc: ReturnType<typeof spawnServer>;
  try {
    proc = spawnServer("moto_server", ["-H", "127.0.0.1", "-p", String(port)], {
      env,
      log: `${dir}/moto.log`,
    });
  } catch (e) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw new Error(`cannot start moto_server (is moto installed?): ${e}`);
  }
  const fail = async (e: unknown): Promise<never> => {
    await proc.stop();
    const log = await Deno.readTextFile(`${dir}/moto.log`).catch(() => "");
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw new Error(`moto_server: ${e instanceof Error ? e.message : e}\n${log.slice(-2000)}`);
  };
  try {
    await waitForPort(port, proc.child, 30_000);
    let accessKeyId = "test";
    let secretAccessKey = "testsecret";
    if (opts.auth) [accessKeyId, secretAccessKey] = await mintIamKey(endpoint, region);
    const s3 = new AwsClient({ accessKeyId, secretAccessKey, service: "s3", region, retries: 0 });
    const res = await s3.fetch(`${endpoint}/${bucket}`, { method: "PUT" });
    const text = await res.text();
    if (!res.ok) throw new Error(`creating bucket ${bucket}: HTTP ${res.status} ${text}`);
    return {
      endpoint,
      region,
      bucket,
      accessKeyId,
      secretAccessKey,
      async stop() {
        await proc.stop();
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      },
    };
  } catch (e) {
    return await fail(e);
  }
}

/** Uses moto's three unauthenticated requests to create a user with a key allowed to do anything. */
async function mintIamKey(endpoint: string, region: string): Promise<[string, string]> {
  const iam = new AwsClient({
    accessKeyId: "bootstrap",
    secretAccessKey: "bootstrap",
    service: "iam",
    region,
    retries: 0,
  });
  const call = async (params: Record<string, string>): Promise<string> => {
    const res = await iam.fetch(`${endpoint}/`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ ...params, Version: "2010-05-08" }).toString(),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`IAM ${params.Action}: HTTP ${res.status} ${text}`);
    return text;
  };
  await call({ Action: "CreateUser", UserName: "tester" });
  const created = await call({ Action: "CreateAccessKey", UserName: "tester" });
  const id = /<AccessKeyId>([^<]+)<\/AccessKeyId>/.exec(created)?.[1];
  const secret = /<SecretAccessKey>([^<]+)<\/SecretAccessKey>/.exec(created)?.[1];
  if (!id || !secret) throw new Error(`IAM CreateAccessKey answered without a key: ${created}`);
  await call({
    Action: "PutUserPolicy",
    UserName: "tester",
    PolicyName: "all",
    PolicyDocument: JSON.stringify({
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }],
    }),
  });
  return [id, secret];
}
