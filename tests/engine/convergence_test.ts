// Convergence (issue 18): renames and folder moves always arrive, whatever the reader holds, and
// every client ends with the same tree and an empty relay.
import { assert, assertEquals } from "../assert.ts";
import { type Client, type Sandbox, withSandbox } from "./sandbox.ts";
import { MemoryRelay } from "../../src/relay/memory_relay.ts";
import { CountingRelay } from "../../src/relay/counting_relay.ts";
import { type FaultOp, FaultRelay, type FaultRule } from "../../src/relay/fault_relay.ts";
import type { ConflictStrategy } from "../../src/engine/context.ts";

async function rounds(...clients: Client[]): Promise<void> {
  for (const c of clients) await c.sync();
}

/** Objects on the relay apart from bookkeeping (header, client records). */
function leftOnRelay(relay: MemoryRelay): string[] {
  return [...relay.objects.keys()].filter((k) => k !== "escale.json" && !k.startsWith("clients/"));
}

async function converged(sb: Sandbox, relay: MemoryRelay): Promise<Record<string, string>> {
  const trees = await Promise.all([...sb.clients.values()].map((c) => c.tree()));
  for (const t of trees.slice(1)) assertEquals(t, trees[0]);
  assertEquals(leftOnRelay(relay), []);
  return trees[0];
}

Deno.test("a rename published before the reader saw the file still delivers it", async () => {
  const relay = new MemoryRelay();
  await withSandbox(async (sb) => {
    const a = await sb.client("A");
    const b = await sb.client("B");
    await b.sync();
    await a.write("f.txt", "content");
    await a.sync();
    await a.mv("f.txt", "r.txt");
    await a.sync();
    await rounds(b, a, b, a, b);
    assertEquals(await converged(sb, relay), { "r.txt": "content" });
  }, relay);
});

Deno.test("a chain of renames before the reader ran delivers the last name", async () => {
  const relay = new MemoryRelay();
  await withSandbox(async (sb) => {
    const a = await sb.client("A");
    const b = await sb.client("B");
    await b.sync();
    await a.write("one.txt", "content");
    await a.sync();
    await a.mv("one.txt", "two.txt");
    await a.sync();
    await a.mv("two.txt", "d/three.txt");
    await a.sync();
    await rounds(b, a, b, a);
    assertEquals(await converged(sb, relay), { "d/three.txt": "content" });
  }, relay);
});

Deno.test("a rename while the reader edits the file keeps both the edit and the new name", async () => {
  const relay = new MemoryRelay();
  const counting = new CountingRelay(relay);
  await withSandbox(async (sb) => {
    const a = await sb.client("A");
    const b = await sb.client("B");
    const big = "b".repeat(300 * 1024);
    await a.write("big.bin", big);
    await a.write("f.txt", "original");
    await rounds(a, b, a);
    await a.mv("f.txt", "r.txt");
    await b.write("f.txt", "B's edit");
    await rounds(a, b);
    // B lacks the content of r.txt and asks A for it: A sends that file, not a full copy.
    counting.reset();
    assertEquals((await a.sync()).published, 1, "A answers with r.txt alone");
    assert(
      counting.counters.bytesWritten < 8192,
      `A wrote ${counting.counters.bytesWritten} bytes`,
    );
    await rounds(b, a, b, a, b);
    assertEquals(await converged(sb, relay), {
      "big.bin": big,
      "f.txt": "B's edit",
      "r.txt": "original",
    });
  }, counting);
});

Deno.test("a rename while the reader deletes the file keeps the renamed file", async () => {
  const relay = new MemoryRelay();
  await withSandbox(async (sb) => {
    const a = await sb.client("A");
    const b = await sb.client("B");
    await a.write("f.txt", "original");
    await a.write("other.txt", "other");
    await a.write("third.txt", "third");
    await rounds(a, b, a);
    await a.mv("f.txt", "r.txt");
    await b.rm("f.txt");
    await rounds(a, b, a, b, a, b);
    assertEquals(await converged(sb, relay), {
      "other.txt": "other",
      "r.txt": "original",
      "third.txt": "third",
    });
  }, relay);
});

