import { assert, assertEquals } from "../assert.ts";
import { FileRelay } from "../../src/relay/file_relay.ts";
import { MemoryRelay } from "../../src/relay/memory_relay.ts";
import { type Body, type Relay, tempKeyFor, type WriteOptions } from "../../src/relay/relay.ts";
import { PlaceholderStore } from "../../src/legacy/placeholder_store.ts";
import { classify } from "../../src/legacy/names.ts";
import { copyTree, FIXTURES, LegacyClient, snapshot } from "./legacy_helpers.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "escale-legacy-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * A relay without create-if-absent (FTP, WebDAV without If-None-Match) where another client's
 * check-then-write lands between our write of a lock and our read-back: the race Escale loses.
 */
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

Deno.test("legacy locks: a lock overwritten right after ours is detected, so two writers never both win", async () => {
  const relay = new RacingRelay();
  relay.rival = { key: ".a.txt.lock", body: "lock%1.0\nowner: peerA\nmode: w" };
  const store = new PlaceholderStore(relay as Relay, "peerB");
  assertEquals(await store.acquire("a.txt", "w"), false);
  assertEquals(
    new TextDecoder().decode(relay.objects.get(".a.txt.lock")!.data),
    "lock%1.0\nowner: peerA\nmode: w",
  );
  assertEquals(await store.acquire("b.txt", "w"), true);
  assertEquals(
    new TextDecoder().decode(relay.objects.get(".b.txt.lock")!.data),
    "lock%1.0\nowner: peerB\nmode: w",
  );
});

/** A relay without create-if-absent (FTP, WebDAV, rclone). */
class NoAtomicRelay extends MemoryRelay {
  override readonly capabilities = { ...new MemoryRelay().capabilities, createIfAbsent: false };
}

function gatedWrites(relay: Relay, gate: Promise<unknown>): Relay {
  return new Proxy(relay, {
    get(t, p) {
      if (p === "write") {
        return async (k: string, body: Body, o?: WriteOptions) => {
          await gate;
          return await t.write(k, body, o);
        };
      }
      const v = Reflect.get(t, p, t);
      return typeof v === "function" ? v.bind(t) : v;
    },
  });
}

Deno.test("legacy locks: two escale writers checking at once on a relay without atomic create never both win", async () => {
  const relay = new NoAtomicRelay();
  let aWrote!: () => void;
  const aDone = new Promise<void>((r) => aWrote = r);
  const a = new PlaceholderStore(
    new Proxy(relay, {
      get(t, p) {
        if (p === "write") {
          return (k: string, body: Body, o?: WriteOptions) => t.write(k, body, o).finally(aWrote);
        }
        const v = Reflect.get(t, p, t);
        return typeof v === "function" ? v.bind(t) : v;
      },
    }) as Relay,
    "peerA",
    undefined,
    400,
  );
  // B checks with A (both see no lock); B's write lands only after A's write and A's read-back
  // would have come at once: the race Escale loses (/tmp/audit14/scratch/race_test.ts).
  const b = new PlaceholderStore(gatedWrites(relay, aDone), "peerB", undefined, 400);
  const won = await Promise.all([a.acquire("x.txt", "w"), b.acquire("x.txt", "w")]);
  assertEquals(won, [false, true]);
});

Deno.test("legacy locks: an escale writer slower than the settle delay withdraws", async () => {
  const relay = new NoAtomicRelay();
  const a = new PlaceholderStore(relay, "peerA", undefined, 50);
  let open!: () => void;
  const gate = new Promise<void>((r) => open = r);
  const b = new PlaceholderStore(gatedWrites(relay, gate), "peerB", undefined, 50);
  const bWon = b.acquire("x.txt", "w");
  // A checks and writes after B's check, before B's write lands; A's read-back sees its lock.
  assertEquals(await a.acquire("x.txt", "w"), true);
  open();
  // B's write took longer than the settle delay, so A may have won meanwhile: B does not go on.
  assertEquals(await bWon, false);
  // Its lock stays (it may cover A for Python clients), and it does not take it back this round.
  assertEquals(
    new TextDecoder().decode(relay.objects.get(".x.txt.lock")!.data),
    "lock%1.0\nowner: peerB\nmode: w",
  );
  assertEquals(await b.acquire("x.txt", "w"), false);
});

