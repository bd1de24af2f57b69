import { assert, failure } from "../assert.ts";
import { conformanceSteps } from "./conformance.ts";
import { RelayError } from "../../src/errors/errors.ts";
import { MemoryRelay } from "../../src/relay/memory_relay.ts";
import type { Body, ReadOptions, RelayEntry, WriteOptions } from "../../src/relay/relay.ts";
import { backoffDelay, RetryRelay, withRetries } from "../../src/relay/retry_relay.ts";
import { EncryptedRelay } from "../../src/crypto/encrypted_relay.ts";
import { testKeys } from "../crypto/helpers.ts";
import { bytesStream, collect, toArray, utf8 } from "../../src/util/streams.ts";

type Op = "list" | "stat" | "read" | "write" | "delete";

/**
 * A memory relay that fails the next N calls of an operation with an error of a chosen kind.
 * `landFirst` makes a failing write take effect before it throws: the answer was lost,
 * not the request.
 */
class FlakyRelay extends MemoryRelay {
  readonly calls: Record<Op, number> = {
    list: 0,
    stat: 0,
    read: 0,
    write: 0,
    delete: 0,
  };
  failures: Partial<Record<Op, number>> = {};
  kind: "transient" | "auth" | "unreachable" = "transient";
  landFirst = false;
  /** list yields this many entries before its failure; read delivers this many bytes before */
  breakAfter = 0;

  constructor() {
    super("flaky-memory");
  }

