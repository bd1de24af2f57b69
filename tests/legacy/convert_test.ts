import { assert, assertEquals, failure } from "../assert.ts";
import { FileRelay } from "../../src/relay/file_relay.ts";
import { convertToNative } from "../../src/legacy/convert_to_native.ts";
import { detectLayout } from "../../src/legacy/detect_layout.ts";
import { openStore } from "../../src/protocol/open_store.ts";
import { Repository } from "../../src/engine/repository.ts";
import { collectingLogger } from "../../src/log/logger.ts";
import type { Relay } from "../../src/relay/relay.ts";
import { copyTree, FIXTURES, LegacyClient, snapshot } from "./legacy_helpers.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "escale-convert-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function nativeClient(c: LegacyClient, relay: Relay, statePath: string): Promise<Repository> {
  const { store, header } = await openStore(relay, { mode: "none" });
  return Repository.open(
    { ...c.repo.opts, mode: "shared" },
    store,
    header.created,
    statePath,
    collectingLogger(),
  );
}

Deno.test("legacy convert: pending versions are carried over, and holders download nothing again", async () => {
  await withDir(async (dir) => {
    // peerA (Python) pushed the tree for two pullers; peerC took it, peerB has not yet.
    await copyTree(`${FIXTURES}placeholder-pullers-2/after-upload/relay`, `${dir}/relay`);
    const relay = new FileRelay(`${dir}/relay`);
    for (const n of ["B", "C"]) await Deno.mkdir(`${dir}/${n}`);
    const c = new LegacyClient(`${dir}/C`, relay, `${dir}/c.db`, {
      clientName: "peerC",
      mode: "shared",
      pullerCount: 2,
    });
    const b = new LegacyClient(`${dir}/B`, relay, `${dir}/b.db`, {
      clientName: "peerB",
      mode: "shared",
      pullerCount: 2,
    });
    try {
      assertEquals((await c.round()).downloaded, 5);
      // peerC deleted one file meanwhile: its version is still pending for peerB.
      await Deno.remove(`${dir}/C/hello.txt`);
      await Deno.writeTextFile(`${dir}/B/own.txt`, "only on B");
      const report = await convertToNative(c.repo, { mode: "none" });
      assertEquals(report.pending, 5);
      assertEquals(
        await snapshot(`${dir}/C`),
        await snapshot(`${FIXTURES}tree`),
        "hello.txt carried over",
      );
      assertEquals(Object.keys(await snapshot(`${dir}/relay`)), ["escale.json"]);
      assertEquals((await detectLayout(relay)).kind, "native");
      const nc = await nativeClient(c, relay, `${dir}/c-native.db`);
      const nb = await nativeClient(b, relay, `${dir}/b-native.db`);
      try {
        await nb.round(); // registers peerB
        const sc1 = await nc.round(); // publishes C's tree, pending files included
        const sb = await nb.round();
        const want = { ...(await snapshot(`${FIXTURES}tree`)), "own.txt": "only on B" };
        assertEquals(
          Object.entries(await snapshot(`${dir}/B`)),
          Object.entries(want).sort(([x], [y]) => (x < y ? -1 : 1)),
        );
        assertEquals(sb.downloaded, 5, "B lacked the pending files");
        const sc = await nc.round();
        assertEquals(sc1.downloaded + sc.downloaded, 1, "C gets B's own file only");
        assertEquals(await snapshot(`${dir}/C`), await snapshot(`${dir}/B`));
      } finally {
        await nc.close();
        await nb.close();
      }
    } finally {
      c.close();
      b.close();
    }
  });
});

Deno.test("legacy convert: a client that already holds the files downloads none of them", async () => {
  await withDir(async (dir) => {
    await copyTree(`${FIXTURES}placeholder-pullers-2/after-upload/relay`, `${dir}/relay`);
    const relay = new FileRelay(`${dir}/relay`);
    for (const n of ["B", "C"]) await Deno.mkdir(`${dir}/${n}`);
    const c = new LegacyClient(`${dir}/C`, relay, `${dir}/c.db`, {
      clientName: "peerC",
      mode: "shared",
      pullerCount: 2,
    });
    const b = new LegacyClient(`${dir}/B`, relay, `${dir}/b.db`, {
      clientName: "peerB",
      mode: "shared",
      pullerCount: 2,
    });
    try {
      await c.round();
      await b.round();
      await convertToNative(b.repo, { mode: "none" });
      const nc = await nativeClient(c, relay, `${dir}/c-native.db`);
      const nb = await nativeClient(b, relay, `${dir}/b-native.db`);
      try {
        let down = 0;
        for (let i = 0; i < 3; i++) {
          down += (await nb.round()).downloaded + (await nc.round()).downloaded;
        }
        assertEquals(down, 0);
        assertEquals(await snapshot(`${dir}/C`), await snapshot(`${dir}/B`));
      } finally {
        await nc.close();
        await nb.close();
      }
    } finally {
      c.close();
      b.close();
    }
  });
});

Deno.test("legacy convert: another client's lock stops it before anything changes; a rerun finishes", async () => {
  await withDir(async (dir) => {
    await copyTree(`${FIXTURES}placeholder-plain/after-upload/relay`, `${dir}/relay`);
    await Deno.copyFile(`${FIXTURES}locks/relay/.hello.txt.lock`, `${dir}/relay/.hello.txt.lock`);
    const relay = new FileRelay(`${dir}/relay`);
    await Deno.mkdir(`${dir}/B`);
    const b = new LegacyClient(`${dir}/B`, relay, `${dir}/b.db`, {
      clientName: "peerB",
      mode: "shared",
    });
    try {
      const before = await snapshot(`${dir}/relay`);
      const e = await failure(convertToNative(b.repo, { mode: "none" }));
      assertEquals(e.kind, "busy");
      assert(e.message.includes("hello.txt is locked by peerA"), e.message);
      assertEquals(await snapshot(`${dir}/relay`), before);
      await Deno.remove(`${dir}/relay/.hello.txt.lock`);
      // A conversion cut short after removing some placeholders: still Escale's, convert again.
      await b.round();
      await Deno.remove(`${dir}/relay/sub/.notes.md.placeholder`);
      await Deno.remove(`${dir}/relay/.hello.txt.placeholder`);
      assertEquals((await detectLayout(relay)).kind, "escale-placeholder");
      await convertToNative(b.repo, { mode: "none" });
      assertEquals(Object.keys(await snapshot(`${dir}/relay`)), ["escale.json"]);
    } finally {
      b.close();
    }
  });
});

Deno.test("legacy convert: a client that never sends is refused before anything changes", async () => {
  for (const c of ["placeholder-plain", "index-1"]) {
    await withDir(async (dir) => {
      await copyTree(`${FIXTURES}${c}/after-upload/relay`, `${dir}/relay`);
      const relay = new FileRelay(`${dir}/relay`);
      await Deno.mkdir(`${dir}/B`);
      const b = new LegacyClient(`${dir}/B`, relay, `${dir}/b.db`, {
        clientName: "peerB",
        mode: "download",
        index: c === "index-1" ? { kind: "single" } : undefined,
      });
      try {
        const before = await snapshot(`${dir}/relay`);
        const e = await failure(convertToNative(b.repo, { mode: "none" }));
        assertEquals(e.kind, "config");
        assert(e.message.includes(`"mode = download" never sends`), e.message);
        assertEquals(await snapshot(`${dir}/relay`), before);
        assertEquals(await snapshot(`${dir}/B`), {});
      } finally {
        b.close();
      }
    });
  }
});
