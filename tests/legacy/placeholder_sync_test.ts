// Round trips against the snapshots of relays written by the real Python Escale 0.7.13
// (tests/fixtures/escale-legacy): escale reads what Escale wrote, and writes what Escale writes.
import { createHash } from "node:crypto";
import { assert, assertEquals } from "../assert.ts";
import { FileRelay } from "../../src/relay/file_relay.ts";
import { Fernet } from "../../src/legacy/fernet.ts";
import { parsePlaceholder } from "../../src/legacy/placeholder.ts";
import { formatLock } from "../../src/legacy/lock_file.ts";
import { lockKey } from "../../src/legacy/names.ts";
import {
  copyTree,
  FIXTURES,
  LegacyClient,
  mtimes,
  pushedTree,
  snapshot,
} from "./legacy_helpers.ts";

const TREE_MTIMES = {
  "docs été/résumé ü.txt": 1700000004,
  "hello.txt": 1700000001,
  "photos.2020/p.jpg": 1700000005,
  "sub/deep/data.bin": 1700000003,
  "sub/notes.md": 1700000002,
};

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "escale-legacy-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function fernetOf(c: string): Promise<Fernet | undefined> {
  if (!c.includes("fernet")) return undefined;
  return Fernet.fromKeyText(await Deno.readFile(`${FIXTURES}${c}/config/fernet.key`));
}

for (const c of ["placeholder-plain", "placeholder-fernet"]) {
  Deno.test(`legacy ${c}: a puller reads what Escale's pusher wrote and leaves what Escale's puller leaves`, async () => {
    await withDir(async (dir) => {
      await copyTree(`${FIXTURES}${c}/after-upload/relay`, `${dir}/relay`);
      await Deno.mkdir(`${dir}/B`);
      const b = new LegacyClient(`${dir}/B`, new FileRelay(`${dir}/relay`), `${dir}/b.db`, {
        clientName: "peerB",
        mode: "download",
        fernet: await fernetOf(c),
      });
      try {
        const s = await b.round();
        assertEquals(s.downloaded, 5);
        assertEquals(await snapshot(`${dir}/B`), await snapshot(`${FIXTURES}tree`));
        assertEquals(await mtimes(`${dir}/B`), TREE_MTIMES);
        // Escale's own puller left exactly this relay (both cases: the placeholders are plain).
        assertEquals(
          await snapshot(`${dir}/relay`),
          await snapshot(`${FIXTURES}${c}/after-pull/relay`),
        );
        const again = await b.round();
        assertEquals([again.downloaded, again.relayWrites], [0, 0]);
      } finally {
        b.close();
      }
    });
  });

  Deno.test(`legacy ${c}: a pusher writes what Escale's pusher writes`, async () => {
    await withDir(async (dir) => {
      await pushedTree(`${dir}/A`);
      await Deno.mkdir(`${dir}/relay`);
      const fernet = await fernetOf(c);
      const a = new LegacyClient(`${dir}/A`, new FileRelay(`${dir}/relay`), `${dir}/a.db`, {
        clientName: "peerA",
        mode: "upload",
        fernet,
      });
      try {
        assertEquals((await a.round()).uploaded, 5);
        const ours = await snapshot(`${dir}/relay`);
        const theirs = await snapshot(`${FIXTURES}${c}/after-upload/relay`);
        assertEquals(Object.keys(ours), Object.keys(theirs));
        for (const [k, v] of Object.entries(theirs)) {
          if (k.includes("/.") || k.startsWith(".") || !fernet) {
            assertEquals(ours[k], v, k); // placeholders (and plain data) byte for byte
          } else {
            // Fernet tokens differ by time and IV: same length, and they decrypt to the file.
            assertEquals(ours[k].length, v.length, k);
            const token = Uint8Array.from(ours[k], (ch) => ch.charCodeAt(0));
            assertEquals(fernet.decrypt(token, k), await Deno.readFile(`${FIXTURES}tree/${k}`), k);
          }
        }
        const again = await a.round();
        assertEquals([again.uploaded, again.relayWrites], [0, 0]);
      } finally {
        a.close();
      }
    });
  });
}

