import { assertEquals } from "../assert.ts";
import { planPacks, SPREAD_MIN } from "../../src/engine/data_objects.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const files = (n: number, size: number) =>
  Array.from({ length: n }, (_, i) => ({ abs: `/f${i}`, size }));
const sizes = (p: ReturnType<typeof planPacks>) => p.objects.map((o) => o.size);

Deno.test("planPacks: small files share objects; a big file spans full chunks", () => {
  assertEquals(sizes(planPacks(files(3, 100), 8 * MiB)), [300]);
  assertEquals(sizes(planPacks(files(1, 20 * MiB), 8 * MiB)), [8 * MiB, 8 * MiB, 4 * MiB]);
  // Extents follow the files across objects.
  const p = planPacks([{ abs: "/a", size: 5 }, { abs: "/b", size: 7 }], 8);
  assertEquals(p.extents, [[[0, 0, 5]], [[0, 5, 3], [1, 0, 4]]]);
});

Deno.test("planPacks: a commit smaller than its transfers' full objects is spread over them", () => {
  // 1,000 files of 1 KiB over 4 transfers: objects of SPREAD_MIN (250 KiB each would be smaller).
  const spread = planPacks(files(1000, KiB), 8 * MiB, 4);
  assertEquals(sizes(spread), [256 * KiB, 256 * KiB, 256 * KiB, 232 * KiB]);
  assertEquals(spread.extents.flat().reduce((n, [, , len]) => n + len, 0), 1000 * KiB);
  // Too small to spread: one object.
  assertEquals(sizes(planPacks(files(10, KiB), 8 * MiB, 4)), [10 * KiB]);
  assertEquals(SPREAD_MIN, 256 * KiB);
  // 20 MiB over 4 transfers: 5 MiB each.
  assertEquals(sizes(planPacks(files(1, 20 * MiB), 8 * MiB, 4)), [
    5 * MiB,
    5 * MiB,
    5 * MiB,
    5 * MiB,
  ]);
  // As large as the transfers' full objects, or larger: cut at the chunk size.
  assertEquals(sizes(planPacks(files(1, 40 * MiB), 8 * MiB, 4)), Array(5).fill(8 * MiB));
  // The chunk size stays the bound when it is below SPREAD_MIN.
  assertEquals(sizes(planPacks(files(4, 64 * KiB), 64 * KiB, 4)), Array(4).fill(64 * KiB));
});
