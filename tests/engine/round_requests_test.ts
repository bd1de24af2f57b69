import { assert, assertEquals } from "../assert.ts";
import { Sandbox } from "./sandbox.ts";
import { MemoryRelay } from "../../src/relay/memory_relay.ts";
import type { DeleteOptions, ReadOptions, RelayEntry } from "../../src/relay/relay.ts";
import { OverlapRelay } from "../relay/overlap_relay.ts";
import { FaultRelay } from "../../src/relay/fault_relay.ts";
import { MOVED_KEY } from "../../src/protocol/moved_record.ts";

/** The in-memory relay: every delete, and how many deletes and reads were in flight at once. */
class DeleteLog extends MemoryRelay {
  readonly deletes: string[] = [];
  inFlight = 0;
  mostInFlight = 0;

  readsInFlight = 0;
  mostReadsInFlight = 0;

  /** reads of client records only: the moved check goes alongside them, and must not count */
  override async read(key: string, opts?: ReadOptions): Promise<ReadableStream<Uint8Array>> {
    if (!key.startsWith("clients/")) return await super.read(key, opts);
    this.mostReadsInFlight = Math.max(this.mostReadsInFlight, ++this.readsInFlight);
    try {
      await Promise.resolve();
      return await super.read(key, opts);
    } finally {
      this.readsInFlight--;
    }
  }

  readonly onlyCreated: string[] = [];

  override async delete(key: string, opts?: DeleteOptions): Promise<void> {
    this.deletes.push(key);
    if (opts?.onlyCreated) this.onlyCreated.push(key);
    this.mostInFlight = Math.max(this.mostInFlight, ++this.inFlight);
    try {
      // Yields once, so that deletes sent together are seen together.
      await Promise.resolve();
      await super.delete(key);
    } finally {
      this.inFlight--;
    }
  }
}

