// One bad entry never stops a repository (issue 18): a version that cannot be written here is
// reported and kept in the state's problem list, everything else syncs, and it is retried when
// the cause is gone.
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { assert, assertEquals } from "../assert.ts";
import { type Client, withSandbox } from "./sandbox.ts";
import { MemoryRelay } from "../../src/relay/memory_relay.ts";
import { commitKey, dataKey, type Entry } from "../../src/protocol/format.ts";
import { unpublishable } from "../../src/protocol/sync_path.ts";

const FORGER = "0123456789abcdef";

function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Publishes, as a client that never runs, one commit putting these files. */
async function forge(relay: MemoryRelay, files: Record<string, string>): Promise<void> {
  const entries: Entry[] = [];
  const parts: Uint8Array[] = [];
  let off = 0;
  let n = 0;
  for (const [path, text] of Object.entries(files)) {
    const body = new TextEncoder().encode(text);
    entries.push({
      op: "put",
      path,
      vv: { [FORGER]: ++n },
      origin: FORGER,
      size: body.length,
      mtime: Date.parse("2026-01-01T00:00:00Z"),
      hash: sha256(body),
      data: [[0, off, body.length]],
    });
    parts.push(body);
    off += body.length;
  }
  const data = new Uint8Array(off);
  parts.reduce((at, p) => (data.set(p, at), at + p.length), 0);
  await relay.write(dataKey(FORGER, 1, 0), data);
  const commit = {
    v: 1,
    client: FORGER,
    seq: 1,
    time: new Date().toISOString(),
    objects: [{ key: dataKey(FORGER, 1, 0), size: off }],
    entries,
  };
  await relay.write(
    commitKey(FORGER, 1),
    new Uint8Array(gzipSync(new TextEncoder().encode(JSON.stringify(commit)))),
  );
}

async function problems(c: Client): Promise<string[]> {
  return (await c.repo()).state.problems().map((p) => `${p.direction} ${p.path}`);
}

Deno.test("a name this file system cannot hold is reported; the rest of its commit arrives", async () => {
  const relay = new MemoryRelay();
  await withSandbox(async (sb) => {
    const b = await sb.client("B", "download");
    const long = "é".repeat(200) + ".txt"; // 204 characters, 404 bytes
    await forge(relay, { "ok.txt": "fine", [long]: "too long", "z/also.txt": "also fine" });
    await b.sync();
    await b.sync(); // the next round does not fail either
    assertEquals(await b.tree(), { "ok.txt": "fine", "z/also.txt": "also fine" });
    assertEquals(await problems(b), [`down ${long}`]);
    assert(b.lines.some((l) => l.includes("cannot be written here")), b.lines.join("\n"));
  }, relay);
});

Deno.test("one commit holding both x and x/inner: one arrives, the other is reported", async () => {
  const relay = new MemoryRelay();
  await withSandbox(async (sb) => {
    const b = await sb.client("B", "download");
    await forge(relay, { "x": "a file", "x/inner": "a file in a folder", "y.txt": "y" });
    await b.sync();
    const tree = await b.tree();
    assertEquals(tree["y.txt"], "y");
    assertEquals(Object.keys(tree).length, 2, JSON.stringify(tree));
    assertEquals((await problems(b)).length, 1);
  }, relay);
});

Deno.test("a file on the relay where this client has a folder: reported, then retried once the folder is gone", async () => {
  const relay = new MemoryRelay();
  await withSandbox(async (sb) => {
    const a = await sb.client("A");
    const b = await sb.client("B");
    await b.write("x/inner.txt", "B's file in folder x");
    await a.write("x", "A's file named x");
    await a.write("y.txt", "y");
    await a.sync();
    await b.sync(); // y.txt arrives, x cannot; B still publishes x/inner.txt
    assertEquals(await b.read("y.txt"), "y");
    assertEquals(await problems(b), ["down x"]);
    await a.sync(); // and A cannot write x/inner.txt over its file x
    assertEquals(await problems(a), ["down x/inner.txt"]);
    // The user on B removes the folder: its deletion travels, and B asks for x again.
    await b.rm("x/inner.txt");
    await Deno.remove(`${b.root}/x`);
    for (let i = 0; i < 3; i++) {
      await b.sync();
      await a.sync();
    }
    assertEquals(await b.tree(), { "x": "A's file named x", "y.txt": "y" });
    assertEquals(await a.tree(), await b.tree());
    assertEquals(await problems(a), []);
    assertEquals(await problems(b), []);
    assertEquals(
      [...relay.objects.keys()].filter((k) => k !== "escale.json" && !k.startsWith("clients/")),
      [],
    );
  }, relay);
});

Deno.test("a local name no relay path can hold is reported and not sent; the rest syncs", async () => {
  const relay = new MemoryRelay();
  await withSandbox(async (sb) => {
    const a = await sb.client("A");
    const b = await sb.client("B");
    await a.write("back\\slash.txt", "a name Windows readers cannot hold");
    await a.write("ok.txt", "fine");
    await a.sync();
    await b.sync();
    assertEquals(await b.tree(), { "ok.txt": "fine" });
    assertEquals(await problems(a), ["up back\\slash.txt"]);
    await a.rm("back\\slash.txt");
    await a.sync();
    assertEquals(await problems(a), []);
  }, relay);
});

Deno.test("writers count name limits in bytes, as file systems do", () => {
  assertEquals(unpublishable("é".repeat(125) + ".txt"), null); // 129 characters, 254 bytes
  assertEquals(unpublishable("d/" + "é".repeat(127)), null);
  assertEquals(unpublishable("é".repeat(128)), "a name longer than 255 bytes");
  assertEquals(unpublishable("a".repeat(255)), null);
  assertEquals(unpublishable("a".repeat(256)), "a name longer than 255 characters");
  assertEquals(unpublishable("a/../b"), "empty, '.' or '..' segment");
  assertEquals(unpublishable(("é".repeat(100) + "/").repeat(21) + "x"), "longer than 4096 bytes");
});

Deno.test("temporary files left by a killed download are removed by the next round", async () => {
  await withSandbox(async (sb) => {
    const b = await sb.client("B");
    await b.write("d/.escale-tmp-0123456789abc", "half a file");
    await b.write(".escale-tmp-fedcba987654", "another");
    await b.write("kept.txt", "kept");
    await b.sync();
    assertEquals(await b.tree(), { "kept.txt": "kept" });
  });
});