Deno.test("legacy locks: Python clients' locks are honoured, then the files move once they are gone", async () => {
  await withDir(async (dir) => {
    await copyTree(`${FIXTURES}placeholder-plain/after-upload/relay`, `${dir}/relay`);
    // Escale's own lock files: peerA still uploading hello.txt, peerC downloading sub/notes.md.
    await Deno.copyFile(`${FIXTURES}locks/relay/.hello.txt.lock`, `${dir}/relay/.hello.txt.lock`);
    await Deno.writeTextFile(`${dir}/relay/sub/.notes.md.lock`, "lock%1.0\nowner: peerC\nmode: r");
    await Deno.mkdir(`${dir}/B`);
    const b = new LegacyClient(`${dir}/B`, new FileRelay(`${dir}/relay`), `${dir}/b.db`, {
      clientName: "peerB",
      mode: "shared",
    });
    try {
      const s = await b.round();
      assertEquals(s.downloaded, 3);
      const tree = await snapshot(`${dir}/B`);
      assert(!("hello.txt" in tree) && !("sub/notes.md" in tree), "a locked file was taken");
      assertEquals(b.repo.status?.pendingDownloads, 2);
      // Our own pusher does not write over a foreign lock either.
      await Deno.writeTextFile(`${dir}/B/hello.txt`, "mine");
      await b.round();
      assertEquals(
        await Deno.readTextFile(`${dir}/relay/.hello.txt.lock`),
        "lock%1.0\nowner: peerA\nmode: w",
      );
      assertEquals(await Deno.readTextFile(`${dir}/relay/hello.txt`), "hello world\n");
      await Deno.remove(`${dir}/relay/.hello.txt.lock`);
      await Deno.remove(`${dir}/relay/sub/.notes.md.lock`);
      const s2 = await b.round();
      assertEquals(s2.conflicts, 1);
      assertEquals((await snapshot(`${dir}/B`))["sub/notes.md"], "# Notes\n\nsecond line\n");
    } finally {
      b.close();
    }
  });
});

Deno.test("legacy locks: this client's own locks left by a crash are repaired, others' never", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(`${dir}/relay`);
    await Deno.mkdir(`${dir}/A`);
    await Deno.writeTextFile(`${dir}/A/x.txt`, "complete content\n");
    // What a kill between placeholder and data leaves: our lock, our placeholder, partial data.
    await Deno.writeTextFile(`${dir}/relay/.x.txt.lock`, "lock%1.0\nowner: peerA\nmode: w");
    await Deno.writeTextFile(
      `${dir}/relay/.x.txt.placeholder`,
      `placeholder%1.0\npusher: peerA\ntimestamp: 1\nchecksum: ${"0".repeat(128)}\n---pullers---`,
    );
    await Deno.writeTextFile(`${dir}/relay/x.txt`, "compl");
    await Deno.writeTextFile(`${dir}/relay/.y.txt.lock`, "lock%1.0\nowner: peerZ\nmode: w");
    const a = new LegacyClient(`${dir}/A`, new FileRelay(`${dir}/relay`), `${dir}/a.db`, {
      clientName: "peerA",
      mode: "upload",
    });
    try {
      assertEquals((await a.round()).uploaded, 1);
      const relay = await snapshot(`${dir}/relay`);
      assertEquals(relay["x.txt"], "complete content\n");
      assert(!(".x.txt.lock" in relay), "own lock left");
      assertEquals(relay[".y.txt.lock"], "lock%1.0\nowner: peerZ\nmode: w");
    } finally {
      a.close();
    }
  });
});

Deno.test("legacy names: placeholders and data whose names could escape or be special are ignored", async () => {
  assertEquals(classify("d/....placeholder"), { kind: "other" }); // would be resource "d/.."
  assertEquals(classify("...placeholder"), { kind: "other" }); // "."
  assertEquals(classify("..x.placeholder"), { kind: "other" }); // ".x": a special name
  assertEquals(classify("a\\..\\b"), { kind: "other" });
  assertEquals(classify("bad\nname"), { kind: "other" });
  assertEquals(classify("d/.ok.txt.placeholder"), { kind: "placeholder", path: "d/ok.txt" });
  // Backends' temporaries of placeholders and locks, seen while written or after a kill, are
  // neither to a Python client (which classifies as `classify` does).
  assertEquals(classify(tempKeyFor("d/.ok.txt.placeholder")), { kind: "other" });
  assertEquals(classify(tempKeyFor(".ok.txt.lock")), { kind: "other" });
  await withDir(async (dir) => {
    await Deno.mkdir(`${dir}/relay/d`, { recursive: true });
    await Deno.mkdir(`${dir}/B`);
    const ph = (sum: string) =>
      `placeholder%1.0\npusher: evil\ntimestamp: 1\nchecksum: ${sum}\n---pullers---`;
    await Deno.writeTextFile(`${dir}/relay/d/....placeholder`, ph("0".repeat(128)));
    await Deno.writeTextFile(`${dir}/relay/..evil.placeholder`, ph("0".repeat(128)));
    await Deno.writeTextFile(`${dir}/relay/.evil`, "x");
    await Deno.writeTextFile(`${dir}/relay/.a\\..\\..\\b.placeholder`, ph("0".repeat(128)));
    await Deno.writeTextFile(`${dir}/relay/a\\..\\..\\b`, "x");
    const b = new LegacyClient(`${dir}/B`, new FileRelay(`${dir}/relay`), `${dir}/b.db`, {
      clientName: "peerB",
      mode: "download",
    });
    try {
      assertEquals((await b.round()).downloaded, 0);
      assertEquals(await snapshot(`${dir}/B`), {});
      assertEquals(
        Object.keys(await snapshot(dir)).filter((k) =>
          !k.startsWith("relay/") && !k.startsWith("b.db")
        ),
        [],
      );
    } finally {
      b.close();
    }
  });
});

