import { assert, assertEquals } from "../assert.ts";
import { JsonEventWriter } from "../../src/log/json_events.ts";
import { emptyStats } from "../../src/log/round_events.ts";
import { Sandbox } from "../engine/sandbox.ts";
import { escale } from "../cli/cli_helpers.ts";
import { EscaleProcess } from "../cli/escale_process.ts";

/** An in-memory writer that, like a pipe, may accept only part of what it is given. */
class Capture {
  chunks: Uint8Array[] = [];
  writeSync(p: Uint8Array): number {
    const n = Math.min(p.length, 7);
    this.chunks.push(p.slice(0, n));
    return n;
  }
  events(): Record<string, unknown>[] {
    const text = new TextDecoder().decode(
      new Uint8Array(this.chunks.flatMap((c) => [...c])),
    );
    assert(text === "" || text.endsWith("\n"), "whole lines only");
    return text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
  }
}

type Ev = Record<string, unknown> & { event: string };

/** Checks the invariants scripts rely on and returns the round-end events. */
function checkRounds(events: Ev[]): Ev[] {
  const ends: Ev[] = [];
  let open: {
    filesUp: number;
    bytesUp: number;
    filesDown: number;
    bytesDown: number;
    deleted: number;
    moved: number;
    conflicts: number;
  } | null = null;
  for (const e of events) {
    assert(typeof e.time === "string" && !isNaN(Date.parse(e.time as string)), "time");
    assert(typeof e.repo === "string", "repo");
    if (e.event === "round-start") {
      assert(open === null, "round-start inside a round");
      open = {
        filesUp: 0,
        bytesUp: 0,
        filesDown: 0,
        bytesDown: 0,
        deleted: 0,
        moved: 0,
        conflicts: 0,
      };
      continue;
    }
    assert(open !== null, `${e.event} outside a round`);
    if (e.event === "file-done") {
      if (e.direction === "up") {
        open.filesUp++;
        open.bytesUp += e.size as number;
      } else {
        open.filesDown++;
        open.bytesDown += e.size as number;
      }
    } else if (e.event === "deleted") open.deleted++;
    else if (e.event === "moved") open.moved++;
    else if (e.event === "conflict") open.conflicts++;
    else if (e.event === "round-end") {
      assertEquals(e.totals, open, "round-end totals are the sum of the round's events");
      ends.push(e);
      open = null;
    }
  }
  assert(open === null, "every round ends");
  return ends;
}

Deno.test("JsonEventWriter: schema, whole lines, totals that add up, rate-limited progress", () => {
  const out = new Capture();
  let t = Date.UTC(2024, 0, 1, 12, 0, 0);
  const w = new JsonEventWriter(out, { now: () => t });
  w.begin("docs", { files: 2, bytes: 300 });
  w.event({ type: "file-start", direction: "up", path: "a.txt", size: 100 });
  w.event({ type: "file-start", direction: "up", path: "b.txt", size: 200 });
  for (let i = 0; i < 30; i++) {
    t += 20; // 600 ms of 10-byte chunks: progress at most every 200 ms
    w.event({ type: "bytes", direction: "up", bytes: 10 });
  }
  w.event({ type: "file-done", direction: "up", path: "a.txt", size: 100 });
  w.event({ type: "file-done", direction: "up", path: "b.txt", size: 200 });
  w.event({ type: "file-start", direction: "down", path: "c", size: 5 });
  w.event({ type: "bytes", direction: "down", bytes: 5 });
  w.event({ type: "file-done", direction: "down", path: "c", size: 5 });
  w.event({ type: "deleted", path: "old" });
  w.event({ type: "moved", from: "x", path: "y" });
  w.event({ type: "conflict", path: "z", copy: "z (conflict)", kept: "remote" });
  t += 1500;
  w.end({ ...emptyStats(), uploaded: 2, uploadedBytes: 300 });
  const events = out.events() as Ev[];
  assertEquals(events[0], {
    event: "round-start",
    time: "2024-01-01T12:00:00.000Z",
    repo: "docs",
    round: 1,
    planned: { files: 2, bytes: 300 },
  });
  assertEquals(events[1], {
    event: "file-start",
    time: "2024-01-01T12:00:00.000Z",
    repo: "docs",
    direction: "up",
    path: "a.txt",
    size: 100,
  });
  const progress = events.filter((e) => e.event === "progress" && e.direction === "up");
  assertEquals(progress.length, 3, "600 ms at 200 ms intervals");
  assertEquals(progress[0].bytes, 10);
  assertEquals(progress[0].bytesStarted, 300);
  assertEquals(progress[2].bytes, 210);
  const down = events.filter((e) => e.event === "progress" && e.direction === "down");
  assertEquals(down.length, 1, "each direction has its own rate limit");
  const [end] = checkRounds(events);
  assertEquals(end.ok, true);
  assertEquals(end.round, 1);
  assertEquals(end.seconds, 2.1);
  assertEquals(end.totals, {
    filesUp: 2,
    bytesUp: 300,
    filesDown: 1,
    bytesDown: 5,
    deleted: 1,
    moved: 1,
    conflicts: 1,
  });
  assertEquals((end.stats as Record<string, number>).uploaded, 2);
  assertEquals(events.find((e) => e.event === "conflict"), {
    event: "conflict",
    time: "2024-01-01T12:00:00.600Z",
    repo: "docs",
    path: "z",
    copy: "z (conflict)",
    kept: "remote",
  });
});

