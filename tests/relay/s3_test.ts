import { assert, assertEquals, assertRejects } from "../assert.ts";
import { AwsClient } from "aws4fetch";
import { conformanceSteps } from "./conformance.ts";
import { pattern, same } from "../../src/relay/conformance.ts";
import { EscaleError } from "../../src/errors/errors.ts";
import { RetryRelay } from "../../src/relay/retry_relay.ts";
import { S3Client } from "../../src/relay/s3/s3_client.ts";
import { type S3Options, S3Relay } from "../../src/relay/s3/s3_relay.ts";
import { collect, toArray, utf8 } from "../../src/util/streams.ts";
import { freePort } from "../servers/harness.ts";
import { type S3Server, startS3Server } from "../servers/s3_server.ts";

const MIB = 1024 * 1024;

function options(s: S3Server, extra: Partial<S3Options> = {}): S3Options {
  return {
    endpoint: s.endpoint,
    region: s.region,
    bucket: s.bucket,
    prefix: "relay",
    pathStyle: true,
    accessKeyId: s.accessKeyId,
    secretAccessKey: s.secretAccessKey,
    partSize: 5 * MIB,
    partRetries: 3,
    ...extra,
    timeoutMs: extra.timeoutMs ?? 30_000,
  };
}

/** Streams `data` in 100 kB chunks; runs `at(offset)` before each chunk, may fail at `failAt`. */
function chunks(
  data: Uint8Array,
  opts: { failAt?: number; at?: (offset: number) => Promise<void> } = {},
): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream({
    async pull(c) {
      await opts.at?.(off);
      if (opts.failAt !== undefined && off >= opts.failAt) {
        c.error(new Error("simulated source failure"));
        return;
      }
      if (off >= data.length) return c.close();
      c.enqueue(data.slice(off, off + 100_000));
      off += 100_000;
    },
  });
}

/** Multipart uploads still open in the bucket (each one is storage a failed write leaked). */
async function openUploads(s: S3Server): Promise<number> {
  const c = new AwsClient({ ...s, service: "s3", retries: 0 });
  const res = await c.fetch(`${s.endpoint}/${s.bucket}?uploads`);
  const text = await res.text();
  assert(res.ok, `ListMultipartUploads: ${res.status} ${text}`);
  return (text.match(/<Upload>/g) ?? []).length;
}

/**
 * A proxy in front of moto that can answer some requests itself (faults, canned S3 errors) or
 * rewrite the URL of others. moto without auth mode does not check signatures, so rewriting
 * signed requests is fine here.
 */
function startProxy(
  target: string,
  hook: (req: Request, url: URL) => Response | null,
): { endpoint: string; stop(): Promise<void> } {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    const canned = hook(req, url);
    if (canned) {
      await req.body?.cancel();
      return canned;
    }
    const headers = new Headers(req.headers);
    for (const h of ["host", "content-length", "connection", "transfer-encoding"]) {
      headers.delete(h);
    }
    let body: Uint8Array<ArrayBuffer> | undefined;
    try {
      body = req.body ? new Uint8Array(await req.arrayBuffer()) : undefined;
    } catch {
      // the client gave up on its body (a test of a refused upload)
      return new Response(null, { status: 400 });
    }
    const res = await fetch(new URL(url.pathname + url.search, target), {
      method: req.method,
      headers,
      body,
    });
    return new Response(res.body, { status: res.status, headers: res.headers });
  });
  return {
    endpoint: `http://127.0.0.1:${server.addr.port}`,
    stop: () => server.shutdown(),
  };
}

function s3Error(status: number, code: string): Response {
  return new Response(
    `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>canned ${code}</Message></Error>`,
    { status, headers: { "content-type": "application/xml" } },
  );
}

/**
 * moto honours `If-None-Match: *` one request at a time but does not serialise concurrent ones
 * (AWS does): of racing creators several may win there. The check must still fail only that way.
 */
const MOTO_LIMITS = {
  "create-if-absent is atomic: of concurrent creators exactly one wins": {
    reason: "moto does not serialise concurrent conditional PUTs",
    detail: /^\d of \d creators won/,
  },
};

