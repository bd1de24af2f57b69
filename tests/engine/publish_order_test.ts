// A commit is sent while its data objects are still on their way (push.ts, WriteOptions.after),
// and becomes visible only once they are all stored, without the files that changed meanwhile.
import { assert, assertEquals } from "../assert.ts";
import { Sandbox } from "./sandbox.ts";
import { MemoryRelay } from "../../src/relay/memory_relay.ts";
import { type Body, openBody, type WriteOptions } from "../../src/relay/relay.ts";
import { collect } from "../../src/util/streams.ts";

/** Holds every data object, once its body was read, until `release()`; logs what happens. */
class HeldData extends MemoryRelay {
  readonly events: string[] = [];
  #release = () => {};
  #held = new Promise<void>((ok) => this.#release = ok);
  #commitWaiting = () => {};
  /** settles once a commit write began while data objects were held */
  readonly commitWaiting = new Promise<void>((ok) => this.#commitWaiting = ok);
  hold = true;

  release(): void {
    this.#release();
  }

  override async write(key: string, body: Body, opts?: WriteOptions): Promise<void> {
    const kind = key.split("/")[0];
    if (kind === "commits") {
      this.events.push(`start ${kind}`);
      if (this.hold) this.#commitWaiting();
    }
    if (kind !== "data" || !this.hold) {
      await super.write(key, body, opts);
      if (kind === "commits") this.events.push(`visible ${kind}`);
      return;
    }
    // The body is read (the local files are read) before the object is held.
    const bytes = await collect(openBody(body), Number.MAX_SAFE_INTEGER);
    await this.#held;
    await super.write(key, bytes, opts);
    this.events.push(`visible ${kind}`);
  }
}

Deno.test("a commit goes out while its data objects are on their way, and is visible only after them", async () => {
  const relay = new HeldData();
  const sb = await Sandbox.create(relay);
  try {
    const a = await sb.client("A", "upload");
    const b = await sb.client("B", "download");
    await b.sync();
    // About 160 KiB: three data objects of the sandbox's 64 KiB chunks, all sent at once.
    for (let i = 0; i < 40; i++) await a.write(`f${i}.txt`, `file ${i} `.repeat(500));
    const round = a.sync();
    await relay.commitWaiting;
    // The commit's write began; nothing of it is visible while its data is held.
    assertEquals([...relay.objects.keys()].filter((k) => k.startsWith("commits/")), []);
    relay.release();
    const s = await round;
    assertEquals(s.uploaded, 40);
    const firstData = relay.events.indexOf("visible data");
    assert(relay.events.indexOf("start commits") < firstData, relay.events.join(", "));
    assertEquals(relay.events.at(-1), "visible commits", relay.events.join(", "));
    await b.sync();
    assertEquals(await b.read("f7.txt"), "file 7 ".repeat(500));
  } finally {
    await sb.cleanup();
  }
});

Deno.test("a file changed while its data object was still on its way is left out, and sent next round", async () => {
  const relay = new HeldData();
  const sb = await Sandbox.create(relay);
  try {
    const a = await sb.client("A", "upload");
    const b = await sb.client("B", "download");
    await b.sync();
    await a.write("same.txt", "unchanged");
    await a.write("moving.txt", "first version");
    const round = a.sync();
    await relay.commitWaiting;
    // After its bytes were read for the data object, before the object is stored.
    await a.write("moving.txt", "second, longer version");
    relay.release();
    const s = await round;
    assertEquals(s.uploaded, 1);
    assert(a.lines.some((l) => l.includes("moving.txt: changed while it was being sent")));
    await b.sync();
    assertEquals(await b.read("same.txt"), "unchanged");
    assertEquals(Object.keys(await b.tree()), ["same.txt"]);
    relay.hold = false;
    await a.sync();
    await b.sync();
    assertEquals(await b.read("moving.txt"), "second, longer version");
  } finally {
    await sb.cleanup();
  }
});
