// Benchmarks of issue 4, all on the `file` relay, each compared in the same run with rclone
// (Debian's, a local remote) and plain cp:
//   (a) 10,000 files of 1 KiB from A to B        escale: A run --once, then B run --once
//   (b) one 1 GiB file from A to B                rclone: copy A→relay, relay→B; cp: cp -r twice
//   (c) a no-change round over 100,000 files      escale run --once on an up-to-date pair
// Wall time and peak RSS come from /usr/bin/time around each command; relay objects and
// requests from an in-process round through a counting wrapper.
// a-enc and b-enc run (a) and (b) with escale alone, without and with encryption (a passphrase
// file), alternately in the same run: the cost of encryption.
// Each workload runs `--reps` times (default 3) in rotated tool order; see bench/settle.ts for
// what happens before every timed command.
// Usage: deno run -A bench/transfer_bench.ts [--reps N] [a|b|c|a-enc|b-enc ...] (default: all)
import { CountingRelay } from "../src/relay/counting_relay.ts";
import { FileRelay } from "../src/relay/file_relay.ts";
import { RelayStore } from "../src/protocol/relay_store.ts";
import { Repository } from "../src/engine/repository.ts";
import { collectingLogger } from "../src/log/logger.ts";
import type { RepoOptions } from "../src/engine/context.ts";
import { median, settle } from "./settle.ts";

const launcher = new URL("../scripts/escale", import.meta.url).pathname;
const args = [...Deno.args];
const repsAt = args.indexOf("--reps");
const reps = repsAt >= 0 ? Number(args.splice(repsAt, 2)[1]) : 3;
const which = args.length ? args : ["a", "b", "c", "a-enc", "b-enc"];

interface Timed {
  seconds: number;
  rssMiB: number;
}

