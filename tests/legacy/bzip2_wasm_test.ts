// The WebAssembly bzip2 encoder (src/util/bzip2_wasm.ts), which a pusher uses without the
// system's `bzip2` program: its output is read back by the JavaScript decoder and, where it is
// installed, by the `bzip2` program (Python's bz2 module reads the same concatenated streams).
import { assertEquals } from "../assert.ts";
import { bunzip2Stream } from "../../src/util/bunzip2_stream.ts";
import { bzip2Available } from "../../src/util/bzip2_program.ts";
import { bzip2Wasm } from "../../src/util/bzip2_wasm.ts";
import { bytesStream, collect } from "../../src/util/streams.ts";

async function compress(data: Uint8Array, piece: number): Promise<Uint8Array> {
  const bz = bzip2Wasm();
  const write = (async () => {
    const w = bz.writable.getWriter();
    for (let i = 0; i < data.length; i += piece) await w.write(data.slice(i, i + piece));
    await w.close();
  })();
  const [out] = await Promise.all([collect(bz.readable, 1 << 28, "test"), write]);
  return out;
}

async function viaProgram(bz: Uint8Array): Promise<Uint8Array> {
  const child = new Deno.Command("bzip2", { args: ["-dc"], stdin: "piped", stdout: "piped" })
    .spawn();
  const [out] = await Promise.all([
    new Response(child.stdout).arrayBuffer(),
    bytesStream(bz).pipeTo(child.stdin),
  ]);
  assertEquals((await child.status).code, 0);
  return new Uint8Array(out);
}

function random(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65_536) crypto.getRandomValues(out.subarray(i, i + 65_536));
  return out;
}

const pattern = crypto.getRandomValues(new Uint8Array(50_000)).map((x) => x % 32);
const CASES: [string, Uint8Array, number][] = [
  ["empty", new Uint8Array(0), 1],
  ["an index page", new TextEncoder().encode("hello.txt 12\nplaceholder\n".repeat(20)), 7],
  [
    "several chunks, in odd pieces",
    new Uint8Array(2_100_000).map((_, i) => pattern[i % 50_000]),
    65_537,
  ],
  ["incompressible, one chunk exactly", random(900_000), 900_000],
];

for (const [name, data, piece] of CASES) {
  Deno.test(`bzip2 (WebAssembly): ${name} comes back as it was`, async () => {
    const bz = await compress(data, piece);
    assertEquals(new TextDecoder().decode(bz.subarray(0, 3)), "BZh");
    const back = await collect(bytesStream(bz).pipeThrough(bunzip2Stream("test")), 1 << 28, "t");
    assertEquals(back, data);
    if (await bzip2Available()) assertEquals(await viaProgram(bz), data);
  });
}
