import { assert, assertEquals } from "../assert.ts";
import { Sandbox } from "../engine/sandbox.ts";
import { hooked } from "./hooked_relay.ts";
import { FileRelay } from "../../src/relay/file_relay.ts";
import { FaultRelay } from "../../src/relay/fault_relay.ts";
import { migrateRelay } from "../../src/maintenance/migrate_relay.ts";
import { isKind, RelayError } from "../../src/errors/errors.ts";
import { MOVED_KEY } from "../../src/protocol/moved_record.ts";
import type { Body, ReadOptions, Relay, WriteOptions } from "../../src/relay/relay.ts";

async function keys(dir: string, sub: string): Promise<string[]> {
  const out: string[] = [];
  if (!(await Deno.stat(`${dir}/${sub}`).catch(() => null))) return out;
  for await (const e of Deno.readDir(`${dir}/${sub}`)) out.push(`${sub}/${e.name}`);
  return out.sort();
}

Deno.test("migrate while a client publishes: what it published during the copy arrives too, and it stops at its next round", async () => {
  const src = await Deno.makeTempDir({ prefix: "escale-src-" });
  const dst = await Deno.makeTempDir({ prefix: "escale-dst-" });
  const sb = await Sandbox.create(new FileRelay(src));
  try {
    const a = await sb.client("A");
    const b = await sb.client("B");
    await a.write("a.txt", "a".repeat(100_000));
    await b.sync();
    await a.sync();
    const source = hooked(new FileRelay(src), /^data\//, async () => {
      await b.write("during.txt", "published while the relay was being copied");
      await b.sync();
    });
    const r = await migrateRelay(source, new FileRelay(dst), { to: dst, owner: "test" });
    assert(r.copied > 0);
    assertEquals(await keys(dst, "commits"), await keys(src, "commits"));
    assertEquals(await keys(dst, "data"), await keys(src, "data"));
    assertEquals(await keys(dst, "clients"), await keys(src, "clients"));
    const err = await b.sync().then(() => null, (e) => e);
    assert(isKind(err, "moved"), String(err));
    assert(String(err.message).includes(`moved to ${dst}`), err.message);
  } finally {
    await sb.cleanup();
    await Deno.remove(src, { recursive: true });
    await Deno.remove(dst, { recursive: true });
  }
});

/**
 * A relay that delegates to `target` (a test repoints its clients by changing it) and, once
 * `holdCommits` is set, holds the next commit write until `release()`: a round that began before
 * the migration writes its commit after the migration's last pass, deterministically.
 */
class PointedRelay implements Relay {
  readonly name = "pointed";
  movedReads = 0;
  holdCommits = false;
  reached = Promise.withResolvers<void>();
  #gate = Promise.withResolvers<void>();
  constructor(public target: Relay) {}
  get capabilities() {
    return this.target.capabilities;
  }
  release() {
    this.#gate.resolve();
  }
  list(dir: string) {
    return this.target.list(dir);
  }
  stat(key: string) {
    return this.target.stat(key);
  }
  /** answers as if moved.json were not there yet (a round whose check raced the record) */
  hideMoved = false;
  read(key: string, opts?: ReadOptions) {
    if (key === MOVED_KEY) {
      this.movedReads++;
      if (this.hideMoved) return Promise.reject(new RelayError("not-found", "hidden", key));
    }
    return this.target.read(key, opts);
  }
  async write(key: string, body: Body, opts?: WriteOptions) {
    if (this.holdCommits && key.startsWith("commits/")) {
      this.holdCommits = false;
      this.reached.resolve();
      await this.#gate.promise;
    }
    return await this.target.write(key, body, opts);
  }
  delete(key: string) {
    return this.target.delete(key);
  }
  close() {
    return this.target.close();
  }
}

