import { conformanceSteps } from "./conformance.ts";
import { MemoryRelay } from "../../src/relay/memory_relay.ts";
import { FileRelay } from "../../src/relay/file_relay.ts";
import { isKind } from "../../src/errors/errors.ts";

Deno.test("memory relay passes the conformance suite", async (t) => {
  await conformanceSteps(t, new MemoryRelay());
});

Deno.test("file relay passes the conformance suite", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    await conformanceSteps(t, await new FileRelay(dir).open());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("file relay refuses a missing folder and keys that escape", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let err: unknown;
    await new FileRelay(`${dir}/nope`).open().catch((e) => (err = e));
    if (!isKind(err, "not-found")) throw new Error(`expected not-found, got ${err}`);
    const r = await new FileRelay(dir).open();
    for (const bad of ["../x", "/etc/passwd", "a/../../b", "a\0b", ""]) {
      let e2: unknown;
      await r.write(bad, new Uint8Array(1)).catch((e) => (e2 = e));
      if (!isKind(e2, "permanent")) throw new Error(`key ${JSON.stringify(bad)} was accepted`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("file relay fills a reader's own buffer (BYOB) for a range, then ends", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await new FileRelay(dir).open();
    const data = new Uint8Array(3 * 1024 * 1024 + 5).map((_, i) => (i * 7) & 0xff);
    await r.write("obj", data);
    const reader = (await r.read("obj", { offset: 100, length: 2 * 1024 * 1024 })).getReader({
      mode: "byob",
    });
    let buf = new Uint8Array(2 * 1024 * 1024);
    let got = 0;
    while (got < buf.length) {
      const res = await reader.read(new Uint8Array(buf.buffer, got, buf.length - got));
      if (res.done || !res.value) break;
      buf = new Uint8Array(res.value.buffer);
      got += res.value.byteLength;
    }
    const end = await reader.read(new Uint8Array(1));
    if (!end.done) throw new Error("the range did not end where asked");
    if (got !== buf.length) throw new Error(`read ${got} bytes`);
    for (let i = 0; i < buf.length; i++) {
      if (buf[i] !== data[100 + i]) throw new Error(`byte ${i} differs`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
