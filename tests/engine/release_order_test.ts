import { assert, assertEquals } from "../assert.ts";
import { Sandbox } from "./sandbox.ts";
import { MemoryRelay } from "../../src/relay/memory_relay.ts";

/** The in-memory relay, noting every delete and how many were in flight at once. */
class DeleteLog extends MemoryRelay {
  readonly deletes: string[] = [];
  inFlight = 0;
  mostInFlight = 0;

  override async delete(key: string): Promise<void> {
    this.deletes.push(key);
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

Deno.test("a release deletes the data of all its commits together, and only then the commits", async () => {
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
    // No commit goes before the last data object: a commit always outlives its data.
    assert(kinds.lastIndexOf("data") < kinds.indexOf("commits"), relay.deletes.join(", "));
    assert(relay.mostInFlight > 1, `deletes were sent one at a time: ${relay.mostInFlight}`);
    const left = [...relay.objects.keys()].filter((k) => /^(data|commits)\//.test(k));
    assertEquals(left, []);
  } finally {
    await sb.cleanup();
  }
});
