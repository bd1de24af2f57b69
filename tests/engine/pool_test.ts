import { assertEquals } from "../assert.ts";
import { limiter } from "../../src/engine/pool.ts";

Deno.test("limiter: at most `limit` tasks run at once, in the order given, all finish", async () => {
  const gate = limiter(2);
  let running = 0;
  let most = 0;
  const order: number[] = [];
  const task = (i: number) => async () => {
    order.push(i);
    most = Math.max(most, ++running);
    await new Promise((ok) => setTimeout(ok, 5));
    running--;
    return i;
  };
  const first = [0, 1, 2].map((i) => gate(task(i)));
  await Promise.resolve();
  // Asked while the first ones wait: never gets ahead of them, nor past the limit.
  const later = [3, 4].map((i) => gate(task(i)));
  assertEquals(await Promise.all([...first, ...later]), [0, 1, 2, 3, 4]);
  assertEquals(most, 2);
  assertEquals(order, [0, 1, 2, 3, 4]);
});

Deno.test("limiter: a failed task frees its place", async () => {
  const gate = limiter(1);
  const failed = gate(() => Promise.reject(new Error("no")));
  const next = gate(() => Promise.resolve("yes"));
  assertEquals(await failed.catch((e) => e.message), "no");
  assertEquals(await next, "yes");
});
