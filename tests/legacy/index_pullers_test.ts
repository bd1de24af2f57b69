// Puller counts, page locks and concurrent edits in Escale 0.7's index layout.
import { createHash } from "node:crypto";
import { assert, assertEquals } from "../assert.ts";
import { FaultRelay } from "../../src/relay/fault_relay.ts";
import { FileRelay } from "../../src/relay/file_relay.ts";
import { MemoryRelay } from "../../src/relay/memory_relay.ts";
import type { Body, Relay, WriteOptions } from "../../src/relay/relay.ts";
import { parseIndex } from "../../src/legacy/index_text.ts";
import { copyTree, FIXTURES, LegacyClient, pushedTree, snapshot } from "./legacy_helpers.ts";
import { readPersistent, withDir } from "./index_helpers.ts";

const SINGLE = { kind: "single" } as const;

/** The update files on the relay (page 0). */
async function updates(relay: string): Promise<string[]> {
  return Object.keys(await snapshot(relay)).filter((k) => /^\.0\.\d+\.(index|data)$/.test(k));
}

async function updateIndex(relay: string) {
  const key = (await updates(relay)).find((k) => k.endsWith(".index"))!;
  return parseIndex(await Deno.readFile(`${relay}/${key}`), "update", key);
}

Deno.test("legacy index: with puller count 2 both pullers get the update; the second releases it", async () => {
  await withDir(async (dir) => {
    const relay = new FileRelay(`${dir}/relay`);
    await pushedTree(`${dir}/A`);
    const mk = async (name: string, mode: "upload" | "download") => {
      await Deno.mkdir(`${dir}/${name}`, { recursive: true });
      return new LegacyClient(`${dir}/${name}`, relay, `${dir}/${name}.db`, {
        clientName: name,
        mode,
        index: SINGLE,
        pullerCount: 2,
      });
    };
    const a = await mk("A", "upload");
    const b = await mk("B", "download");
    const c = await mk("C", "download");
    try {
      await a.round();
      assertEquals((await b.round()).downloaded, 5);
      const mid = await updateIndex(`${dir}/relay`);
      assertEquals(mid.pullers, ["B"]);
      assertEquals(mid.entries.size, 5, "the rewritten update index keeps its entries");
      assertEquals((await b.round()).downloaded, 0);
      assertEquals((await c.round()).downloaded, 5);
      assertEquals(await snapshot(`${dir}/C`), await snapshot(`${FIXTURES}tree`));
      // The data is gone; the signed update index stays for Escale's pullers (a spent update).
      const left = await updates(`${dir}/relay`);
      assertEquals(left.length, 1);
      assert(left[0].endsWith(".index"));
      const spent = await updateIndex(`${dir}/relay`);
      assertEquals([spent.pullers, spent.entries.size], [["B", "C"], 0]);
      assertEquals(c.repo.status?.unreleased, 0);
    } finally {
      a.close();
      b.close();
      c.close();
    }
  });
});

Deno.test("legacy index: a spent update stays for Escale's pullers, survives their signature, and the next push replaces it", async () => {
  await withDir(async (dir) => {
    const relay = new FileRelay(`${dir}/relay`);
    await pushedTree(`${dir}/A`);
    const mk = async (name: string, mode: "upload" | "download") => {
      await Deno.mkdir(`${dir}/${name}`, { recursive: true });
      return new LegacyClient(`${dir}/${name}`, relay, `${dir}/${name}.db`, {
        clientName: name,
        mode,
        index: SINGLE,
        pullerCount: 2,
      });
    };
    const a = await mk("A", "upload");
    const c = await mk("C", "download");
    try {
      await a.round();
      // Escale's pyB signed first (its full-index visit: no entries, its name only).
      const idx = (await updates(`${dir}/relay`)).find((k) => k.endsWith(".index"))!;
      await Deno.writeTextFile(`${dir}/relay/${idx}`, "---pullers---\npyB");
      assertEquals((await c.round()).downloaded, 5);
      // Escale's consumeUpdate, at pyB's next start (or idle round), signs the update index of
      // the page it finds: there must be one, or it pushes to no name, crashes and keeps its
      // lock. Its own rewrite (no entries, its name) must not make escale drop the update.
      assertEquals(await updates(`${dir}/relay`), [idx]);
      await Deno.writeTextFile(`${dir}/relay/${idx}`, "---pullers---\npyB");
      assertEquals((await c.round()).downloaded, 0);
      assertEquals(
        await updates(`${dir}/relay`),
        [idx],
        "a spent update is neither taken nor repaired",
      );
      // The next push removes the spent update under its lock and publishes its own.
      await Deno.writeTextFile(`${dir}/A/new.txt`, "new\n");
      assertEquals((await a.round()).uploaded, 1);
      const now = await updates(`${dir}/relay`);
      assertEquals(now.length, 2);
      assert(!now.includes(idx));
      assertEquals([...(await updateIndex(`${dir}/relay`)).entries.keys()], ["new.txt"]);
      assertEquals((await c.round()).downloaded, 1);
    } finally {
      a.close();
      c.close();
    }
  });
});