Deno.test("a rename onto a name the reader also created, whose source the reader deleted, converges", async () => {
  // B renames b.txt to c0.txt while A deletes b.txt and creates its own, older, c0.txt: A keeps
  // B's version, saves its own as a conflict copy, and has to ask B for the content.
  const relay = new MemoryRelay();
  await withSandbox(async (sb) => {
    const a = await sb.client("A");
    const b = await sb.client("B");
    await b.write("b.txt", "B's file");
    await b.write("other.txt", "other");
    await b.write("third.txt", "third");
    await rounds(b, a, b);
    await a.rm("b.txt");
    await b.mv("b.txt", "c0.txt");
    await b.sync();
    await a.write("c0.txt", "A's file", new Date(Date.now() - 3600_000));
    await rounds(a, b, a, b, a, b);
    const tree = await converged(sb, relay);
    assertEquals(tree["c0.txt"], "B's file");
    const copies = Object.keys(tree).filter((p) => p.startsWith("c0.conflict-A-"));
    assertEquals(copies.length, 1, Object.keys(tree).join(", "));
    assertEquals(tree[copies[0]], "A's file");
  }, relay);
});

Deno.test("a folder created then moved while the reader was offline arrives moved", async () => {
  const relay = new MemoryRelay();
  await withSandbox(async (sb) => {
    const a = await sb.client("A");
    const b = await sb.client("B");
    await b.sync();
    for (let i = 0; i < 5; i++) await a.write(`src/f${i}.txt`, `file ${i}`);
    await a.sync();
    await a.mv("src", "dst");
    const stats = await a.sync();
    assertEquals(stats.uploaded, 0, "a folder move sends no content");
    await rounds(b, a, b, a);
    const tree = await converged(sb, relay);
    assertEquals(Object.keys(tree), [0, 1, 2, 3, 4].map((i) => `dst/f${i}.txt`));
  }, relay);
});

Deno.test("moving a folder that holds most of the tree is not a mass deletion", async () => {
  const relay = new MemoryRelay();
  await withSandbox(async (sb) => {
    const a = await sb.client("A");
    const b = await sb.client("B");
    for (let i = 0; i < 8; i++) await a.write(`src/f${i}.txt`, `file ${i}`);
    await a.write("top.txt", "top");
    await rounds(a, b, a);
    await a.mv("src", "dst");
    await rounds(a, b, a, b);
    const tree = await converged(sb, relay);
    assert("dst/f7.txt" in tree && !("src/f7.txt" in tree));
  }, relay);
});

/** A small deterministic generator (mulberry32), so a failing seed can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every regular file under a client's root, relative. */
async function files(c: Client): Promise<string[]> {
  return Object.keys(await c.tree());
}

async function folders(c: Client): Promise<string[]> {
  const out = new Set<string>();
  for (const f of await files(c)) {
    const segs = f.split("/");
    for (let i = 1; i < segs.length; i++) out.add(segs.slice(0, i).join("/"));
  }
  return [...out];
}

/**
 * One random history: three clients create, edit, delete, rename files and move folders, and
 * sync in random order; then they sync until quiet. Every round must succeed and the end must be
 * identical trees, no temporary file, and nothing left on the relay but bookkeeping.
 */