/** A folder relay that claims no create-if-absent, as FTP, WebDAV and rclone relays do. */
class NoAtomicFileRelay extends FileRelay {
  override readonly capabilities = { ...new FileRelay("/").capabilities, createIfAbsent: false };
  /** data writes in flight, of objects up to 1 MiB and bigger, and the most seen at once */
  small = 0;
  big = 0;
  maxSmall = 0;
  maxBig = 0;
  override async write(key: string, body: Body, opts?: WriteOptions): Promise<void> {
    if (key.split("/").pop()!.startsWith(".")) return await super.write(key, body, opts);
    const big = (body as Uint8Array).length > 1 << 20;
    if (big) this.maxBig = Math.max(this.maxBig, ++this.big);
    else this.maxSmall = Math.max(this.maxSmall, ++this.small);
    try {
      // Slow enough that writes given the chance to overlap do.
      await new Promise((r) => setTimeout(r, 20));
      await super.write(key, body, opts);
    } finally {
      if (big) this.big--;
      else this.small--;
    }
  }
}

/** Replaces the settle delay of `client` with a short wait that counts the waits. */
function countSettles(client: LegacyClient): { calls: number } {
  const seen = { calls: 0 };
  client.repo.store.sleep = async () => {
    seen.calls++;
    await new Promise((r) => setTimeout(r, 10));
  };
  return seen;
}

Deno.test("legacy locks: the files of a round on a relay without atomic create share one settle delay", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(`${dir}/relay`);
    await Deno.mkdir(`${dir}/A/sub`, { recursive: true });
    await Deno.mkdir(`${dir}/B`);
    const names = Array.from({ length: 20 }, (_, i) => (i % 2 ? `sub/f${i}.txt` : `f${i}.txt`));
    for (const n of names) await Deno.writeTextFile(`${dir}/A/${n}`, `content of ${n}\n`);
    const relay = new NoAtomicFileRelay(`${dir}/relay`);
    const a = new LegacyClient(`${dir}/A`, relay, `${dir}/a.db`, {
      clientName: "peerA",
      mode: "upload",
      transfers: 4,
    });
    const b = new LegacyClient(`${dir}/B`, relay, `${dir}/b.db`, {
      clientName: "peerB",
      mode: "download",
      transfers: 4,
    });
    try {
      const pushSettles = countSettles(a);
      assertEquals((await a.round()).uploaded, 20);
      // One settle for the 20 locks, not one per file.
      assertEquals(pushSettles.calls, 1);
      // What Python clients expect: each file's data and placeholder, no lock left.
      const pushed = await snapshot(`${dir}/relay`);
      for (const n of names) {
        const at = n.lastIndexOf("/") + 1;
        assertEquals(pushed[n], `content of ${n}\n`);
        const ph = pushed[`${n.slice(0, at)}.${n.slice(at)}.placeholder`];
        assert(ph.startsWith("placeholder%1.0\npusher: peerA\n"), `${n}: ${ph}`);
      }
      assertEquals(Object.keys(pushed).filter((k) => k.endsWith(".lock")), []);
      const pullSettles = countSettles(b);
      assertEquals((await b.round()).downloaded, 20);
      assertEquals(pullSettles.calls, 1);
      assertEquals(await snapshot(`${dir}/B`), await snapshot(`${dir}/A`));
      const pulled = await snapshot(`${dir}/relay`);
      // Signed by peerB, data freed (puller count 1), no lock left.
      assertEquals(Object.keys(pulled).filter((k) => !k.endsWith(".placeholder")), []);
      for (const [k, v] of Object.entries(pulled)) assert(v.endsWith("---pullers---\npeerB"), k);
    } finally {
      a.close();
      b.close();
    }
  });
});

Deno.test("legacy: small files are sent together, files bigger than a batch one at a time", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(`${dir}/relay`);
    await Deno.mkdir(`${dir}/A/s`, { recursive: true });
    for (let i = 0; i < 3; i++) {
      await Deno.writeFile(`${dir}/A/big${i}.bin`, new Uint8Array(17 << 20).fill(i + 1));
    }
    for (let i = 0; i < 6; i++) await Deno.writeTextFile(`${dir}/A/s/small${i}.txt`, `${i}\n`);
    const relay = new NoAtomicFileRelay(`${dir}/relay`);
    const a = new LegacyClient(`${dir}/A`, relay, `${dir}/a.db`, {
      clientName: "peerA",
      mode: "upload",
      transfers: 4,
    });
    try {
      const settles = countSettles(a);
      assertEquals((await a.round()).uploaded, 9);
      assertEquals(relay.maxBig, 1);
      assert(relay.maxSmall >= 2, `small files sent one at a time (${relay.maxSmall})`);
      // A batch per big file and one for the small ones.
      assertEquals(settles.calls, 4);
    } finally {
      a.close();
    }
  });
});