Deno.test("s3 relay passes the conformance suite on moto, multipart included", async (t) => {
  const s = await startS3Server();
  try {
    await t.step("prefix relay/, part size 5 MiB", async (t) => {
      const r = await new S3Relay(options(s)).open();
      try {
        await conformanceSteps(t, r, "conformance", MOTO_LIMITS);
      } finally {
        await r.close();
      }
    });
    await t.step("bucket root, no prefix", async (t) => {
      const r = await new S3Relay(options(s, { prefix: "" })).open();
      try {
        await conformanceSteps(t, r, "root-conformance", MOTO_LIMITS);
      } finally {
        await r.close();
      }
    });
    assert((await openUploads(s)) === 0, "the conformance run left multipart uploads open");
  } finally {
    await s.stop();
  }
});

// The CLI retries a failed open on the same object (openWithRetries).
Deno.test("s3 relay: open can be retried on the same relay after a failure", async () => {
  const s = await startS3Server();
  try {
    const r = new S3Relay(options(s, { bucket: "created-later" }));
    const e = await assertRejects(() => r.open());
    assert(e instanceof EscaleError && e.kind === "not-found", `${e}`);
    const aws = new AwsClient({
      accessKeyId: s.accessKeyId,
      secretAccessKey: s.secretAccessKey,
      service: "s3",
      region: s.region,
      retries: 0,
    });
    const res = await aws.fetch(`${s.endpoint}/created-later`, { method: "PUT" });
    await res.body?.cancel();
    assert(res.ok, `creating the bucket: HTTP ${res.status}`);
    await r.open();
    await r.write("k", utf8.encode("retried"));
    assertEquals(new TextDecoder().decode(await collect(await r.read("k"))), "retried");
    await r.close();
  } finally {
    await s.stop();
  }
});

Deno.test("s3 relay multipart uploads: big objects, create-if-absent, failures", async (t) => {
  const s = await startS3Server();
  const r = await new S3Relay(options(s, { prefix: "mp" })).open();
  try {
    const data = pattern(12 * MIB + 321);
    await t.step("a 12 MiB stream goes up in three parts and comes back intact", async () => {
      await r.write("big/stream", () => chunks(data));
      const st = await r.stat("big/stream");
      assert(st?.size === data.length, `stat size ${st?.size}`);
      assert(same(await collect(await r.read("big/stream"), 64 * MIB), data), "content differs");
      const tail = await collect(await r.read("big/stream", { offset: 11 * MIB, length: 1000 }));
      assert(same(tail, data.subarray(11 * MIB, 11 * MIB + 1000)), "range across parts differs");
    });
    await t.step("a 12 MiB Uint8Array goes up in parts too", async () => {
      await r.write("big/bytes", data);
      assert(same(await collect(await r.read("big/bytes"), 64 * MIB), data), "content differs");
    });
    await t.step("create-if-absent refuses an existing key before uploading", async () => {
      const e = await assertRejects(() =>
        r.write("big/bytes", () => chunks(data), { ifAbsent: true })
      );
      assert(e instanceof EscaleError && e.kind === "exists", `got ${e}`);
    });
    await t.step("create-if-absent loses a race at completion, atomically", async () => {
      let raced = false;
      const body = chunks(data, {
        at: async (off) => {
          if (!raced && off >= 8 * MIB) {
            raced = true;
            await r.write("big/race", utf8.encode("the other writer"));
          }
        },
      });
      const e = await assertRejects(() => r.write("big/race", () => body, { ifAbsent: true }));
      assert(raced, "the competing write never ran");
      assert(e instanceof EscaleError && e.kind === "exists", `got ${e}`);
      const got = new TextDecoder().decode(await collect(await r.read("big/race")));
      assert(got === "the other writer", "the winner's content was replaced");
    });
    await t.step("a source failing mid-upload leaves no object and no open upload", async () => {
      const e = await assertRejects(() =>
        r.write("big/broken", () => chunks(data, { failAt: 7 * MIB }))
      );
      assert(e instanceof Error && e.message === "simulated source failure", `got ${e}`);
      assert((await r.stat("big/broken")) === null, "a partial object became visible");
    });
    await t.step("no multipart upload is left open", async () => {
      assert((await openUploads(s)) === 0, "uploads left open");
    });
    await t.step("listing shows whole objects only", async () => {
      const keys = (await toArray(r.list("big"))).map((e) => `${e.key}:${e.size}`).sort();
      const want = [`big/bytes:${data.length}`, "big/race:16", `big/stream:${data.length}`];
      assert(JSON.stringify(keys) === JSON.stringify(want), `listed ${keys}`);
    });
  } finally {
    await r.close();
    await s.stop();
  }
});