Deno.test("migrate while a round is publishing: its commit written after the last pass stops that round with moved, and reaches the new relay once the client points there", async () => {
  const src = await Deno.makeTempDir({ prefix: "escale-src-" });
  const dst = await Deno.makeTempDir({ prefix: "escale-dst-" });
  const relay = new PointedRelay(new FileRelay(src));
  const sb = await Sandbox.create(relay);
  try {
    const a = await sb.client("A");
    const b = await sb.client("B");
    await a.write("a.txt", "from A");
    for (const c of [a, b, a, b]) await c.sync();
    // An idle round reads the moved record once, alongside its listings, and nothing more.
    relay.movedReads = 0;
    assertEquals((await b.sync()).relayWrites, 0);
    assertEquals(relay.movedReads, 1);

    await b.write("late.txt", "published while the relay was being moved");
    relay.holdCommits = true;
    const round = b.sync().then(() => null, (e) => e);
    await relay.reached.promise;
    await migrateRelay(new FileRelay(src), new FileRelay(dst), { to: dst, owner: "test" });
    relay.release();
    const err = await round;
    assert(isKind(err, "moved"), `the round that published after the move went on: ${err}`);
    assert(String(err.message).includes(`moved to ${dst}`), err.message);
    // The commit reached the old relay only: the migration was over when it arrived.
    assertEquals((await keys(dst, "commits")).length + 1, (await keys(src, "commits")).length);

    // Both clients now point at the new relay (their configuration edited); nothing is lost.
    relay.target = new FileRelay(dst);
    b.close();
    await b.sync();
    assertEquals((await keys(dst, "commits")).length, (await keys(src, "commits")).length);
    assertEquals((await a.sync()).downloaded, 1);
    assertEquals(await a.read("late.txt"), "published while the relay was being moved");
    // The commit itself went there: no full copy was needed to make up for it.
    assert(!b.lines.some((l) => l.includes("full copy")), b.lines.join("\n"));
    await b.sync();
    await a.sync();
    assertEquals(await a.tree(), await b.tree());
  } finally {
    await sb.cleanup();
    await Deno.remove(src, { recursive: true });
    await Deno.remove(dst, { recursive: true });
  }
});

Deno.test("migrate cut after the moved record resumes when run again; once complete, a re-run copies nothing", async () => {
  const src = await Deno.makeTempDir({ prefix: "escale-src-" });
  const dst = await Deno.makeTempDir({ prefix: "escale-dst-" });
  const sb = await Sandbox.create(new FileRelay(src));
  try {
    const a = await sb.client("A");
    await sb.client("B");
    await a.write("a.txt", "a".repeat(100_000));
    await a.sync();
    // The last pass's listing fails: the record is there, the move is not complete.
    const cut = new FaultRelay(new FileRelay(src), [
      { op: "list", match: /^commits$/, nth: 2, action: "fail", kind: "permanent" },
    ]);
    const err = await migrateRelay(cut, new FileRelay(dst), { to: dst, owner: "test" })
      .then(() => null, (e) => e);
    assert(String(err?.message).includes("injected fault"), String(err));
    const first = JSON.parse(await Deno.readTextFile(`${src}/${MOVED_KEY}`));
    assertEquals(first.complete, undefined);

    const resumed = await migrateRelay(new FileRelay(src), new FileRelay(dst), {
      to: dst,
      owner: "test",
    });
    assertEquals(resumed.completed, false);
    assert(resumed.kept > 0, JSON.stringify(resumed));
    assertEquals(JSON.parse(await Deno.readTextFile(`${src}/${MOVED_KEY}`)).complete, true);
    assertEquals(await keys(dst, "commits"), await keys(src, "commits"));

    // Clients carry on at the new address and release what they took: the old relay's copy of
    // that object is stale and must not come back.
    const live = await keys(dst, "data");
    await Deno.remove(`${dst}/${live[0]}`);
    const again = await migrateRelay(new FileRelay(src), new FileRelay(dst), {
      to: dst,
      owner: "test",
    });
    assertEquals(again, { copied: 0, kept: 0, bytes: 0, alreadyMoved: true, completed: true });
    assertEquals(await keys(dst, "data"), live.slice(1));
  } finally {
    await sb.cleanup();
    await Deno.remove(src, { recursive: true });
    await Deno.remove(dst, { recursive: true });
  }
});

Deno.test("migrate while a round is publishing: a client that applied its commit at the old relay still gets what replaced it", async () => {
  const src = await Deno.makeTempDir({ prefix: "escale-src-" });
  const dst = await Deno.makeTempDir({ prefix: "escale-dst-" });
  const relay = new PointedRelay(new FileRelay(src));
  const sb = await Sandbox.create(relay);
  try {
    const b = await sb.client("B");
    const p = await sb.client("P", "download");
    await b.write("seed.txt", "seed");
    for (const c of [p, b, p, b]) await c.sync();

    await b.write("late.txt", "first version");
    relay.holdCommits = true;
    const round = b.sync().then(() => null, (e) => e);
    await relay.reached.promise;
    await migrateRelay(new FileRelay(src), new FileRelay(dst), { to: dst, owner: "test" });
    relay.release();
    assert(isKind(await round, "moved"));
    // P's round checked for the record just before it appeared, and took B's commit there.
    relay.hideMoved = true;
    await p.sync();
    relay.hideMoved = false;
    assertEquals(await p.read("late.txt"), "first version");

    // B's file changes before B points at the new relay: the first version cannot be sent again.
    await b.write("late.txt", "second version, longer");
    relay.target = new FileRelay(dst);
    b.close();
    p.close();
    await b.sync();
    await p.sync();
    assertEquals(await p.read("late.txt"), "second version, longer");
    assertEquals(await p.tree(), await b.tree());
  } finally {
    await sb.cleanup();
    await Deno.remove(src, { recursive: true });
    await Deno.remove(dst, { recursive: true });
  }
});
