import { EscaleError, isKind, RelayError } from "../errors/errors.ts";
import { type Relay, tempKeyFor } from "./relay.ts";
import { collect, toArray, utf8 } from "../util/streams.ts";

/**
 * The shared conformance suite: every backend must pass it (tests run it against real servers)
 * and users run it against their own relay with `escale ctl test-relay`. It works only under
 * `scratch`, a folder it creates and removes.
 */
export interface CheckResult {
  name: string;
  ok: boolean;
  /** why the check did not run: the backend does not claim what it verifies */
  skipped?: string;
  detail?: string;
  ms: number;
}

/** A check returns nothing when it passed, or the reason it does not apply to this backend. */
type Check = [string, (r: Relay, dir: string) => Promise<void | string>];

/** The longest key the backend claims, inside the scratch folder: segments file systems accept. */
function longKey(r: Relay, dir: string): string {
  const segments: string[] = [];
  let key = `${dir}/long`;
  while (key.length + 2 < r.capabilities.maxKeyLength) {
    const seg = "k".repeat(Math.min(200, r.capabilities.maxKeyLength - key.length - 1));
    segments.push(seg);
    key += `/${seg}`;
  }
  return key;
}

const MIB = 1024 * 1024;

/** What a range read may receive beyond the range: a backend's read-ahead buffer. */
const RANGE_SLACK = 256 * 1024;

function fail(msg: string): never {
  throw new Error(msg);
}

/** Whether two byte arrays hold the same bytes. */
export function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** `n` pseudo-random bytes, the same for the same seed (test data that no tool can dedupe). */
export function pattern(n: number, seed = 7): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

function chunked(data: Uint8Array, size: number, failAt?: number): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream({
    pull(c) {
      if (failAt !== undefined && off >= failAt) {
        c.error(new Error("simulated failure while writing"));
        return;
      }
      if (off >= data.length) return c.close();
      c.enqueue(data.slice(off, off + size));
      off += size;
    },
  });
}

async function expectKind(p: Promise<unknown>, kind: string, what: string): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (isKind(e, kind as never)) return;
    fail(
      `${what}: expected a "${kind}" error, got ${
        e instanceof EscaleError ? e.kind + ": " : ""
      }${e}`,
    );
  }
  fail(`${what}: expected a "${kind}" error, got success`);
}