Deno.test("s3 relay retries parts, pages listings and maps S3 error codes", async (t) => {
  const s = await startS3Server();
  const partTries = new Map<string, number>();
  let failPart2 = 1;
  const proxy = startProxy(s.endpoint, (req, url) => {
    const part = url.searchParams.get("partNumber");
    if (req.method === "PUT" && part) {
      partTries.set(part, (partTries.get(part) ?? 0) + 1);
      if (part === "2" && failPart2-- > 0) return s3Error(503, "SlowDown");
    }
    const key = url.pathname.split("/").pop() ?? "";
    if (key === "quota") return s3Error(403, "QuotaExceeded");
    if (key === "too-large") return s3Error(400, "EntityTooLarge");
    if (key === "slow") return s3Error(503, "SlowDown");
    if (key === "denied") return s3Error(403, "AccessDenied");
    if (key === "html") return new Response("<html>bad gateway</html>", { status: 502 });
    if (url.searchParams.get("list-type") === "2") {
      // Small pages make the relay follow continuation tokens.
      url.searchParams.set("max-keys", "3");
    }
    return null;
  });
  const r = new S3Relay(options(s, { endpoint: proxy.endpoint, prefix: "faults" }));
  try {
    await t.step("a part answered SlowDown is sent again and the write succeeds", async () => {
      const data = pattern(11 * MIB, 5);
      await r.write("retried", () => chunks(data));
      assert(partTries.get("2") === 2 && partTries.get("1") === 1, `tries ${[...partTries]}`);
      assert(same(await collect(await r.read("retried"), 64 * MIB), data), "content differs");
    });
    await t.step("a part failing every time aborts the upload", async () => {
      failPart2 = 100;
      const e = await assertRejects(() => r.write("doomed", () => chunks(pattern(11 * MIB, 6))));
      assert(e instanceof EscaleError && e.kind === "unreachable", `got ${e}`);
      assert((await r.stat("doomed")) === null, "object visible");
      assert((await openUploads(s)) === 0, "the failed upload was not aborted");
      failPart2 = 0;
    });
    await t.step(
      "under the retry layer, a failing part is tried max retries + 1 times in all",
      async () => {
        // max retries = 2 for both layers, as openRelayStack sets them.
        const inner = new S3Relay(
          options(s, { endpoint: proxy.endpoint, prefix: "faults", partRetries: 2 }),
        );
        const rr = new RetryRelay(inner, { retries: 2, baseDelayMs: 1 });
        try {
          const data = pattern(11 * MIB, 7);
          for (
            const [name, size] of [["in memory", undefined], ["streamed", data.length]] as const
          ) {
            partTries.clear();
            failPart2 = 100;
            const e = await assertRejects(() =>
              rr.write(`doomed-${size}`, () => chunks(data), { size })
            );
            assert(e instanceof EscaleError && e.kind === "unreachable", `${name}: got ${e}`);
            assert(e.message.includes("still failing after 3 attempts"), `${name}: ${e.message}`);
            assertEquals(partTries.get("2"), 3, `${name}: tries of part 2`);
            assert((await rr.stat(`doomed-${size}`)) === null, `${name}: object visible`);
          }
          failPart2 = 0;
          assert((await openUploads(s)) === 0, "a failed upload was not aborted");
        } finally {
          await rr.close();
        }
      },
    );
    await t.step("S3 error codes decide the kind, not the status", async () => {
      const cases: [string, string][] = [
        ["quota", "space"],
        ["too-large", "space"],
        ["slow", "transient"],
        ["denied", "auth"],
        ["html", "transient"],
      ];
      for (const [key, kind] of cases) {
        const e = await assertRejects(() => r.write(key, utf8.encode("x")));
        assert(e instanceof EscaleError && e.kind === kind, `${key}: got ${e}`);
        assert(e.message.includes(key), `message does not name the key: ${e.message}`);
      }
    });
    await t.step("listings follow continuation tokens", async () => {
      const pr = new S3Relay(options(s, { endpoint: proxy.endpoint, prefix: "pages" }));
      const want: string[] = [];
      for (let i = 0; i < 8; i++) {
        await pr.write(`d/k${i}`, utf8.encode(String(i)));
        want.push(`d/k${i}`);
      }
      await pr.write("d/sub/deeper", utf8.encode("no"));
      const got = (await toArray(pr.list("d"))).map((e) => e.key).sort();
      assert(JSON.stringify(got) === JSON.stringify(want), `listed ${got}`);
      await pr.close();
    });
    await t.step("folder listings follow continuation tokens and decode the names", async () => {
      const pr = new S3Relay(options(s, { endpoint: proxy.endpoint, prefix: "pages" }));
      const want = ["a+b ü", ...Array.from({ length: 7 }, (_, i) => `f${i}`)];
      for (const f of want) await pr.write(`folders/${f}/x`, utf8.encode(f));
      await pr.write("folders/top", utf8.encode("a file, not a folder"));
      const got = await pr.listFolders("folders");
      assert(JSON.stringify(got) === JSON.stringify(want), `listed ${JSON.stringify(got)}`);
      await pr.close();
    });
  } finally {
    await r.close();
    await proxy.stop();
    await s.stop();
  }
});