Deno.test("a release deletes its commits and their data together, in one round trip", async () => {
  const relay = new DeleteLog();
  const sb = await Sandbox.create(relay);
  try {
    const a = await sb.client("A", "upload");
    const b = await sb.client("B", "download");
    await b.sync(); // registers B as a puller
    // Three commits of A, none acknowledged yet, each with its own data object.
    for (const name of ["one", "two", "three"]) {
      await a.write(`${name}.txt`, name);
      await a.sync();
    }
    await b.sync(); // acknowledges all three
    relay.deletes.length = 0;
    const s = await a.sync();
    assertEquals(s.garbageCollected, 3);
    const kinds = relay.deletes.map((k) => k.split("/")[0]);
    assertEquals(kinds.filter((k) => k === "data").length, 3, relay.deletes.join(", "));
    assertEquals(kinds.filter((k) => k === "commits").length, 3, relay.deletes.join(", "));
    const together = Math.min(6, relay.capabilities.parallel);
    assertEquals(relay.mostInFlight, together, `deletes in flight at once`);
    // Commits are written create-if-absent: no leftover under their derived temporary names.
    const commitKeys = relay.deletes.filter((k) => k.startsWith("commits/"));
    assertEquals(relay.onlyCreated.sort(), commitKeys.sort());
    const left = [...relay.objects.keys()].filter((k) => /^(data|commits)\//.test(k));
    assertEquals(left, []);
  } finally {
    await sb.cleanup();
  }
});

Deno.test("a release cut short after its commit was deleted is finished by the next round", async () => {
  const mem = new MemoryRelay();
  const relay = new FaultRelay(mem);
  const sb = await Sandbox.create(relay);
  try {
    const a = await sb.client("A", "upload");
    const b = await sb.client("B", "download");
    await b.sync();
    await a.write("x.txt", "x");
    await a.sync();
    await b.sync();
    relay.arm([{ op: "delete", match: /^data\//, action: "fail", kind: "permanent" }]);
    await a.sync().catch(() => {});
    relay.arm([]);
    // The commit is gone: nothing on the relay names the data object any more.
    const keys = () => [...mem.objects.keys()].filter((k) => /^(data|commits)\//.test(k));
    assert(!keys().some((k) => k.startsWith("commits/")), keys().join(", "));
    assert(keys().some((k) => k.startsWith("data/")), keys().join(", "));
    a.close(); // the process died: its state is reopened from disk
    await a.sync();
    assertEquals(keys(), []);
    assertEquals(await b.read("x.txt"), "x");
  } finally {
    await sb.cleanup();
  }
});

Deno.test("the client records a round has to read are read together", async () => {
  const relay = new DeleteLog();
  const sb = await Sandbox.create(relay);
  try {
    // Two records: the smallest number that can go together.
    for (const name of ["B", "C"]) await (await sb.client(name, "download")).sync();
    const a = await sb.client("A", "upload");
    await a.write("x.txt", "x");
    relay.mostReadsInFlight = 0;
    // A's first round: no record is cached yet, both are read.
    assertEquals((await a.sync()).uploaded, 1);
    assert(relay.mostReadsInFlight > 1, `records were read one at a time`);
    for (const name of ["B", "C"]) {
      await sb.clients.get(name)!.sync();
      assertEquals(await sb.clients.get(name)!.read("x.txt"), "x");
    }
  } finally {
    await sb.cleanup();
  }
});

/** The in-memory relay, noting when a listing of commits starts and a read of a record ends. */
class OrderLog extends MemoryRelay {
  readonly events: string[] = [];

  override async *list(dir: string): AsyncIterable<RelayEntry> {
    if (dir === "commits") this.events.push("list commits");
    yield* super.list(dir);
  }

  override async read(key: string, opts?: ReadOptions): Promise<ReadableStream<Uint8Array>> {
    try {
      return await super.read(key, opts);
    } finally {
      if (key.startsWith("clients/")) this.events.push(`read ${key}`);
    }
  }
}

Deno.test("a round with no record to read lists the records and the commits together", async () => {
  const relay = new OverlapRelay([], 200);
  const sb = await Sandbox.create(relay);
  try {
    const a = await sb.client("A", "upload");
    const b = await sb.client("B", "download");
    await b.sync();
    await a.write("x.txt", "x");
    await a.sync();
    await b.sync();
    await a.sync(); // releases what B acknowledged, and reads B's new record
    await b.sync();
    relay.watch(["list clients", "list commits"]);
    await a.sync();
    assertEquals(relay.apart, [], "the idle round listed the commits only after the records");
    assertEquals(await b.read("x.txt"), "x");
  } finally {
    await sb.cleanup();
  }
});

Deno.test("a record read in a round is followed by a new listing of commits only when it claims a commit the first lacks", async () => {
  const relay = new OrderLog();
  const sb = await Sandbox.create(relay);
  try {
    const a = await sb.client("A", "upload");
    const b = await sb.client("B", "download");
    await b.sync();
    await a.write("x.txt", "x");
    relay.events.length = 0;
    await a.sync(); // B's record is new to A, but a puller's record claims no commit
    assertEquals(relay.events.filter((e) => e === "list commits").length, 1, relay.events.join());
    assert(relay.events.some((e) => e.startsWith("read clients/")), relay.events.join(", "));
    await a.sync(); // reads back only its own record: the listing alongside is enough
    await a.sync();
    relay.events.length = 0;
    await a.sync(); // nothing to read at all
    assertEquals(relay.events, ["list commits"]);
    await b.sync();
    assertEquals(await b.read("x.txt"), "x");
  } finally {
    await sb.cleanup();
  }
});

/**
 * The in-memory relay, where the next listing of commits is taken, then `between` runs (another
 * client's whole round), and only then are the records listed: a round whose first listing of
 * commits is older than a record it reads.
 */
class LateRecords extends MemoryRelay {
  between?: () => Promise<void>;
  /** the records listing of the round whose commits were listed first waits for this */
  #hold: Promise<void> | null = null;
  commitListings = 0;

  override async *list(dir: string): AsyncIterable<RelayEntry> {
    if (dir === "commits") {
      this.commitListings++;
      const between = this.between;
      if (between) {
        this.between = undefined;
        let release!: () => void;
        this.#hold = new Promise((r) => (release = r));
        const taken: RelayEntry[] = [];
        for await (const e of super.list(dir)) taken.push(e);
        await between();
        release();
        yield* taken;
        return;
      }
    } else if (dir === "clients" && this.#hold) {
      const hold = this.#hold;
      this.#hold = null;
      await hold;
    }
    yield* super.list(dir);
  }
}

Deno.test("a record claiming a commit published after the round's first listing makes the round list the commits again", async () => {
  const relay = new LateRecords();
  const sb = await Sandbox.create(relay);
  try {
    const a = await sb.client("A", "download");
    const b = await sb.client("B", "upload");
    await a.sync();
    await b.write("one.txt", "1");
    await b.sync();
    await a.sync();
    assertEquals(await a.read("one.txt"), "1");
    await b.write("two.txt", "2");
    relay.between = async () => void (await b.sync()); // B publishes commit 2, then its record
    relay.commitListings = 0;
    const s = await a.sync();
    assertEquals(relay.commitListings, 3, "B's round lists once; A's twice");
    assertEquals(s.downloaded, 1);
    assertEquals(await a.read("two.txt"), "2");
  } finally {
    await sb.cleanup();
  }
});

/** Reads of commits and client records, with the moments they started and ended. */
class ReadLog extends MemoryRelay {
  readonly events: string[] = [];
  commitsInFlight = 0;
  mostCommitsInFlight = 0;

  override async read(key: string, opts?: ReadOptions): Promise<ReadableStream<Uint8Array>> {
    const commit = key.startsWith("commits/");
    if (!commit && !key.startsWith("clients/")) return await super.read(key, opts);
    this.events.push(`start ${key}`);
    if (commit) {
      this.mostCommitsInFlight = Math.max(this.mostCommitsInFlight, ++this.commitsInFlight);
    }
    try {
      // Long enough for reads sent together to be seen together.
      await new Promise((ok) => setTimeout(ok, 20));
      return await super.read(key, opts);
    } finally {
      if (commit) this.commitsInFlight--;
      this.events.push(`end ${key}`);
    }
  }
}

Deno.test("a pull reads the commits it applies together, alongside the client records", async () => {
  const relay = new ReadLog();
  const sb = await Sandbox.create(relay);
  try {
    const a = await sb.client("A", "upload");
    const b = await sb.client("B", "download");
    await b.sync();
    for (const name of ["one", "two", "three"]) {
      await a.write(`${name}.txt`, name);
      await a.sync();
    }
    relay.events.length = 0;
    const s = await b.sync();
    assertEquals(s.downloaded, 3);
    assertEquals(relay.mostCommitsInFlight, 3);
    // The first commit read began before the last client record read ended.
    const firstCommit = relay.events.findIndex((e) => e.startsWith("start commits/"));
    const lastRecordEnd = relay.events.findLastIndex((e) => e.startsWith("end clients/"));
    assert(firstCommit >= 0 && firstCommit < lastRecordEnd, relay.events.join(", "));
    assertEquals(await b.read("two.txt"), "two");
  } finally {
    await sb.cleanup();
  }
});

/** Counts reads of the moved record. */
class MovedReads extends MemoryRelay {
  reads = 0;
  override read(key: string, opts?: ReadOptions): Promise<ReadableStream<Uint8Array>> {
    if (key === MOVED_KEY) this.reads++;
    return super.read(key, opts);
  }
}

Deno.test("the first round takes the moved record read while the relay opened; the next rounds read it", async () => {
  const relay = new MovedReads();
  const sb = await Sandbox.create(relay);
  try {
    const a = await sb.client("A", "upload");
    a.movedReadUntil = Date.now() + 60_000;
    await a.write("x.txt", "x");
    await a.repo(); // opening reads it
    relay.reads = 0;
    await a.sync();
    // Only the check after the commit (push.ts), none when the round began.
    assertEquals(relay.reads, 1);
    await a.sync();
    assertEquals(relay.reads, 2);
    // Past its time, the read of opening stands for nothing.
    const b = await sb.client("B", "download");
    b.movedReadUntil = Date.now() - 1;
    await b.repo();
    relay.reads = 0;
    await b.sync();
    assertEquals(relay.reads, 1);
  } finally {
    await sb.cleanup();
  }
});

/** Listings of client records wait for `whileListing` to finish. */
class SlowListing extends MemoryRelay {
  whileListing?: () => Promise<void>;
  override async *list(dir: string): AsyncIterable<RelayEntry> {
    if (dir === "clients" && this.whileListing) await this.whileListing();
    yield* super.list(dir);
  }
}

Deno.test("the local scan runs while the round's first listings are on their way", async () => {
  const relay = new SlowListing();
  const sb = await Sandbox.create(relay);
  try {
    const a = await sb.client("A", "upload");
    await a.sync();
    await a.write("new.txt", "new");
    const repo = await a.repo();
    let seenDirty = -1;
    relay.whileListing = async () => {
      // Still listing: the scan, started with the round, finds the new file meanwhile.
      for (let i = 0; i < 100 && repo.state.countDirty() === 0; i++) {
        await new Promise((ok) => setTimeout(ok, 10));
      }
      seenDirty = repo.state.countDirty();
    };
    const s = await a.sync();
    assertEquals(seenDirty, 1);
    assertEquals(s.uploaded, 1);
  } finally {
    await sb.cleanup();
  }
});