Deno.test("legacy index: the update Escale's first puller emptied is still taken, and completed", async () => {
  await withDir(async (dir) => {
    // Escale's peerB rewrote the update index as just "---pullers---\npeerB" and kept the data.
    await copyTree(`${FIXTURES}index-1-pullers-2/after-pull/relay`, `${dir}/relay`);
    await Deno.mkdir(`${dir}/C`);
    const c = new LegacyClient(`${dir}/C`, new FileRelay(`${dir}/relay`), `${dir}/c.db`, {
      clientName: "peerC",
      mode: "download",
      index: SINGLE,
      pullerCount: 2,
    });
    try {
      assertEquals((await c.round()).downloaded, 5);
      assertEquals(await snapshot(`${dir}/C`), await snapshot(`${FIXTURES}tree`));
      const before = await snapshot(`${FIXTURES}index-1-pullers-2/after-pull/relay`);
      const indexKey = Object.keys(before).find((k) => /^\.0\.\d+\.index$/.test(k))!;
      assertEquals(
        await updates(`${dir}/relay`),
        [indexKey],
        "the second of two pullers frees the space (the data), the update index stays",
      );
      assertEquals((await updateIndex(`${dir}/relay`)).pullers, ["peerB", "peerC"]);
      const after = await snapshot(`${dir}/relay`);
      assertEquals(after[".0.index"], before[".0.index"]);
    } finally {
      c.close();
    }
  });
});

Deno.test("legacy index: a page locked by another client is left alone until the lock goes", async () => {
  await withDir(async (dir) => {
    await copyTree(`${FIXTURES}index-1/after-upload/relay`, `${dir}/relay`);
    await Deno.copyFile(`${FIXTURES}locks/relay/.0.lock`, `${dir}/relay/.0.lock`);
    const lock = await Deno.readTextFile(`${dir}/relay/.0.lock`);
    await Deno.mkdir(`${dir}/B`);
    await Deno.writeTextFile(`${dir}/B/new.txt`, "B's own file\n");
    const b = new LegacyClient(`${dir}/B`, new FileRelay(`${dir}/relay`), `${dir}/b.db`, {
      clientName: "peerB",
      mode: "shared",
      index: SINGLE,
    });
    try {
      const s = await b.round();
      assertEquals([s.downloaded, s.uploaded], [0, 0]);
      assertEquals(await Deno.readTextFile(`${dir}/relay/.0.lock`), lock);
      assertEquals((await updates(`${dir}/relay`)).length, 2, "the pending update is untouched");
      assert((b.repo.status?.pendingDownloads ?? 0) > 0, "a locked page is still due");
      await Deno.remove(`${dir}/relay/.0.lock`);
      // The update taken, the page is free: B's file is published as its new update.
      const s2 = await b.round();
      assertEquals([s2.downloaded, s2.uploaded], [5, 1]);
      const page = await readPersistent(`${dir}/relay/.0.index`);
      assertEquals(page.entries.size, 6);
      assert(page.entries.get("new.txt")!.includes("pusher: peerB"));
    } finally {
      b.close();
    }
  });
});

Deno.test("legacy index: a file edited on both sides keeps both (the older under a conflict name)", async () => {
  await withDir(async (dir) => {
    const relay = new FileRelay(`${dir}/relay`);
    await pushedTree(`${dir}/A`);
    await Deno.mkdir(`${dir}/B`);
    const a = new LegacyClient(`${dir}/A`, relay, `${dir}/a.db`, {
      clientName: "peerA",
      mode: "shared",
      index: SINGLE,
    });
    const b = new LegacyClient(`${dir}/B`, relay, `${dir}/b.db`, {
      clientName: "peerB",
      mode: "shared",
      index: SINGLE,
    });
    try {
      await a.round();
      await b.round();
      assertEquals(await snapshot(`${dir}/B`), await snapshot(`${dir}/A`));
      // Both edit hello.txt; A's edit is the newer one and is published first.
      await Deno.writeTextFile(`${dir}/B/hello.txt`, "B's version\n");
      await Deno.utime(`${dir}/B/hello.txt`, 1700000100, 1700000100);
      await Deno.writeTextFile(`${dir}/A/hello.txt`, "A's version\n");
      await Deno.utime(`${dir}/A/hello.txt`, 1700000200, 1700000200);
      assertEquals((await a.round()).uploaded, 1);
      const s = await b.round();
      assertEquals(s.conflicts, 1);
      const tree = await snapshot(`${dir}/B`);
      assertEquals(tree["hello.txt"], "A's version\n");
      const copies = Object.keys(tree).filter((k) => k.startsWith("hello.conflict-peerB-"));
      assertEquals(copies.length, 1);
      assertEquals(tree[copies[0]], "B's version\n");
      // The copy reaches A, and hello.txt does not travel back.
      await a.round();
      const back = await snapshot(`${dir}/A`);
      assertEquals(back[copies[0]], "B's version\n");
      assertEquals(back["hello.txt"], "A's version\n");
      const page = await readPersistent(`${dir}/relay/.0.index`);
      const sum = createHash("sha512").update("A's version\n").digest("hex");
      assert(page.entries.get("hello.txt")!.includes(sum), "hello.txt is A's version");
    } finally {
      a.close();
      b.close();
    }
  });
});