Deno.test("s3 relay: listings asked together share their first page, and open's listing answers the detection's", async () => {
  const s = await startS3Server();
  let listings = 0;
  const proxy = startProxy(s.endpoint, (_req, url) => {
    if (url.searchParams.get("list-type") === "2") {
      listings++;
      url.searchParams.set("max-keys", "3");
    }
    return null;
  });
  const other = new S3Relay(options(s, { prefix: "shared" }));
  for (const k of ["top", "d/a", "d/b", "d/c", "d/d", "d/sub/x", "d/sub2/y"]) {
    await other.write(k, utf8.encode(k));
  }
  await other.close();
  const r = new S3Relay(options(s, { endpoint: proxy.endpoint, prefix: "shared" }));
  try {
    await r.open();
    assertEquals(listings, 1, "listings of open()");
    const [files, folders] = await Promise.all([toArray(r.list("")), r.listFolders("")]);
    assertEquals(files.map((e) => e.key), ["top"]);
    assertEquals(folders, ["d"]);
    assertEquals(listings, 1, "listings after the root's two");
    // Six entries in pages of three: the first page shared, the second asked by each.
    const [inD, underD] = await Promise.all([toArray(r.list("d")), r.listFolders("d")]);
    assertEquals(inD.map((e) => e.key).sort(), ["d/a", "d/b", "d/c", "d/d"]);
    assertEquals(underD, ["sub", "sub2"]);
    assertEquals(listings, 1 + 1 + 2, "listings after d's two");
    await r.delete("top");
    assertEquals(await toArray(r.list("")), []);
    assertEquals(listings, 5, "listings in all");
  } finally {
    await r.close();
    await proxy.stop();
    await s.stop();
  }
});