Deno.test("legacy: escale pusher to escale puller through the placeholder layout, then a change", async () => {
  await withDir(async (dir) => {
    await pushedTree(`${dir}/A`);
    await Deno.mkdir(`${dir}/B`);
    const relay = new FileRelay(`${dir}/relay`);
    const a = new LegacyClient(`${dir}/A`, relay, `${dir}/a.db`, {
      clientName: "peerA",
      mode: "shared",
    });
    const b = new LegacyClient(`${dir}/B`, relay, `${dir}/b.db`, {
      clientName: "peerB",
      mode: "shared",
    });
    try {
      await a.round();
      await b.round();
      assertEquals(await snapshot(`${dir}/B`), await snapshot(`${dir}/A`));
      await Deno.writeTextFile(`${dir}/B/hello.txt`, "changed by B\n");
      await b.round();
      const p = parsePlaceholder(
        await Deno.readTextFile(`${dir}/relay/.hello.txt.placeholder`),
        "p",
      );
      assertEquals([p.pusher, p.pullers], ["peerB", []]);
      await a.round();
      assertEquals(await Deno.readTextFile(`${dir}/A/hello.txt`), "changed by B\n");
      // The last puller removed the data; only placeholders remain.
      assert(
        Object.keys(await snapshot(`${dir}/relay`)).every((k) =>
          k.split("/").pop()!.startsWith(".")
        ),
      );
      // Nothing travels back.
      assertEquals((await b.round()).downloaded + (await a.round()).uploaded, 0);
    } finally {
      a.close();
      b.close();
    }
  });
});

Deno.test("legacy: puller count counts names, so every puller gets the file (Escale's pullers-2 relay)", async () => {
  await withDir(async (dir) => {
    await copyTree(`${FIXTURES}placeholder-pullers-2/after-upload/relay`, `${dir}/relay`);
    const relay = new FileRelay(`${dir}/relay`);
    const mk = (n: string) =>
      Deno.mkdir(`${dir}/${n}`).then(() =>
        new LegacyClient(`${dir}/${n}`, relay, `${dir}/${n}.db`, {
          clientName: n,
          mode: "download",
          pullerCount: 2,
        })
      );
    const b = await mk("peerB");
    const c = await mk("peerC");
    try {
      assertEquals((await b.round()).downloaded, 5);
      assert(
        await Deno.stat(`${dir}/relay/hello.txt`).then(() => true),
        "the first of two pullers kept the data",
      );
      assertEquals(
        parsePlaceholder(await Deno.readTextFile(`${dir}/relay/.hello.txt.placeholder`), "p")
          .pullers,
        ["peerB"],
      );
      assertEquals((await c.round()).downloaded, 5);
      assertEquals(await snapshot(`${dir}/peerC`), await snapshot(`${FIXTURES}tree`));
      const p = parsePlaceholder(
        await Deno.readTextFile(`${dir}/relay/.hello.txt.placeholder`),
        "p",
      );
      assertEquals(p.pullers, ["peerB", "peerC"]);
      assert(
        Object.keys(await snapshot(`${dir}/relay`)).every((k) =>
          k.split("/").pop()!.startsWith(".")
        ),
        "data left",
      );
    } finally {
      b.close();
      c.close();
    }
  });
});