/** A relay without create-if-absent where a rival's lock lands right after ours is written. */
class RacingRelay extends MemoryRelay {
  override readonly capabilities = { ...new MemoryRelay().capabilities, createIfAbsent: false };
  rival?: { key: string; body: string };
  override async write(key: string, body: Body, opts?: WriteOptions): Promise<void> {
    await super.write(key, body, opts);
    if (this.rival && key === this.rival.key) {
      const r = this.rival;
      this.rival = undefined;
      await super.write(r.key, new TextEncoder().encode(r.body));
    }
  }
}

Deno.test("legacy index: a page lock overwritten right after ours is detected; the pusher backs off", async () => {
  await withDir(async (dir) => {
    const relay = new RacingRelay();
    relay.rival = { key: ".0.lock", body: "lock%1.0\nowner: peerZ\nmode: w" };
    await pushedTree(`${dir}/A`);
    const a = new LegacyClient(`${dir}/A`, relay as Relay, `${dir}/a.db`, {
      clientName: "peerA",
      mode: "upload",
      index: SINGLE,
    });
    try {
      assertEquals((await a.round()).uploaded, 0);
      assertEquals([...relay.objects.keys()], [".0.lock"]);
      assertEquals(
        new TextDecoder().decode(relay.objects.get(".0.lock")!.data),
        "lock%1.0\nowner: peerZ\nmode: w",
      );
      assertEquals(a.repo.status?.pendingUploads, 5);
      // The rival done, the page is published.
      await relay.delete(".0.lock");
      assertEquals((await a.round()).uploaded, 5);
    } finally {
      a.close();
    }
  });
});

Deno.test("legacy index: a puller that joins after the update was taken asks for the files, as Escale's do", async () => {
  await withDir(async (dir) => {
    const relay = new FileRelay(`${dir}/relay`);
    await pushedTree(`${dir}/A`);
    const mk = async (name: string, mode: "upload" | "download") => {
      await Deno.mkdir(`${dir}/${name}`, { recursive: true });
      return new LegacyClient(`${dir}/${name}`, relay, `${dir}/${name}.db`, {
        clientName: name,
        mode,
        index: SINGLE,
      });
    };
    const a = await mk("A", "upload");
    const b = await mk("B", "download");
    const c = await mk("C", "download");
    try {
      await a.round();
      assertEquals((await b.round()).downloaded, 5);
      assertEquals(await updates(`${dir}/relay`), []);
      // C asks; the page keeps one entry (Escale's pusher stops on an empty page)...
      assertEquals((await c.round()).downloaded, 0);
      assertEquals((await readPersistent(`${dir}/relay/.0.index`)).entries.size, 1);
      assertEquals((await a.round()).uploaded, 4);
      assertEquals((await c.round()).downloaded, 4);
      // ...and asks for the last one once the others are back.
      assertEquals((await c.round()).downloaded, 0);
      assertEquals((await a.round()).uploaded, 1);
      assertEquals((await c.round()).downloaded, 1);
      assertEquals(await snapshot(`${dir}/C`), await snapshot(`${FIXTURES}tree`));
      assertEquals((await readPersistent(`${dir}/relay/.0.index`)).entries.size, 5);
      // Nothing more travels.
      const quiet = [await a.round(), await c.round(), await b.round()];
      assertEquals(quiet.map((s) => s.uploaded + s.downloaded + s.relayWrites), [0, 0, 0]);
    } finally {
      a.close();
      b.close();
      c.close();
    }
  });
});

Deno.test("legacy index: a publication that fails half-way leaves no half update behind", async () => {
  await withDir(async (dir) => {
    await pushedTree(`${dir}/A`);
    const relay = new FaultRelay(new FileRelay(`${dir}/relay`), [
      { op: "write", match: /^\.0\.index$/, action: "fail", kind: "permanent" },
    ]);
    const a = new LegacyClient(`${dir}/A`, relay, `${dir}/a.db`, {
      clientName: "peerA",
      mode: "upload",
      index: SINGLE,
    });
    try {
      const failed = await a.round().then(() => null, (e: Error) => e);
      assert(failed?.message.includes("injected fault"), String(failed));
      // Neither the data (which a Python puller would wait on forever) nor the lock is left.
      assertEquals(await snapshot(`${dir}/relay`), {});
      assertEquals((await a.round()).uploaded, 5);
      assertEquals((await updates(`${dir}/relay`)).length, 2);
    } finally {
      a.close();
    }
  });
});