Deno.test("s3 relay streams bodies of known size: unsigned, with their length, never held", async (t) => {
  const s = await startS3Server();
  /** per PUT: key (with part number), payload hash header, Content-Length, Transfer-Encoding */
  const puts: string[] = [];
  let failParts = 0;
  const proxy = startProxy(s.endpoint, (req, url) => {
    if (req.method !== "PUT") return null;
    const part = url.searchParams.get("partNumber");
    const name = url.pathname.split("/").slice(3).join("/") + (part ? `#${part}` : "");
    puts.push(
      `${name} ${req.headers.get("x-amz-content-sha256")} ${req.headers.get("content-length")} ${
        req.headers.get("transfer-encoding")
      }`,
    );
    if (part === "2" && failParts-- > 0) return s3Error(503, "SlowDown");
    return null;
  });
  const r = new S3Relay(options(s, { endpoint: proxy.endpoint, prefix: "sized" }));
  const small = pattern(3 * MIB + 5, 8);
  const big = pattern(11 * MIB + 7, 9);
  try {
    await t.step("one part's worth is one streamed PUT with its Content-Length", async () => {
      puts.length = 0;
      await r.write("one", () => chunks(small), { size: small.length });
      assert(
        JSON.stringify(puts) === JSON.stringify([`one UNSIGNED-PAYLOAD ${small.length} null`]),
        `sent ${JSON.stringify(puts)}`,
      );
      assert(same(await collect(await r.read("one"), 64 * MIB), small), "content differs");
    });
    await t.step("a larger body goes up as streamed parts, each with its length", async () => {
      puts.length = 0;
      await r.write("many", () => chunks(big), { size: big.length });
      const want = [5 * MIB, 5 * MIB, MIB + 7].map((n, i) =>
        `many#${i + 1} UNSIGNED-PAYLOAD ${n} null`
      );
      assert(JSON.stringify(puts) === JSON.stringify(want), `sent ${JSON.stringify(puts)}`);
      assert(same(await collect(await r.read("many"), 64 * MIB), big), "content differs");
    });
    await t.step("a streamed part that fails fails the write, and nothing is left", async () => {
      failParts = 1;
      const e = await assertRejects(() =>
        r.write("failed", () => chunks(big), { size: big.length })
      );
      assert(e instanceof EscaleError && e.kind === "transient", `got ${e}`);
      assert((await r.stat("failed")) === null, "object visible");
      assert((await openUploads(s)) === 0, "the failed upload was not aborted");
    });
    await t.step("the retry layer then sends the object again from a new opening", async () => {
      failParts = 1;
      let opened = 0;
      const rr = new RetryRelay(r, { retries: 2, baseDelayMs: 1 });
      await rr.write("retried", () => (opened++, chunks(big)), { size: big.length });
      assert(opened === 2, `the body was opened ${opened} times`);
      assert(same(await collect(await r.read("retried"), 64 * MIB), big), "content differs");
    });
    await t.step(
      "a body shorter or longer than announced is refused, and nothing is left",
      async () => {
        for (
          const [key, data, size] of [
            ["short", small, small.length + 1],
            ["long", small, small.length - 1],
            ["short-parts", big, big.length + 1],
            ["long-parts", big, big.length - 1],
          ] as const
        ) {
          const e = await assertRejects(() => r.write(key, () => chunks(data), { size }));
          assert(e instanceof EscaleError && e.kind === "permanent", `${key}: got ${e}`);
          assert(e.message.includes(`${size} `), `${key}: ${e.message}`);
          assert((await r.stat(key)) === null, `${key}: object visible`);
        }
        assert((await openUploads(s)) === 0, "a refused upload was not aborted");
      },
    );
  } finally {
    await r.close();
    await proxy.stop();
    await s.stop();
  }
});

