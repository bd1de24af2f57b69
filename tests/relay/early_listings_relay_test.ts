import { assertEquals } from "../assert.ts";
import { MemoryRelay } from "../../src/relay/memory_relay.ts";
import { EarlyListingsRelay } from "../../src/relay/early_listings_relay.ts";
import { toArray } from "../../src/util/streams.ts";
import type { RelayEntry } from "../../src/relay/relay.ts";

/** A memory relay counting its listings. */
class Listed extends MemoryRelay {
  listings: string[] = [];
  override list(dir: string): AsyncIterable<RelayEntry> {
    this.listings.push(dir);
    return super.list(dir);
  }
}

const keys = async (r: EarlyListingsRelay, dir: string) =>
  (await toArray(r.list(dir))).map((e) => e.key);

Deno.test("early listings: each answers the first listing of its folder, once", async () => {
  const inner = new Listed();
  await inner.write("commits/a", new Uint8Array(1));
  const early = EarlyListingsRelay.start(inner, ["commits", "clients"]);
  // Written behind the wrapper's back after the early listing was asked: not in its answer.
  await inner.write("commits/b", new Uint8Array(1));
  const r = new EarlyListingsRelay(inner, early);
  assertEquals(inner.listings, ["commits", "clients"]);
  assertEquals(await keys(r, "commits"), ["commits/a"]);
  assertEquals(inner.listings.length, 2);
  // The second listing asks the relay.
  assertEquals(await keys(r, "commits"), ["commits/a", "commits/b"]);
  assertEquals(inner.listings.length, 3);
});

Deno.test("early listings: a write or delete through the relay drops them", async () => {
  for (const change of ["write", "delete"] as const) {
    const inner = new Listed();
    await inner.write("clients/x", new Uint8Array(1));
    const r = new EarlyListingsRelay(inner, EarlyListingsRelay.start(inner, ["clients"]));
    if (change === "write") await r.write("clients/y", new Uint8Array(1));
    else await r.delete("clients/x");
    assertEquals(await keys(r, "clients"), change === "write" ? ["clients/x", "clients/y"] : []);
    assertEquals(inner.listings.length, 2, change);
  }
});

Deno.test("early listings: past their time they answer nothing", async () => {
  const inner = new Listed();
  const late = new EarlyListingsRelay(inner, {
    ...EarlyListingsRelay.start(inner, ["commits"]),
    until: Date.now() - 1,
  });
  await inner.write("commits/a", new Uint8Array(1));
  assertEquals(await keys(late, "commits"), ["commits/a"]);
  assertEquals(inner.listings.length, 2);
});