Deno.test("legacy: a file edited on both sides keeps both (the older under a conflict name)", async () => {
  await withDir(async (dir) => {
    await copyTree(`${FIXTURES}placeholder-plain/after-upload/relay`, `${dir}/relay`);
    await Deno.mkdir(`${dir}/B`);
    const relay = new FileRelay(`${dir}/relay`);
    const b = new LegacyClient(`${dir}/B`, relay, `${dir}/b.db`, {
      clientName: "peerB",
      mode: "shared",
    });
    try {
      await b.round();
      await b.round();
      // peerA (Python) publishes a new hello.txt while peerB edits its own copy.
      await Deno.writeTextFile(`${dir}/relay/hello.txt`, "A's version\n");
      const { createHash } = await import("node:crypto");
      const real = createHash("sha512").update("A's version\n").digest("hex");
      await Deno.writeTextFile(
        `${dir}/relay/.hello.txt.placeholder`,
        `placeholder%1.0\npusher: peerA\ntimestamp: 1800000000\nchecksum: ${real}\n---pullers---`,
      );
      await Deno.writeTextFile(`${dir}/B/hello.txt`, "B's version\n");
      await Deno.utime(`${dir}/B/hello.txt`, 1700000100, 1700000100);
      const s = await b.round();
      assertEquals(s.conflicts, 1);
      const tree = await snapshot(`${dir}/B`);
      assertEquals(tree["hello.txt"], "A's version\n");
      const copies = Object.keys(tree).filter((k) => k.startsWith("hello.conflict-peerB-"));
      assertEquals(copies.length, 1);
      assertEquals(tree[copies[0]], "B's version\n");
      // The copy is published for the Python clients; the relay's hello.txt was taken.
      const relayNow = await snapshot(`${dir}/relay`);
      assert(relayNow[copies[0]] === "B's version\n", "conflict copy not published");
      assert(!("hello.txt" in relayNow), "A's data should have been taken");
    } finally {
      b.close();
    }
  });
});

Deno.test("legacy: include/exclude rules and escale's own files hold for pulls and pushes", async () => {
  await withDir(async (dir) => {
    await copyTree(`${FIXTURES}placeholder-plain/after-upload/relay`, `${dir}/relay`);
    await Deno.mkdir(`${dir}/B`);
    const noJpg = {
      acceptFile: (p: string) => !p.endsWith(".jpg"),
      acceptDir: (p: string) => p !== "sub/deep",
    };
    const b = new LegacyClient(`${dir}/B`, new FileRelay(`${dir}/relay`), `${dir}/b.db`, {
      clientName: "peerB",
      mode: "download",
      filter: noJpg,
      ownFiles: ["hello.txt"],
    });
    try {
      assertEquals((await b.round()).downloaded, 2);
      assertEquals(Object.keys(await snapshot(`${dir}/B`)), [
        "docs été/résumé ü.txt",
        "sub/notes.md",
      ]);
      // What this client does not take stays for those that want it, unsigned.
      for (const f of ["photos.2020/p.jpg", "sub/deep/data.bin", "hello.txt"]) {
        assert(await Deno.stat(`${dir}/relay/${f}`).then(() => true, () => false), f);
        const slash = f.lastIndexOf("/");
        const ph = `${f.slice(0, slash + 1)}.${f.slice(slash + 1)}.placeholder`;
        assertEquals(
          parsePlaceholder(await Deno.readTextFile(`${dir}/relay/${ph}`), f).pullers,
          [],
        );
      }
    } finally {
      b.close();
    }
  });
  await withDir(async (dir) => {
    await pushedTree(`${dir}/A`);
    const a = new LegacyClient(`${dir}/A`, new FileRelay(`${dir}/relay`), `${dir}/a.db`, {
      clientName: "peerA",
      mode: "upload",
      filter: { acceptFile: (p: string) => !p.endsWith(".jpg"), acceptDir: () => true },
      ownFiles: ["hello.txt"],
    });
    try {
      assertEquals((await a.round()).uploaded, 3);
      const keys = Object.keys(await snapshot(`${dir}/relay`));
      assert(!keys.some((k) => k.includes("p.jpg") || k.includes("hello.txt")), keys.join(" "));
    } finally {
      a.close();
    }
  });
});

Deno.test("legacy: a puller stopped between signing and deleting the data deletes it next round", async () => {
  await withDir(async (dir) => {
    await copyTree(`${FIXTURES}placeholder-plain/after-upload/relay`, `${dir}/relay`);
    await Deno.mkdir(`${dir}/B`);
    const relay = new FileRelay(`${dir}/relay`);
    const b = new LegacyClient(`${dir}/B`, relay, `${dir}/b.db`, {
      clientName: "peerB",
      mode: "download",
    });
    try {
      assertEquals((await b.round()).downloaded, 5);
      // As if the run had been killed after signing hello.txt, before deleting its data.
      await Deno.copyFile(
        `${FIXTURES}placeholder-plain/after-upload/relay/hello.txt`,
        `${dir}/relay/hello.txt`,
      );
      const s = await b.round();
      assertEquals(s.downloaded, 0);
      assertEquals(
        await snapshot(`${dir}/relay`),
        await snapshot(`${FIXTURES}placeholder-plain/after-pull/relay`),
      );
    } finally {
      b.close();
    }
  });
});

