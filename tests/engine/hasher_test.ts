import { createHash } from "node:crypto";
import { assertEquals, assertRejects } from "../assert.ts";
import { Hasher, WORKER_MIN } from "../../src/engine/hasher.ts";
import { EscaleError } from "../../src/errors/errors.ts";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function bigData(): Uint8Array {
  const b = new Uint8Array(WORKER_MIN + 12345);
  for (let i = 0; i < b.length; i += 65536) crypto.getRandomValues(b.subarray(i, i + 65536));
  return b;
}

for (
  const [label, url] of [
    ["worker", undefined],
    ["main thread (the worker fails to load)", "data:text/javascript,throw new Error('no worker')"],
  ] as const
) {
  Deno.test(`Hasher on the ${label}: whole files and followed writes give SHA-256`, async () => {
    const dir = await Deno.makeTempDir();
    const h = new Hasher(url);
    try {
      const data = bigData();
      await Deno.writeFile(`${dir}/big`, data);
      assertEquals(await h.file(`${dir}/big`, data.length), sha(data));
      await Deno.writeFile(`${dir}/small`, data.subarray(0, 100));
      assertEquals(await h.file(`${dir}/small`, 100), sha(data.subarray(0, 100)));

      // Followed while written in uneven pieces, as the receive path does.
      const f = Deno.openSync(`${dir}/growing`, { write: true, createNew: true });
      const follow = h.follow(`${dir}/growing`);
      let written = 0;
      for (const n of [1, 3 * 1024 * 1024, 777, 4 * 1024 * 1024]) {
        f.writeSync(data.subarray(written, written + n));
        written += n;
        follow.progress(written);
      }
      f.writeSync(data.subarray(written));
      f.close();
      assertEquals(await follow.end(data.length), sha(data));

      await assertRejects(
        () => h.file(`${dir}/missing`, WORKER_MIN),
        (e) => e instanceof EscaleError && e.kind === "local-io" && e.message.includes("missing"),
      );
    } finally {
      h.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("Hasher: a followed file that is shorter than announced fails, a cancelled one is dropped", async () => {
  const dir = await Deno.makeTempDir();
  const h = new Hasher();
  try {
    await Deno.writeFile(`${dir}/short`, new Uint8Array(2 * 1024 * 1024));
    const follow = h.follow(`${dir}/short`);
    follow.progress(2 * 1024 * 1024);
    await assertRejects(() => follow.end(3 * 1024 * 1024), (e) => e instanceof EscaleError);
    const dropped = h.follow(`${dir}/short`);
    dropped.progress(2 * 1024 * 1024);
    dropped.cancel();
    // The worker still answers other requests after both.
    const data = bigData();
    await Deno.writeFile(`${dir}/big`, data);
    assertEquals(await h.file(`${dir}/big`, data.length), sha(data));
  } finally {
    h.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Hasher: close finishes awaited hashes on the main thread", async () => {
  const dir = await Deno.makeTempDir();
  const h = new Hasher();
  try {
    const data = bigData();
    await Deno.writeFile(`${dir}/big`, data);
    const p = h.file(`${dir}/big`, data.length);
    h.close();
    assertEquals(await p, sha(data));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Hasher: small files written on the worker, and a failing one reported without a leftover", async () => {
  const dir = await Deno.makeTempDir();
  const h = new Hasher();
  try {
    await Deno.mkdir(`${dir}/taken`); // a folder where a file should go: the rename fails
    const res = await h.writeFiles([
      { tmp: `${dir}/.t1`, dest: `${dir}/one`, data: new Uint8Array([1, 2, 3]), mtime: 1_000_000 },
      { tmp: `${dir}/.t2`, dest: `${dir}/taken`, data: new Uint8Array([4]), mtime: null },
    ]);
    assertEquals("size" in res[0] ? [res[0].size, res[0].mtime] : res[0], [3, 1_000_000]);
    assertEquals(Array.from(await Deno.readFile(`${dir}/one`)), [1, 2, 3]);
    assertEquals("error" in res[1], true);
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["one", "taken"]);
  } finally {
    h.close();
    await Deno.remove(dir, { recursive: true });
  }
});