async function randomHistory(seed: number, steps: number, crashes = false): Promise<void> {
  const rnd = prng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
  const relay = new MemoryRelay();
  const faults = new FaultRelay(relay);
  await withSandbox(async (sb) => {
    // The safety stop on mass deletions is not what this tests (small trees trip it).
    const conflict = pick<ConflictStrategy>([
      "keep-both",
      "keep-both",
      "newest",
      "local",
      "remote",
    ]);
    const cs = await Promise.all(
      ["A", "B", "C"].map((n) => sb.client(n, "shared", { force: true, conflict })),
    );
    const log: string[] = [];
    let clock = Date.parse("2026-01-01T00:00:00Z");
    let n = 0;
    const newPath = () => {
      const depth = Math.floor(rnd() * 3);
      const dirs = Array.from({ length: depth }, () => pick(["d", "e", "f"]));
      return [...dirs, `${pick(["a", "b", "c", "d", "x"])}${Math.floor(rnd() * 4)}.txt`].join("/");
    };
    try {
      for (let s = 0; s < steps; s++) {
        const c = pick(cs);
        const r = rnd();
        const existing = await files(c);
        clock += 1000;
        const mtime = new Date(clock);
        if (r < 0.25 || existing.length === 0) {
          const p = newPath();
          if ((await folders(c)).includes(p)) continue;
          log.push(`${c.name} write ${p}`);
          await c.write(p, `content ${++n} by ${c.name}`, mtime).catch(() => {});
        } else if (r < 0.35) {
          const p = pick(existing);
          log.push(`${c.name} edit ${p}`);
          await c.write(p, `edit ${++n} by ${c.name}`, mtime);
        } else if (r < 0.45) {
          const p = pick(existing);
          log.push(`${c.name} rm ${p}`);
          await c.rm(p);
        } else if (r < 0.55) {
          const p = pick(existing);
          const to = newPath();
          if (existing.includes(to) || (await folders(c)).includes(to)) continue;
          log.push(`${c.name} mv ${p} ${to}`);
          await c.mv(p, to).catch(() => {});
        } else if (r < 0.62) {
          const dirs = await folders(c);
          if (dirs.length === 0) continue;
          const d = pick(dirs);
          const to = pick(["g", "h", "d/i", "e/j"]);
          if (to.startsWith(d + "/") || to === d) continue;
          try {
            await Deno.lstat(`${c.root}/${to}`);
            continue;
          } catch { /* free */ }
          log.push(`${c.name} mvdir ${d} ${to}`);
          await c.mv(d, to);
        } else if (crashes && r < 0.75) {
          // The process dies at some relay operation of this round: state is reopened from disk.
          const rule: FaultRule = {
            op: pick<FaultOp>(["list", "read", "write", "write", "delete"]),
            match: pick([/^data\//, /^commits\//, /^clients\//]),
            nth: 1 + Math.floor(rnd() * 3),
            action: pick<FaultRule["action"]>(["fail", "cut"]),
            kind: "permanent",
          };
          log.push(`${c.name} sync, dying at ${rule.action} ${rule.op} ${rule.match} #${rule.nth}`);
          faults.arm([rule]);
          await c.sync().catch(() => {});
          faults.arm([]);
          c.close();
        } else {
          log.push(`${c.name} sync`);
          await c.sync();
        }
      }
      for (let pass = 0; pass < 6; pass++) for (const c of cs) await c.sync();
      await converged(sb, relay);
    } catch (e) {
      // Replaying one seed shows every client's log.
      if (Deno.env.get("SEED")) {
        for (const c of cs) console.log(`--- ${c.name}\n${c.lines.join("\n")}`);
      }
      throw new Error(`seed ${seed} (${conflict}): ${(e as Error).message}\n${log.join("\n")}`);
    }
  }, faults);
}

Deno.test("random histories of three clients with edits, renames and folder moves converge", async () => {
  // SEED=n replays one history; SEEDS=n and STEPS=n explore more than CI runs.
  const steps = Number(Deno.env.get("STEPS") ?? "40");
  const only = Deno.env.get("SEED");
  if (only) return await randomHistory(Number(only), steps);
  const seeds = Number(Deno.env.get("SEEDS") ?? "30");
  for (let seed = 1; seed <= seeds; seed++) await randomHistory(seed, steps);
});

Deno.test("random histories where clients die at random relay operations converge", async () => {
  const steps = Number(Deno.env.get("STEPS") ?? "40");
  const only = Deno.env.get("SEED");
  if (only) return await randomHistory(Number(only), steps, true);
  const seeds = Number(Deno.env.get("SEEDS") ?? "30");
  for (let seed = 1; seed <= seeds; seed++) await randomHistory(seed, steps, true);
});