Deno.test("legacy: checksums of the other algorithms Escale's `checksum` option allows are checked", async () => {
  // As Python Escale writes them with `checksum = blake2b` (or sha3_512, blake2s, …): hexdigest()
  // of the plaintext, and nothing in the placeholder names the algorithm.
  for (const algorithm of ["blake2b512", "sha3-512", "blake2s256", "sha3-256", "sha224", "md5"]) {
    await withDir(async (dir) => {
      await copyTree(`${FIXTURES}placeholder-plain/after-upload/relay`, `${dir}/relay`);
      const rewrite = async (data: string, placeholder: string, content: Uint8Array) => {
        const text = await Deno.readTextFile(`${dir}/relay/${placeholder}`);
        const sum = createHash(algorithm).update(content).digest("hex");
        await Deno.writeTextFile(
          `${dir}/relay/${placeholder}`,
          text.replace(/^checksum: .*$/m, `checksum: ${sum}`),
        );
        await Deno.writeFile(`${dir}/relay/${data}`, content);
      };
      await rewrite(
        "hello.txt",
        ".hello.txt.placeholder",
        await Deno.readFile(`${FIXTURES}tree/hello.txt`),
      );
      // Data that matches no algorithm of its checksum's length is still refused.
      await rewrite("sub/notes.md", "sub/.notes.md.placeholder", new TextEncoder().encode("other"));
      await Deno.writeTextFile(`${dir}/relay/sub/notes.md`, "tampered");
      await Deno.mkdir(`${dir}/B`);
      const b = new LegacyClient(`${dir}/B`, new FileRelay(`${dir}/relay`), `${dir}/b.db`, {
        clientName: "peerB",
        mode: "download",
      });
      try {
        const s = await b.round();
        assertEquals([s.downloaded, s.problems], [4, 1], algorithm);
        assertEquals(
          await Deno.readFile(`${dir}/B/hello.txt`),
          await Deno.readFile(`${FIXTURES}tree/hello.txt`),
        );
        assert(!(await Deno.stat(`${dir}/B/sub/notes.md`).then(() => true, () => false)));
        assert(b.lines.some((l) => l.includes("does not match its placeholder's checksum")));
      } finally {
        b.close();
      }
    });
  }
});

Deno.test("legacy: a pusher killed while releasing the lock of a complete publication keeps it; one killed before its data sends the file again", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(`${dir}/A`);
    await Deno.mkdir(`${dir}/B`);
    await Deno.writeTextFile(`${dir}/A/done.txt`, "published\n");
    await Deno.writeTextFile(`${dir}/A/half.txt`, "half\n");
    const relay = new FileRelay(`${dir}/relay`);
    const opts = (clientName: string, mode: "upload" | "download") => ({ clientName, mode });
    let a = new LegacyClient(`${dir}/A`, relay, `${dir}/a.db`, opts("peerA", "upload"));
    const b = new LegacyClient(`${dir}/B`, relay, `${dir}/b.db`, opts("peerB", "download"));
    try {
      await a.round();
      a.close();
      // What a kill leaves: done.txt complete and recorded, its lock not yet released; half.txt's
      // placeholder written but its data not (its lock held).
      const lock = formatLock({ owner: "peerA", mode: "w" });
      await Deno.writeTextFile(`${dir}/relay/${lockKey("done.txt")}`, lock);
      await Deno.writeTextFile(`${dir}/relay/${lockKey("half.txt")}`, lock);
      await Deno.remove(`${dir}/relay/half.txt`);
      a = new LegacyClient(`${dir}/A`, relay, `${dir}/a.db`, opts("peerA", "upload"));
      await a.round();
      await b.round();
      assertEquals(await snapshot(`${dir}/B`), {
        "done.txt": "published\n",
        "half.txt": "half\n",
      });
    } finally {
      a.close();
      b.close();
    }
  });
});