Deno.test("s3 relay failures end in one clear line of the right kind, without secrets", async (t) => {
  const messages: string[] = [];
  const secrets: string[] = [];
  const expectKind = async (p: Promise<unknown>, kind: string, ...words: string[]) => {
    const e = await assertRejects(() => p);
    assert(e instanceof EscaleError, `not an EscaleError: ${e}`);
    messages.push(e.message);
    assert(e.kind === kind, `expected ${kind}, got ${e.kind}: ${e.message}`);
    assert(!e.message.includes("\n"), `message has several lines: ${e.message}`);
    for (const w of words) assert(e.message.includes(w), `"${w}" missing from: ${e.message}`);
  };
  const s = await startS3Server({ auth: true });
  try {
    secrets.push(s.secretAccessKey);
    await t.step("the right key opens the bucket in moto's auth mode", async () => {
      const r = await new S3Relay(options(s)).open();
      // moto checks the signature of a streamed, unsigned-payload upload too.
      const data = pattern(100_000, 4);
      await r.write("sized", () => chunks(data), { size: data.length });
      assert(same(await collect(await r.read("sized")), data), "content differs");
      await r.close();
    });
    await t.step("a wrong secret key is an auth error", async () => {
      const wrong = `${s.secretAccessKey.slice(0, -4)}XXXX`;
      secrets.push(wrong);
      const r = new S3Relay(options(s, { secretAccessKey: wrong }));
      await expectKind(r.open(), "auth", "403", "access key");
      await expectKind(r.read("some/key"), "auth", "SignatureDoesNotMatch");
      await expectKind(r.write("some/key", utf8.encode("x")), "auth");
      await expectKind(r.write("some/key", () => chunks(pattern(1000)), { size: 1000 }), "auth");
      await r.close();
    });
    await t.step("an unknown access key is an auth error", async () => {
      const r = new S3Relay(options(s, { accessKeyId: "AKIANOTAREALKEY00000" }));
      await expectKind(r.open(), "auth");
      await r.close();
    });
    await t.step("a missing bucket says so", async () => {
      const r = new S3Relay(options(s, { bucket: "no-such-bucket" }));
      await expectKind(r.open(), "not-found", "bucket no-such-bucket not found");
      await r.close();
    });
  } finally {
    await s.stop();
  }
  await t.step("a refused port is transient, and unreachable after retries", async () => {
    const endpoint = `http://127.0.0.1:${freePort()}`;
    const secret = "refused-port-secret";
    secrets.push(secret);
    const r = new S3Relay({
      endpoint,
      region: "us-east-1",
      bucket: "whatever",
      prefix: "",
      pathStyle: true,
      accessKeyId: "AKIAEXAMPLE",
      secretAccessKey: secret,
      timeoutMs: 2000,
      partRetries: 2,
    });
    await expectKind(r.open(), "transient", "cannot reach the server");
    const rr = new RetryRelay(r, { retries: 2, baseDelayMs: 10 });
    await expectKind(rr.stat("k"), "unreachable", "s3://whatever/", "3 attempts");
    await r.close();
  });
  await t.step("no message carries a secret", () => {
    assert(messages.length >= 7, `only ${messages.length} messages collected`);
    if (Deno.env.get("SHOW_MESSAGES")) console.log(messages.join("\n"));
    for (const m of messages) {
      for (const secret of secrets) assert(!m.includes(secret), `secret in message: ${m}`);
    }
  });
});

Deno.test("s3 addressing: path style and virtual-host style URLs", () => {
  const base = {
    region: "eu-west-1",
    bucket: "my-bucket",
    accessKeyId: "AKIAEXAMPLE",
    secretAccessKey: "example-secret",
    label: "test",
  };
  const path = new S3Client({
    timeoutMs: 30_000,
    ...base,
    endpoint: "http://127.0.0.1:9000",
    pathStyle: true,
  });
  const vhost = new S3Client({
    timeoutMs: 30_000,
    ...base,
    endpoint: "s3.example.com",
    pathStyle: false,
  });
  try {
    const key = "pre/a b+c/ü(1)";
    assert(
      path.objectUrl(key) === "http://127.0.0.1:9000/my-bucket/pre/a%20b%2Bc/%C3%BC%281%29",
      path.objectUrl(key),
    );
    assert(
      vhost.objectUrl(key).startsWith("https://my-bucket.s3.example.com/pre/"),
      vhost.objectUrl(key),
    );
    assert(
      path.bucketUrl({ "list-type": "2", prefix: "a b/" }) ===
        "http://127.0.0.1:9000/my-bucket?list-type=2&prefix=a%20b%2F",
      path.bucketUrl({ prefix: "x" }),
    );
    assert(
      vhost.objectUrl("k", { uploads: "" }) === "https://my-bucket.s3.example.com/k?uploads",
      "query",
    );
  } finally {
    path.close();
    vhost.close();
  }
});