const checks: Check[] = [
  ["write and read back a small object", async (r, d) => {
    const body = utf8.encode("hello relay\n");
    await r.write(`${d}/small`, body);
    const got = await collect(await r.read(`${d}/small`));
    if (!same(got, body)) fail("content differs");
  }],
  ["write and read back an empty object", async (r, d) => {
    await r.write(`${d}/empty`, new Uint8Array(0));
    const got = await collect(await r.read(`${d}/empty`));
    if (got.length !== 0) fail(`read ${got.length} bytes`);
    const st = await r.stat(`${d}/empty`);
    if (!st || st.size !== 0) fail("stat of the empty object is wrong");
  }],
  ["stream a 6 MiB object in both directions", async (r, d) => {
    const data = pattern(6 * 1024 * 1024 + 17);
    await r.write(`${d}/big`, () => chunked(data, 100_000), { size: data.length });
    let n = 0;
    const stream = await r.read(`${d}/big`);
    for await (const c of stream) {
      if (!same(c, data.subarray(n, n + c.length))) fail(`content differs at byte ${n}`);
      n += c.length;
    }
    if (n !== data.length) fail(`read ${n} bytes, expected ${data.length}`);
  }],
  ["read a byte range", async (r, d) => {
    const data = pattern(300_000, 3);
    await r.write(`${d}/ranged`, data);
    const a = await collect(await r.read(`${d}/ranged`, { offset: 1000, length: 5000 }));
    if (!same(a, data.subarray(1000, 6000))) fail("offset+length range differs");
    const b = await collect(await r.read(`${d}/ranged`, { offset: 299_990 }));
    if (!same(b, data.subarray(299_990))) fail("open-ended range differs");
  }],
  ["a range read transfers the range, not the bytes it skips", async (r, d) => {
    if (!r.capabilities.rangeRead) return "the backend does not claim range reads";
    if (!r.received) return "the relay does not count the bytes it receives";
    const data = pattern(3 * MIB + 7, 5);
    await r.write(`${d}/far`, data);
    for (const [offset, length] of [[2 * MIB, 1000], [3 * MIB, undefined]] as const) {
      const before = r.received();
      const got = await collect(await r.read(`${d}/far`, { offset, length }));
      const moved = r.received() - before;
      const want = data.subarray(offset, length === undefined ? undefined : offset + length);
      if (!same(got, want)) fail(`the range at ${offset} differs`);
      // One read-ahead buffer beyond the range is fair; the megabytes before it are not.
      if (moved > want.length + RANGE_SLACK) {
        fail(
          `reading ${want.length} bytes at offset ${offset} received ${moved} bytes: the skipped bytes were transferred`,
        );
      }
    }
  }],
  ["stat reports size and absence", async (r, d) => {
    await r.write(`${d}/sized`, pattern(1234));
    const st = await r.stat(`${d}/sized`);
    if (!st || st.size !== 1234) fail(`stat size ${st?.size}`);
    if ((await r.stat(`${d}/missing`)) !== null) fail("stat of a missing key is not null");
  }],
  ["read of a missing object fails with not-found", async (r, d) => {
    await expectKind(r.read(`${d}/nothing-here`).then(collect), "not-found", "read missing");
  }],
  ["list shows exactly the objects of a folder", async (r, d) => {
    await r.write(`${d}/list/a`, utf8.encode("a"));
    await r.write(`${d}/list/b-2`, utf8.encode("bb"));
    await r.write(`${d}/list/sub/c`, utf8.encode("ccc"));
    const got = (await toArray(r.list(`${d}/list`))).map((e) => `${e.key}:${e.size}`).sort();
    const want = [`${d}/list/a:1`, `${d}/list/b-2:2`];
    if (JSON.stringify(got) !== JSON.stringify(want)) fail(`listed ${got.join(", ")}`);
    const sub = (await toArray(r.list(`${d}/list/sub`))).map((e) => e.key);
    if (sub.length !== 1 || sub[0] !== `${d}/list/sub/c`) fail(`nested listing ${sub}`);
    if ((await toArray(r.list(`${d}/no-such-folder`))).length) fail("missing folder not empty");
  }],
  ["overwrite replaces the content", async (r, d) => {
    await r.write(`${d}/over`, utf8.encode("first version"));
    await r.write(`${d}/over`, utf8.encode("2nd"));
    const got = new TextDecoder().decode(await collect(await r.read(`${d}/over`)));
    if (got !== "2nd") fail(`read ${JSON.stringify(got)}`);
  }],
  ["create-if-absent refuses an existing object", async (r, d) => {
    await r.write(`${d}/once`, utf8.encode("one"), { ifAbsent: true });
    await expectKind(
      r.write(`${d}/once`, utf8.encode("two"), { ifAbsent: true }),
      "exists",
      "second create",
    );
    const got = new TextDecoder().decode(await collect(await r.read(`${d}/once`)));
    if (got !== "one") fail(`content became ${JSON.stringify(got)}`);
  }],
  ["delete removes, and deleting a missing object succeeds", async (r, d) => {
    await r.write(`${d}/doomed`, utf8.encode("x"));
    await r.delete(`${d}/doomed`);
    if (await r.stat(`${d}/doomed`)) fail("still there after delete");
    await r.delete(`${d}/doomed`);
  }],
  ["a failed write leaves nothing visible", async (r, d) => {
    const data = pattern(200_000, 9);
    await expectFailure(r.write(`${d}/partial`, () => chunked(data, 50_000, 100_000)));
    if (await r.stat(`${d}/partial`)) fail("a partial object became visible");
    const listed = (await toArray(r.list(d))).map((e) => e.key);
    if (listed.some((k) => k.endsWith("partial") || k.includes(".escale-part-"))) {
      fail(`listing shows ${listed.join(", ")}`);
    }
  }],
  [
    "a write waiting for `after` is visible only once it resolved; when it rejects, nothing is left",
    async (r, d) => {
      for (const ifAbsent of [false, true]) {
        const key = `${d}/after-${ifAbsent ? "created" : "plain"}`;
        let go = () => {};
        const after = new Promise<void>((ok) => go = ok);
        const writing = r.write(key, pattern(70_000, 4), { ifAbsent, after });
        writing.catch(() => {});
        // Long enough for the body to be sent where a backend sends it ahead.
        await new Promise((ok) => setTimeout(ok, 300));
        if (await r.stat(key)) fail(`${key} is visible before its \`after\` resolved`);
        go();
        await writing;
        const got = await collect(await r.read(key));
        if (!same(got, pattern(70_000, 4))) fail(`${key}: content differs`);
        const refused = `${key}-refused`;
        const failed = Promise.reject(new RelayError("transient", "the data objects failed"));
        failed.catch(() => {}); // the write's to report
        await expectKind(
          r.write(refused, pattern(1000, 5), { ifAbsent, after: failed }),
          "transient",
          "a write whose after rejected",
        );
        if (await r.stat(refused)) fail(`${refused} became visible though its \`after\` rejected`);
      }
      if (r.listTemporary) {
        const left = (await toArray(r.listTemporary(d))).map((e) => e.key);
        if (left.length) fail(`temporary objects left behind: ${left.join(", ")}`);
      }
    },
  ],
  ["an upload left unfinished by a killed process is replaced, then removed", async (r, d) => {
    if (!r.capabilities.tempObjects) return "the backend writes no temporary objects";
    const key = `${d}/resumed`;
    const tmp = tempKeyFor(key);
    // What a process killed in the middle of uploading `key` leaves behind.
    await r.write(tmp, pattern(1000, 3));
    if (!(await r.stat(tmp))) fail("could not create the leftover to test with");
    await r.write(key, utf8.encode("complete"));
    if (await r.stat(tmp)) fail("the leftover survived the next write of its key");
    await r.write(tmp, pattern(1000, 4));
    await r.delete(key);
    if (await r.stat(tmp)) fail("the leftover survived the delete of its key");
    // A key only ever created (onlyCreated) is deleted all the same.
    await r.write(key, utf8.encode("created"), { ifAbsent: true });
    await r.delete(key, { onlyCreated: true });
    if (await r.stat(key)) fail("a delete with onlyCreated left the object");
  }],
  ["a failed overwrite keeps the previous content", async (r, d) => {
    await r.write(`${d}/keep`, utf8.encode("precious"));
    await expectFailure(r.write(`${d}/keep`, () => chunked(pattern(200_000), 50_000, 100_000)));
    const got = new TextDecoder().decode(await collect(await r.read(`${d}/keep`)));
    if (got !== "precious") fail("the previous content was damaged");
  }],
  ["parallel writes and reads of distinct objects", async (r, d) => {
    const n = 12;
    await Promise.all(
      Array.from({ length: n }, (_, i) => r.write(`${d}/par/${i}`, pattern(10_000 + i, i))),
    );
    const back = await Promise.all(
      Array.from({ length: n }, async (_, i) => collect(await r.read(`${d}/par/${i}`))),
    );
    back.forEach((b, i) => {
      if (!same(b, pattern(10_000 + i, i))) fail(`object ${i} differs`);
    });
  }],
  ["listFolders names the sub-folders (when supported)", async (r, d) => {
    if (!r.listFolders) return "the backend does not list folders";
    for (const k of ["folders/a/b/x", "folders/a/y", "folders/c/z", "folders/top"]) {
      await r.write(`${d}/${k}`, utf8.encode(k));
    }
    const got = [
      await r.listFolders(`${d}/folders`),
      await r.listFolders(`${d}/folders/a`),
      await r.listFolders(`${d}/folders/a/b`),
      await r.listFolders(`${d}/nowhere`),
    ];
    const want = [["a", "c"], ["b"], [], []];
    if (JSON.stringify(got) !== JSON.stringify(want)) fail(`got ${JSON.stringify(got)}`);
  }],
  ["create-if-absent is atomic: of concurrent creators exactly one wins", async (r, d) => {
    if (!r.capabilities.createIfAbsent) return "the backend does not claim atomic create-if-absent";
    const n = Math.max(2, Math.min(r.capabilities.parallel, 6));
    const outcomes = await Promise.allSettled(
      Array.from(
        { length: n },
        (_, i) => r.write(`${d}/race`, utf8.encode(`writer ${i}`), { ifAbsent: true }),
      ),
    );
    const won = outcomes.flatMap((o, i) => o.status === "fulfilled" ? [i] : []);
    const lost = outcomes.filter((o) => o.status === "rejected" && isKind(o.reason, "exists"));
    if (won.length !== 1 || lost.length !== n - 1) {
      fail(`${won.length} of ${n} creators won, ${lost.length} were told "exists"`);
    }
    const got = new TextDecoder().decode(await collect(await r.read(`${d}/race`)));
    if (got !== `writer ${won[0]}`) fail(`the winner wrote ${JSON.stringify(got)}`);
  }],
  ["a key as long as the backend claims works", async (r, d) => {
    const key = longKey(r, d);
    await r.write(key, utf8.encode("long"));
    const got = new TextDecoder().decode(await collect(await r.read(key)));
    if (got !== "long") fail(`read ${JSON.stringify(got)} under a ${key.length}-character key`);
    const dir = key.slice(0, key.lastIndexOf("/"));
    if (!(await toArray(r.list(dir))).some((e) => e.key === key)) fail("not listed");
    await r.delete(key);
  }],
];

async function expectFailure(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch {
    return;
  }
  fail("a write whose body failed reported success");
}

async function removeTree(r: Relay, dir: string): Promise<void> {
  await r.delete(longKey(r, dir)).catch(() => {});
  for (
    const sub of [
      "list/sub",
      "list",
      "par",
      "to",
      "folders/a/b",
      "folders/a",
      "folders/c",
      "folders",
      "",
    ]
  ) {
    const d = sub ? `${dir}/${sub}` : dir;
    for (const e of await toArray(r.list(d)).catch(() => [])) await r.delete(e.key).catch(() => {});
  }
}

/** Runs every check in `scratch` (a relay folder that must not hold anything of value). */
export async function runConformance(relay: Relay, scratch: string): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const [name, fn] of checks) {
    const t0 = performance.now();
    try {
      const skipped = await fn(relay, scratch);
      results.push({ name, ok: true, ms: performance.now() - t0, ...(skipped ? { skipped } : {}) });
    } catch (e) {
      results.push({
        name,
        ok: false,
        detail: e instanceof Error ? e.message : String(e),
        ms: performance.now() - t0,
      });
    }
  }
  await removeTree(relay, scratch);
  return results;
}

export const conformanceCheckNames = checks.map(([n]) => n);