Deno.test("JsonEventWriter: a failed round emits error then round-end with ok false", () => {
  const out = new Capture();
  const w = new JsonEventWriter(out, { secrets: ["pw1"] });
  w.begin("photos");
  w.event({ type: "file-start", direction: "down", path: "p.jpg", size: 9 });
  w.fail("relay ftp://u:pw1@host unreachable\n(3 retries)", 3);
  w.begin("photos");
  w.end(emptyStats());
  const events = out.events() as Ev[];
  assertEquals(events.map((e) => e.event), [
    "round-start",
    "file-start",
    "error",
    "round-end",
    "round-start",
    "round-end",
  ]);
  assert(!("planned" in events[0]));
  assertEquals(events[2].message, "relay ftp://u:***@host unreachable (3 retries)");
  assertEquals(events[2].exitCode, 3);
  const ends = checkRounds(events);
  assertEquals(ends.map((e) => [e.round, e.ok, "stats" in e]), [[1, false, false], [
    2,
    true,
    true,
  ]]);
});

Deno.test("JsonEventWriter: a closed output turns the writer off instead of throwing", () => {
  let calls = 0;
  const w = new JsonEventWriter({
    writeSync() {
      calls++;
      throw new Deno.errors.BrokenPipe("reader went away");
    },
  });
  w.begin("a");
  w.event({ type: "deleted", path: "x" });
  w.end(emptyStats());
  assertEquals(calls, 1);
});

Deno.test("JsonEventWriter: real rounds between two clients add up to the engine's counts", async () => {
  const sb = await Sandbox.create();
  try {
    const a = await sb.client("A");
    const b = await sb.client("B");
    await a.write("small1.txt", "hello");
    await a.write("dir/small2.txt", "x".repeat(1000));
    await a.write("big.bin", "b".repeat(300 * 1024)); // several chunks
    await a.write("gone.txt", "to be deleted");
    await a.write("old-name.txt", "to be renamed");
    const outA = new Capture();
    const outB = new Capture();
    const wa = new JsonEventWriter(outA, { progressIntervalMs: 0 });
    const wb = new JsonEventWriter(outB, { progressIntervalMs: 0 });
    (await a.repo()).emit = (e) => wa.event(e);
    (await b.repo()).emit = (e) => wb.event(e);
    const round = async (w: JsonEventWriter, c: typeof a, name: string) => {
      w.begin(name);
      const stats = await c.sync();
      w.end(stats);
      return stats;
    };
    const up = await round(wa, a, "A");
    const down = await round(wb, b, "B");
    await a.rm("gone.txt");
    await a.mv("old-name.txt", "new-name.txt");
    await round(wa, a, "A");
    const down2 = await round(wb, b, "B");

    const endsA = checkRounds(outA.events() as Ev[]);
    const endsB = checkRounds(outB.events() as Ev[]);
    const totalsA = endsA[0].totals as Record<string, number>;
    assertEquals(totalsA.filesUp, up.uploaded);
    assertEquals(totalsA.filesUp, 5);
    assertEquals(totalsA.bytesUp, 5 + 1000 + 300 * 1024 + 13 + 13);
    const totalsB = endsB[0].totals as Record<string, number>;
    assertEquals(totalsB.filesDown, down.downloaded);
    assertEquals(totalsB.bytesDown, down.downloadedBytes);
    assertEquals(totalsB.bytesDown, totalsA.bytesUp);
    const totalsB2 = endsB[1].totals as Record<string, number>;
    assertEquals([totalsB2.deleted, totalsB2.moved], [down2.deletedLocal, down2.movedLocal]);
    assertEquals([totalsB2.deleted, totalsB2.moved], [1, 1]);
    const progressB = (outB.events() as Ev[]).filter((e) => e.event === "progress");
    assert(progressB.length > 1, "progress events during the download");
    assertEquals(progressB.at(-1)!.bytes, down.downloadedBytes);
  } finally {
    await sb.cleanup();
  }
});