async function timed(cmd: string[], env: Record<string, string> = {}): Promise<Timed> {
  const out = await new Deno.Command("/usr/bin/time", {
    args: ["-f", "%e %M", ...cmd],
    env: { RCLONE_CONFIG: "/dev/null", ...env },
    stdout: "null",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(out.stderr).trim().split("\n");
  if (!out.success) throw new Error(`${cmd.join(" ")} failed: ${err.join("\n")}`);
  const [s, kb] = err[err.length - 1].split(" ").map(Number);
  return { seconds: s, rssMiB: Math.round(kb / 1024) };
}

async function makeTree(dir: string, files: number, size: number): Promise<void> {
  const block = new Uint8Array(size).map((_, i) => (i * 31) & 0xff);
  for (let d = 0; d < Math.ceil(files / 100); d++) {
    await Deno.mkdir(`${dir}/d${d}`, { recursive: true });
    for (let f = 0; f < 100 && d * 100 + f < files; f++) {
      block[0] = f;
      block[1] = d & 0xff;
      Deno.writeFileSync(`${dir}/d${d}/f${f}.bin`, block);
    }
  }
}

async function makeBig(path: string, bytes: number): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  const chunk = crypto.getRandomValues(new Uint8Array(65536));
  const big = new Uint8Array(8 * 1024 * 1024);
  for (let i = 0; i < big.length; i += chunk.length) big.set(chunk, i);
  for (let done = 0; done < bytes; done += big.length) {
    big[0] = done & 0xff;
    await f.write(big.subarray(0, Math.min(big.length, bytes - done)));
  }
  f.close();
}

async function confs(dir: string, source = `${dir}/A`, encrypted = false): Promise<void> {
  if (encrypted) {
    await Deno.writeTextFile(`${dir}/relay.key`, crypto.randomUUID() + crypto.randomUUID(), {
      mode: 0o600,
    });
  }
  for (const [c, mode] of [["A", "upload"], ["B", "download"]]) {
    await Deno.writeTextFile(
      `${dir}/${c}.conf`,
      `[${c}]\nclient = ${c}\nlocal path = ${
        c === "A" ? source : `${dir}/B`
      }\nrelay path = ${dir}/relay\nmode = ${mode}\n` +
        (encrypted ? `passphrase = ${dir}/relay.key\n` : ""),
    );
  }
}

function countFiles(dir: string): number {
  let n = 0;
  for (const e of Deno.readDirSync(dir)) n += e.isDirectory ? countFiles(`${dir}/${e.name}`) : 1;
  return n;
}

/** In-process A→B rounds through a counting relay: objects and requests. */
async function counted(
  dir: string,
): Promise<{ dataObjects: number; requestsA: number; requestsB: number }> {
  const relayDir = `${dir}/relay-counted`;
  await Deno.mkdir(relayDir);
  const relay = new CountingRelay(await new FileRelay(relayDir).open());
  const header = await RelayStore.ensureHeader(relay, null);
  const base = {
    filter: { acceptFile: () => true, acceptDir: () => true },
    hiddenFiles: false,
    modificationTime: true,
    chunkSize: 8 * 1024 * 1024,
    maxPageSize: 200 * 1024 * 1024,
    transfers: 4,
    conflict: "keep-both" as const,
    propagateDeletions: true,
    deleteThreshold: 0.5,
    force: false,
  };
  const repo = (name: string, mode: RepoOptions["mode"], root: string) =>
    Repository.open(
      { ...base, name, mode, localPath: root, clientName: name },
      new RelayStore(relay),
      header.created,
      `${dir}/${name}-counted.db`,
      collectingLogger(),
    );
  await Deno.mkdir(`${dir}/B2`);
  const b = repo("B2", "download", `${dir}/B2`);
  await b.round();
  const a = repo("A2", "upload", `${dir}/A`);
  relay.reset();
  await a.round();
  const requestsA = relay.requests;
  const dataObjects = countFiles(`${relayDir}/data`);
  relay.reset();
  await b.round();
  const requestsB = relay.requests;
  await a.close();
  await b.close();
  return { dataObjects, requestsA, requestsB };
}

type Tool = "escale" | "escale-enc" | "rclone" | "cp";

interface ToolRun {
  up: Timed;
  down: Timed;
}

/**
 * One workload, `reps` repetitions. Each repetition gets new destination folders (and new
 * escale state) and runs the tools in a rotated order, so that no tool is always first or last;
 * every timed command is preceded by `settle` (bench/settle.ts).
 */
async function transfer(
  label: string,
  fill: (dir: string) => Promise<void>,
  tools: Tool[],
  warmBytes: number,
): Promise<Record<string, unknown>> {
  const dir = await Deno.makeTempDir({ prefix: "escale-bench-" });
  try {
    await fill(`${dir}/A`);
    // Warm the page cache and Deno's module cache so that every tool starts equal.
    await timed(["sh", "-c", `find ${dir}/A -type f -exec cat {} + > /dev/null`]);
    await timed([launcher, "--version"]);
    const runs = new Map<Tool, ToolRun[]>(tools.map((t) => [t, []]));
    for (let rep = 0; rep < reps; rep++) {
      const order = tools.map((_, i) => tools[(i + rep) % tools.length]);
      for (const tool of order) {
        const r = `${dir}/rep${rep}-${tool}`;
        await Deno.mkdir(r);
        const step = async (cmd: string[]) => {
          await settle(dir, warmBytes);
          return await timed(cmd);
        };
        let run: ToolRun;
        if (tool === "escale" || tool === "escale-enc") {
          for (const d of ["B", "relay"]) await Deno.mkdir(`${r}/${d}`);
          await confs(r, `${dir}/A`, tool === "escale-enc");
          await timed([launcher, "run", "--once", "-q", "-c", `${r}/B.conf`]); // registers B
          const up = await step([launcher, "run", "--once", "-q", "-c", `${r}/A.conf`]);
          const down = await step([launcher, "run", "--once", "-q", "-c", `${r}/B.conf`]);
          await same(`${dir}/A`, `${r}/B`, tool);
          run = { up, down };
        } else if (tool === "rclone") {
          const rc = (from: string, to: string) =>
            step(["rclone", "copy", "--transfers", "4", from, to]);
          run = { up: await rc(`${dir}/A`, `${r}/relay`), down: await rc(`${r}/relay`, `${r}/B`) };
          await same(`${dir}/A`, `${r}/B`, tool);
        } else {
          await Deno.mkdir(`${r}/relay`);
          await Deno.mkdir(`${r}/B`);
          const up = await step(["cp", "-r", `${dir}/A/.`, `${r}/relay`]);
          const down = await step(["cp", "-r", `${r}/relay/.`, `${r}/B`]);
          run = { up, down };
        }
        runs.get(tool)!.push(run);
        console.error(`${label} rep ${rep + 1} ${tool}: ${JSON.stringify(run)}`);
        await Deno.remove(r, { recursive: true });
      }
    }
    const summary: Record<string, unknown> = { workload: label, reps, load: loadAvg() };
    for (const [tool, rs] of runs) {
      const totals = rs.map((x) => +(x.up.seconds + x.down.seconds).toFixed(2));
      summary[tool] = {
        totals,
        median: median(totals),
        up: rs.map((x) => x.up.seconds),
        down: rs.map((x) => x.down.seconds),
        rssMiB: Math.max(...rs.flatMap((x) => [x.up.rssMiB, x.down.rssMiB])),
      };
    }
    if (tools.includes("rclone")) Object.assign(summary, await counted(dir));
    return summary;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function same(a: string, b: string, tool: string): Promise<void> {
  const check = await new Deno.Command("diff", { args: ["-r", "-q", "-x", ".escale", a, b] })
    .output();
  if (!check.success) throw new Error(`${tool}: B differs from A`);
}

function loadAvg(): string {
  return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
}

async function noChange(files: number): Promise<Record<string, unknown>> {
  const dir = await Deno.makeTempDir({ prefix: "escale-bench-c-" });
  try {
    await makeTree(`${dir}/A`, files, 64);
    await Deno.mkdir(`${dir}/B`);
    await Deno.mkdir(`${dir}/relay`);
    await confs(dir);
    for (const c of ["B", "A", "B", "A"]) {
      await timed([launcher, "run", "--once", "-q", "-c", `${dir}/${c}.conf`]);
    }
    const before = countFiles(`${dir}/relay`);
    const stamp = JSON.stringify(
      [...Deno.readDirSync(`${dir}/relay/clients`)].map((e) =>
        Deno.statSync(`${dir}/relay/clients/${e.name}`).mtime
      ),
    );
    const runs: Timed[] = [];
    for (let i = 0; i < 3; i++) {
      runs.push(await timed([launcher, "run", "--once", "-q", "-c", `${dir}/A.conf`]));
    }
    const after = JSON.stringify(
      [...Deno.readDirSync(`${dir}/relay/clients`)].map((e) =>
        Deno.statSync(`${dir}/relay/clients/${e.name}`).mtime
      ),
    );
    if (after !== stamp || countFiles(`${dir}/relay`) !== before) {
      throw new Error("a no-change round wrote to the relay");
    }
    const rc = await timed(["rclone", "copy", `${dir}/A`, `${dir}/B`]);
    runs.sort((x, y) => x.seconds - y.seconds);
    return {
      workload: `no-change round, ${files} files`,
      escale: runs[1],
      rclone: rc,
      relayWrites: 0,
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const results: Record<string, unknown>[] = [];
const small = (d: string) => makeTree(d, 10_000, 1024);
const big = (d: string) => makeBig(`${d}/big.bin`, 1024 ** 3);
const GiB = 1024 ** 3;
if (which.includes("a")) {
  results.push(await transfer("10,000 files of 1 KiB", small, ["escale", "rclone", "cp"], 0));
}
if (which.includes("b")) {
  results.push(
    await transfer("one 1 GiB file", big, ["escale", "rclone", "cp"], 1.5 * GiB),
  );
}
if (which.includes("c")) results.push(await noChange(100_000));
if (which.includes("a-enc")) {
  results.push(await transfer("10,000 files of 1 KiB", small, ["escale", "escale-enc"], 0));
}
if (which.includes("b-enc")) {
  results.push(await transfer("one 1 GiB file", big, ["escale", "escale-enc"], 1.5 * GiB));
}
console.log(JSON.stringify(results, null, 1));
