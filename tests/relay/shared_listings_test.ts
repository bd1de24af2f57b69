import { assertEquals } from "../assert.ts";
import { SharedListings } from "../../src/relay/shared_listings.ts";

/** A listing whose answer the test gives when it wants, counting how many were asked. */
function lister() {
  const asked: ((v: string[]) => void)[] = [];
  return {
    asked,
    fetch: () => new Promise<string[]>((ok) => asked.push(ok)),
  };
}

Deno.test("shared listings: asked together, one request; after a change, a new one", async () => {
  const l = lister();
  const s = new SharedListings<string[]>();
  const a = s.get("d", l.fetch);
  const b = s.get("d", l.fetch);
  assertEquals(l.asked.length, 1);
  s.changed(); // a write ended while the listing was in flight
  const c = s.get("d", l.fetch);
  assertEquals(l.asked.length, 2);
  l.asked[0](["x"]);
  l.asked[1](["x", "y"]);
  assertEquals(await a, ["x"]);
  assertEquals(await b, ["x"]);
  assertEquals(await c, ["x", "y"]);
  // Answered listings are not kept: the next one asks again.
  const d = s.get("d", l.fetch);
  assertEquals(l.asked.length, 3);
  l.asked[2]([]);
  assertEquals(await d, []);
});

Deno.test("shared listings: open's listing answers the next ones until something changes", async () => {
  const l = lister();
  const s = new SharedListings<string[]>();
  s.keep("", ["header"]);
  assertEquals(await s.get("", l.fetch), ["header"]);
  assertEquals(await s.get("", l.fetch), ["header"]);
  assertEquals(l.asked.length, 0);
  s.changed();
  const after = s.get("", l.fetch);
  assertEquals(l.asked.length, 1);
  l.asked[0](["header", "new"]);
  assertEquals(await after, ["header", "new"]);
});

Deno.test("shared listings: a failed listing is not kept", async () => {
  const s = new SharedListings<string[]>();
  const failing = s.get("d", () => Promise.reject(new Error("down")));
  await failing.then(() => {}, () => {});
  assertEquals(await s.get("d", () => Promise.resolve(["ok"])), ["ok"]);
});