Deno.test("JsonEventWriter: a wait's checks are 'waiting' events, secrets hidden", () => {
  const out = new Capture();
  const w = new JsonEventWriter(out, { now: () => 0, secrets: ["s3cr3t-value"] });
  w.begin("ci");
  w.end(emptyStats());
  w.waiting({
    for: ["delivery"],
    done: false,
    missing: ["lab"],
    message: "not yet received by lab (1 commit) s3cr3t-value",
    elapsedSec: 12,
    leftSec: 48,
    nextSec: 15,
  });
  w.waiting({ for: ["delivery"], done: true, missing: [], message: "done", elapsedSec: 30 });
  const waits = out.events().filter((e) => e.event === "waiting");
  assertEquals(waits.length, 2);
  assertEquals(
    { ...waits[0], time: undefined },
    {
      event: "waiting",
      time: undefined,
      repo: "ci",
      for: ["delivery"],
      done: false,
      missing: ["lab"],
      message: "not yet received by lab (1 commit) ***",
      elapsed: 12,
      left: 48,
      next: 15,
    },
  );
  assertEquals([waits[1].done, "left" in waits[1], "next" in waits[1]], [true, false, false]);
});

Deno.test("escale run --json: a waiting run numbers its rounds 1, 2, … in one repository", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "escale-json-rounds-" }));
  try {
    for (const d of ["relay", "out", "in", "home"]) await Deno.mkdir(`${dir}/${d}`);
    await Deno.writeTextFile(`${dir}/out/a.txt`, "a");
    const env = { HOME: `${dir}/home`, ESCALE_RELAY: `${dir}/relay`, ESCALE_REFRESH: "1" };
    const puller = ["run", "--once", "--local", `${dir}/in`, "--mode", "download"];
    const lab = await escale([...puller, "--client-name", "lab"], env);
    assertEquals(lab.code, 0, lab.stderr);
    const pusher = new EscaleProcess([
      "run",
      "--local",
      `${dir}/out`,
      "--mode",
      "upload",
      "--client-name",
      "ci",
      "--wait-delivered",
      "--json",
    ], env);
    // The first round published and found lab missing; lab's next run acknowledges, and a
    // later round of the pusher sees it.
    await pusher.waitForStderr(/waiting: not yet received by lab/);
    const again = await escale([...puller, "--client-name", "lab"], env);
    assertEquals(again.code, 0, again.stderr);
    const r = await pusher.ended(180_000);
    assertEquals(r.code, 0, r.stderr);
    const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l)) as Ev[];
    const starts = events.filter((e) => e.event === "round-start").map((e) => e.round);
    assert(starts.length >= 2, `two rounds or more: ${r.stdout}`);
    assertEquals(starts, starts.map((_, i) => i + 1), "round-start numbers");
    // `waiting` events come between rounds.
    const rounds = events.filter((e) => e.event !== "waiting");
    assertEquals(checkRounds(rounds).map((e) => e.round), starts, "round-end numbers");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