  #fail(op: Op): boolean {
    this.calls[op]++;
    const left = this.failures[op] ?? 0;
    if (left <= 0) return false;
    this.failures[op] = left - 1;
    return true;
  }

  #error(op: Op): RelayError {
    return new RelayError(this.kind, `${this.name}: ${op}: simulated ${this.kind} failure`);
  }

  override async *list(dir: string): AsyncIterable<RelayEntry> {
    const failing = this.#fail("list");
    let n = 0;
    for await (const e of super.list(dir)) {
      if (failing && n++ >= this.breakAfter) throw this.#error("list");
      yield e;
    }
    if (failing) throw this.#error("list");
  }

  override stat(key: string): Promise<RelayEntry | null> {
    if (this.#fail("stat")) return Promise.reject(this.#error("stat"));
    return super.stat(key);
  }

  override async read(key: string, opts?: ReadOptions): Promise<ReadableStream<Uint8Array>> {
    const failing = this.#fail("read");
    if (failing && this.breakAfter === 0) throw this.#error("read");
    const data = await collect(await super.read(key, opts));
    if (!failing) return bytesStream(data);
    // Deliver some bytes, then break off like a dropped connection.
    const head = data.slice(0, this.breakAfter);
    const err = this.#error("read");
    let sent = false;
    return new ReadableStream({
      pull(c) {
        if (!sent) {
          sent = true;
          c.enqueue(head);
        } else c.error(err);
      },
    });
  }

  override async write(key: string, body: Body, opts?: WriteOptions): Promise<void> {
    if (this.#fail("write")) {
      if (this.landFirst) await super.write(key, body, opts);
      throw this.#error("write");
    }
    return super.write(key, body, opts);
  }

  override async delete(key: string): Promise<void> {
    if (this.#fail("delete")) throw this.#error("delete");
    return await super.delete(key);
  }
}

function wrap(inner: FlakyRelay, retried: [string, number][] = []): RetryRelay {
  return new RetryRelay(inner, {
    retries: 3,
    baseDelayMs: 1,
    maxDelayMs: 5,
    onRetry: (what, attempt) => retried.push([what, attempt]),
  });
}

Deno.test("retry relay passes the conformance suite around a flawless relay", async (t) => {
  await conformanceSteps(t, wrap(new FlakyRelay()));
});

Deno.test("retry relay retries transient failures with backoff and reports each retry", async () => {
  const inner = new FlakyRelay();
  const retried: [string, number][] = [];
  const r = wrap(inner, retried);
  await inner.write("a", utf8.encode("aa"));
  inner.failures = { stat: 2, delete: 3 };
  const st = await r.stat("a");
  assert(st?.size === 2, "stat result");
  assert(inner.calls.stat === 3, `stat called ${inner.calls.stat} times`);
  assert(
    JSON.stringify(retried) === '[["checking a",1],["checking a",2]]',
    JSON.stringify(retried),
  );
  await r.delete("a");
  assert(inner.calls.delete === 4 && !inner.objects.has("a"), "delete after three failures");
});

Deno.test("retry relay never retries permanent kinds", async () => {
  const inner = new FlakyRelay();
  const r = wrap(inner);
  inner.kind = "auth";
  inner.failures = { stat: 5 };
  const e = await failure(r.stat("a"));
  assert(e.kind === "auth" && inner.calls.stat === 1, `kind ${e.kind}, ${inner.calls.stat} calls`);
  const missing = await failure(r.read("nothing"));
  assert(missing.kind === "not-found" && inner.calls.read === 1, "not-found was retried");
});

Deno.test("retry relay turns exhausted transient failures into one unreachable error", async () => {
  const inner = new FlakyRelay();
  const r = wrap(inner);
  inner.failures = { stat: 10 };
  const e = await failure(r.stat("a"));
  assert(e.kind === "unreachable", `kind ${e.kind}`);
  assert(e.message.includes("flaky-memory"), `message does not name the relay: ${e.message}`);
  assert(e.message.includes("4 attempts") && !e.message.includes("\n"), e.message);
  assert(inner.calls.stat === 4, `${inner.calls.stat} calls`);
});

Deno.test("retry backoff doubles its ceiling per attempt and never exceeds maxDelayMs", () => {
  for (let attempt = 1; attempt <= 40; attempt++) {
    for (let i = 0; i < 50; i++) {
      const d = backoffDelay(attempt, { retries: 40, baseDelayMs: 1, maxDelayMs: 5 });
      assert(d >= 0 && d <= Math.min(5, 2 ** (attempt - 1)), `attempt ${attempt}: ${d} ms`);
      const dflt = backoffDelay(attempt, { retries: 40 });
      assert(dflt >= 0 && dflt <= Math.min(10_000, 200 * 2 ** (attempt - 1)), `default: ${dflt}`);
    }
  }
});

Deno.test("retry relay replays every body, a fresh stream per attempt, honouring its retries", async () => {
  const inner = new FlakyRelay();
  const r = wrap(inner);
  inner.failures = { write: 2 };
  await r.write("bytes", utf8.encode("replayable"));
  assert(inner.calls.write === 3 && inner.objects.has("bytes"), "byte write not retried");
  inner.failures = { write: 2 };
  const opened = { n: 0 };
  await r.write("stream", () => {
    opened.n++;
    return bytesStream(utf8.encode("streamed"));
  });
  const got = new TextDecoder().decode(await collect(await r.read("stream")));
  assert(got === "streamed" && opened.n === 1, `${got}, opened ${opened.n} times`);
  const landed = { n: 0 };
  inner.landFirst = true;
  inner.failures = { write: 2 };
  await r.write("landed", () => {
    landed.n++;
    return bytesStream(utf8.encode("twice"));
  });
  assert(landed.n === 3, `a stream body was opened ${landed.n} times for 3 attempts`);
  inner.landFirst = false;
  inner.failures = { write: 4 };
  const e = await failure(r.write("doomed", () => bytesStream(utf8.encode("x"))));
  assert(e.kind === "unreachable" && e.message.includes("4 attempts"), e.message);
});

Deno.test("retry under encryption: a relay that fails once accepts an encrypted commit and client record", async () => {
  const inner = new FlakyRelay();
  const relay = new EncryptedRelay(wrap(inner), await testKeys());
  inner.failures = { write: 1 };
  await relay.write("commits/c1", utf8.encode("a commit"), { ifAbsent: true });
  inner.failures = { write: 1 };
  await relay.write("clients/a", utf8.encode("a record"));
  // The first attempt landed but its answer was lost: the retry recognises its own object.
  inner.landFirst = true;
  inner.failures = { write: 1 };
  await relay.write("commits/c2", utf8.encode("another"), { ifAbsent: true });
  for (
    const [k, want] of [["commits/c1", "a commit"], ["clients/a", "a record"], [
      "commits/c2",
      "another",
    ]]
  ) {
    const got = new TextDecoder().decode(await collect(await relay.read(k)));
    assert(got === want, `${k}: ${got}`);
  }
  assert(inner.calls.write === 6, `${inner.calls.write} writes`);
});

Deno.test("retry relay: a create-if-absent whose answer was lost still succeeds", async () => {
  const inner = new FlakyRelay();
  const r = wrap(inner);
  inner.landFirst = true;
  inner.failures = { write: 1 };
  await r.write("lock", utf8.encode("mine"), { ifAbsent: true });
  assert(inner.calls.write === 2, `${inner.calls.write} calls`);
  // Someone else's object under the key is still a real "exists".
  inner.landFirst = false;
  await inner.write("taken", utf8.encode("theirs"));
  inner.failures = { write: 1 };
  const e = await failure(r.write("taken", utf8.encode("mine"), { ifAbsent: true }));
  assert(e.kind === "exists", `kind ${e.kind}`);
});

Deno.test("retry relay resumes a listing without repeating entries", async () => {
  const inner = new FlakyRelay();
  const r = wrap(inner);
  for (const k of ["d/1", "d/2", "d/3", "d/4"]) await inner.write(k, utf8.encode(k));
  inner.failures = { list: 2 };
  inner.breakAfter = 2;
  const keys = (await toArray(r.list("d"))).map((e) => e.key);
  assert(JSON.stringify(keys) === '["d/1","d/2","d/3","d/4"]', `listed ${keys}`);
  assert(inner.calls.list === 3, `${inner.calls.list} calls`);
});

Deno.test("retry relay resumes a broken read where it stopped", async () => {
  const inner = new FlakyRelay();
  const r = wrap(inner);
  const data = new Uint8Array(1000).map((_, i) => i % 251);
  await inner.write("obj", data);
  inner.failures = { read: 2 };
  inner.breakAfter = 300;
  const got = await collect(await r.read("obj"));
  assert(got.length === 1000 && got.every((v, i) => v === data[i]), "resumed content differs");
  inner.failures = { read: 1 };
  const part = await collect(await r.read("obj", { offset: 100, length: 500 }));
  assert(part.length === 500 && part.every((v, i) => v === data[100 + i]), "resumed range differs");
  inner.failures = { read: 10 };
  inner.breakAfter = 10;
  const e = await failure(r.read("obj").then((s) => collect(s)));
  assert(e.kind === "unreachable", `kind ${e.kind}`);
});

Deno.test("withRetries stops at once when its signal is aborted", async () => {
  const ctl = new AbortController();
  let calls = 0;
  const p = withRetries("x", () => {
    calls++;
    if (calls === 1) ctl.abort(new Error("stop"));
    return Promise.reject(new RelayError("transient", "x: down"));
  }, { retries: 5, baseDelayMs: 1, signal: ctl.signal });
  const e = await failure(p);
  assert(e.kind === "transient" && calls === 1, `${calls} calls`);
});
