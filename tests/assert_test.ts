import { EscaleError } from "../src/errors/errors.ts";
import { assert, assertEquals, assertRejects, failure } from "./assert.ts";

async function throws(fn: () => unknown): Promise<boolean> {
  try {
    await fn();
    return false;
  } catch {
    return true;
  }
}

Deno.test("assertEquals compares the entries of Maps and Sets, and primitives strictly", async () => {
  assertEquals(new Map([["a", 1]]), new Map([["a", 1]]));
  assert(await throws(() => assertEquals(new Map([["a", 1]]), new Map([["a", 2]]))), "Map");
  assert(await throws(() => assertEquals(new Set([1]), new Set([2]))), "Set");
  assert(await throws(() => assertEquals<unknown>(NaN, null)), "NaN is not null");
  assertEquals(NaN, NaN);
  assertEquals({ a: [1, "x"] }, { a: [1, "x"] });
});

Deno.test("failure checks the kind when asked, and takes a promise or a function", async () => {
  const bad = () => Promise.reject(new EscaleError("key", "wrong passphrase"));
  assertEquals((await failure(bad(), "key")).kind, "key");
  assertEquals((await failure(bad)).kind, "key");
  assert(await throws(() => failure(bad, "integrity")), "another kind passes");
  assert(await throws(() => failure(Promise.resolve(1))), "a success passes");
  assert(await throws(() => failure(Promise.reject(new Error("plain")))), "a plain Error passes");
  assert((await assertRejects(() => Promise.reject(new Error("plain")))) instanceof Error);
});
