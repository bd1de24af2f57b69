// Crash safety (issue 4): a failure at any step of a push, a pull or a garbage collection,
// followed by normal rounds, ends with identical trees, no temporary file left locally and,
// once everything is acknowledged, nothing but bookkeeping on the relay.
import { assert, assertEquals } from "../assert.ts";
import { type Client, Sandbox } from "./sandbox.ts";
import { MemoryRelay } from "../../src/relay/memory_relay.ts";
import { FaultRelay, type FaultRule } from "../../src/relay/fault_relay.ts";

const BIG = "0123456789abcdef".repeat(20 * 1024); // 320 KiB: five 64 KiB chunks

async function fill(a: Client): Promise<void> {
  await a.write("big.bin", BIG);
  for (let i = 0; i < 20; i++) await a.write(`small/${i}.txt`, `small file ${i}`);
  await a.write("empty.txt", "");
}

function leftovers(tree: Record<string, string>): string[] {
  return Object.keys(tree).filter((p) => p.split("/").some((s) => s.startsWith(".escale-tmp-")));
}

type Phase = "push" | "pull" | "gc";
const STEPS: [string, Phase, FaultRule][] = [
  ["push: first data object", "push", {
    op: "write",
    match: /^data\//,
    nth: 1,
    action: "fail",
    kind: "permanent",
  }],
  ["push: third data object, cut half-way", "push", {
    op: "write",
    match: /^data\//,
    nth: 3,
    action: "cut",
    kind: "permanent",
  }],
  ["push: commit", "push", { op: "write", match: /^commits\//, action: "fail", kind: "permanent" }],
  ["push: commit, cut half-way", "push", {
    op: "write",
    match: /^commits\//,
    action: "cut",
    kind: "permanent",
  }],
  ["push: client record", "push", {
    op: "write",
    match: /^clients\//,
    action: "fail",
    kind: "permanent",
  }],
  // The round's listing of commits goes alongside the records; the pusher's record claims no
  // commit that listing lacks, so it is the one the round uses.
  ["pull: listing", "pull", {
    op: "list",
    match: /^commits/,
    nth: 1,
    action: "fail",
    kind: "permanent",
  }],
  ["pull: commit read", "pull", {
    op: "read",
    match: /^commits\//,
    action: "fail",
    kind: "permanent",
  }],
  ["pull: data read, cut half-way", "pull", {
    op: "read",
    match: /^data\//,
    nth: 2,
    action: "cut",
    kind: "permanent",
  }],
  ["pull: acknowledgement", "pull", {
    op: "write",
    match: /^clients\//,
    action: "fail",
    kind: "permanent",
  }],
  ["gc: data object delete", "gc", {
    op: "delete",
    match: /^data\//,
    nth: 2,
    action: "fail",
    kind: "permanent",
  }],
  ["gc: commit delete", "gc", {
    op: "delete",
    match: /^commits\//,
    action: "fail",
    kind: "permanent",
  }],
];

Deno.test("a failure at each step of push, pull and gc heals with normal rounds", async (t) => {
  for (const [name, phase, rule] of STEPS) {
    await t.step(name, async () => {
      const mem = new MemoryRelay();
      const relay = new FaultRelay(mem);
      const sb = await Sandbox.create(relay);
      try {
        const a = await sb.client("A", "shared", { chunkSize: 64 * 1024 });
        const b = await sb.client("B", "shared", { chunkSize: 64 * 1024 });
        await b.sync();
        await fill(a);
        if (phase !== "push") await a.sync();
        if (phase === "gc") await b.sync();
        relay.arm([rule]);
        const victim = phase === "pull" ? b : a;
        let failed = false;
        await victim.sync().catch(() => (failed = true));
        assert(failed, "the injected fault did not stop the round");
        relay.arm([]);
        victim.close(); // the process died: state is reopened from disk
        for (let i = 0; i < 3; i++) {
          await a.sync();
          await b.sync();
        }
        const ta = await a.tree();
        assertEquals(await b.tree(), ta);
        assertEquals(ta["big.bin"], BIG);
        assertEquals(Object.keys(ta).length, 22);
        assertEquals(leftovers(ta), []);
        const relayKeys = [...mem.objects.keys()];
        assert(
          relayKeys.every((k) => k === "escale.json" || k.startsWith("clients/")),
          `left on relay: ${relayKeys.join(", ")}`,
        );
      } finally {
        await sb.cleanup();
      }
    });
  }
});

Deno.test("an interrupted upload resumes without sending the objects already on the relay", async () => {
  const mem = new MemoryRelay();
  const relay = new FaultRelay(mem);
  const sb = await Sandbox.create(relay);
  try {
    const a = await sb.client("A", "upload", { chunkSize: 64 * 1024, transfers: 1 });
    const b = await sb.client("B", "download");
    await b.sync();
    await fill(a);
    relay.arm([{ op: "write", match: /^data\//, nth: 4, action: "fail", kind: "permanent" }]);
    await a.sync().catch(() => {});
    relay.arm([]);
    a.close();
    const sent = [...mem.objects.entries()].filter(([k]) => k.startsWith("data/")).map((
      [k, v],
    ) => [k, v.mtime]);
    assertEquals(sent.length, 3);
    await a.sync();
    for (const [k, mtime] of sent) {
      assertEquals(mem.objects.get(k as string)?.mtime, mtime, `${k} was sent again`);
    }
    await b.sync();
    assertEquals(await b.tree(), await a.tree());
  } finally {
    await sb.cleanup();
  }
});
