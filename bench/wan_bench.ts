// WAN-shaped benchmark (issue 16): escale against rclone in the same run, through our own proxy
// (wan_proxy.ts) that gives every connection the round trip and the rate of a link profile:
//   wan: RTT 40 ms, 100 Mbit/s each way     far: RTT 150 ms, 20 Mbit/s each way
// on Apache WebDAV, moto S3, ProFTPD FTP and explicit FTPS (tests/servers/), for
//   small: 1,000 files of 1 KiB, pushed then pulled, then rounds with nothing to do
//   big:   one file of 256 MiB (wan) or 64 MiB (far), pushed then pulled
// escale: B registers (untimed), A `run --once` (push), B `run --once` (pull), then A and B once
// more (no-change: the first round after a transfer, where the pusher cleans up) and once again
// (idle). rclone: `rclone copy` A→server (push), server→B (pull), then both again (no-change).
// Every command runs under /usr/bin/time; the proxy counts its connections and requests. Each
// result is also given as a share of the physical floor (wan_floor.ts). Before the workloads,
// the proxy itself is checked with curl (wan_checks.ts).
// The `loopback` profile runs the same commands through the proxy without delay or rate limit:
// with it in the run, each shaped round is also given as round trips beyond its loopback time.
// Usage: deno run -A bench/wan_bench.ts [--profile loopback|wan|far ...] [--reps N] [--files N]
//          [--big-mib N] [--out FILE.md] [--json FILE] [webdav|s3|ftp|ftps ...] [small|big ...]
//        deno run -A bench/wan_bench.ts --report FILE.json   (the report of a saved run, again)
import { settle } from "./settle.ts";
import { type ServerKind, SERVERS, startTarget, type Target } from "./bench_targets.ts";
import {
  loadAvg,
  machine,
  makeBig,
  makeTree,
  same,
  sync,
  type Timed,
  timed,
} from "./bench_tools.ts";
import { type LinkProfile, PROFILES } from "./wan_link.ts";
import { type ProxyStats, statsDelta } from "./wan_proxy.ts";
import { checkProxy, describeCheck, type ProxyCheck } from "./wan_checks.ts";
import type { RoundKind } from "./wan_floor.ts";
import { report } from "./wan_report.ts";

const launcher = new URL("../scripts/escale", import.meta.url).pathname;

const WORKLOADS = ["small", "big"] as const;
export type Workload = typeof WORKLOADS[number];
/** Default size of the big file per profile: about 20 s of transfer each way. */
const BIG_MIB: Record<string, number> = { wan: 256, far: 64, loopback: 256 };

export interface Args {
  profiles: LinkProfile[];
  reps: number;
  files: number;
  bigMiB?: number;
  out?: string;
  json?: string;
  servers: ServerKind[];
  workloads: Workload[];
}

function parseArgs(argv: string[]): Args {
  const a: Args = { profiles: [], reps: 1, files: 1000, servers: [], workloads: [] };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i];
    const next = () => {
      const n = argv[++i];
      if (n === undefined) throw new Error(`${v} needs a value`);
      return n;
    };
    if (v === "--profile") {
      const p = PROFILES[next()];
      if (!p) throw new Error(`--profile takes one of ${Object.keys(PROFILES).join(", ")}`);
      a.profiles.push(p);
    } else if (v === "--reps") a.reps = Number(next());
    else if (v === "--files") a.files = Number(next());
    else if (v === "--big-mib") a.bigMiB = Number(next());
    else if (v === "--out") a.out = next();
    else if (v === "--json") a.json = next();
    else if ((SERVERS as readonly string[]).includes(v)) a.servers.push(v as ServerKind);
    else if ((WORKLOADS as readonly string[]).includes(v)) a.workloads.push(v as Workload);
    else throw new Error(`unknown argument ${v}`);
  }
  if (!a.profiles.length) a.profiles = [PROFILES.wan, PROFILES.far];
  if (!a.servers.length) a.servers = [...SERVERS];
  if (!a.workloads.length) a.workloads = [...WORKLOADS];
  return a;
}

export function bigMiB(a: Args, p: LinkProfile): number {
  return a.bigMiB ?? BIG_MIB[p.name];
}

export type Tool = "escale" | "rclone";

/** One timed command. */
export interface Measure {
  tool: Tool;
  /** push, pull, no-change (first rounds after the transfer), idle (escale: the rounds after) */
  round: string;
  /** which side: A (pusher) or B (puller) */
  side: "A" | "B";
  kind: RoundKind;
  /** payload bytes the round must move */
  bytes: number;
  load: string;
  timed?: Timed;
  traffic?: ProxyStats;
  error?: string;
}

export interface Rep {
  profile: string;
  server: ServerKind;
  workload: Workload;
  rep: number;
  first: Tool;
  measures: Measure[];
}

export interface ProfileRun {
  profile: LinkProfile;
  check?: ProxyCheck;
  checkError?: string;
  /** median seconds of three `--version` runs: process start and module loading */
  startup: Record<Tool, number>;
}

const message = (e: unknown) =>
  (e instanceof Error ? e.message : String(e)).split("\n").slice(0, 3).join(" ");

/** Bytes of page-cache memory warmed before each timed command (see bench/settle.ts). */
let warmBytes = 0;

async function measure(
  target: Target,
  scratch: string,
  m: Omit<Measure, "load">,
  cmd: string[],
  env: Record<string, string> = {},
): Promise<Measure> {
  const out: Measure = { ...m, load: loadAvg() };
  try {
    await settle(scratch, warmBytes);
    out.load = loadAvg();
    const before = target.proxy!.stats();
    out.timed = await timed(cmd, env);
    out.traffic = statsDelta(before, target.proxy!.stats());
  } catch (e) {
    out.error = message(e);
  }
  return out;
}

async function check(m: Measure, src: string, dest: string): Promise<Measure> {
  await sync();
  if (!m.error && !(await same(src, dest))) m.error = "B differs from A";
  return m;
}

async function escaleRounds(
  target: Target,
  dir: string,
  src: string,
  workload: Workload,
  bytes: number,
): Promise<Measure[]> {
  const run = (side: "A" | "B", round: string, kind: RoundKind) =>
    measure(
      target,
      dir,
      { tool: "escale", side, round, kind, bytes: kind === "idle" ? 0 : bytes },
      [
        launcher,
        "run",
        "--once",
        "-q",
        "-c",
        `${dir}/${side}.conf`,
      ],
    );
  const out = [await run("A", "push", "push")];
  out.push(await check(await run("B", "pull", "pull"), src, `${dir}/B`));
  if (workload === "small") {
    for (const round of ["no-change", "idle"]) {
      out.push(await run("A", round, "idle"));
      out.push(await check(await run("B", round, "idle"), src, `${dir}/B`));
    }
  }
  return out;
}

async function rcloneRounds(
  target: Target,
  dir: string,
  src: string,
  workload: Workload,
  bytes: number,
): Promise<Measure[]> {
  const remote = target.rcloneRemote("rc-relay");
  const dest = `${dir}/rc-B`;
  const copy = (side: "A" | "B", round: string, kind: RoundKind) =>
    measure(
      target,
      dir,
      { tool: "rclone", side, round, kind, bytes: kind === "idle" ? 0 : bytes },
      [
        ...["env", "-u", "AWS_CA_BUNDLE", "rclone", "copy", ...target.rcloneFlags],
        ...(side === "A" ? [src, remote] : [remote, dest]),
      ],
      target.rcloneEnv,
    );
  const out = [await copy("A", "push", "push")];
  out.push(await check(await copy("B", "pull", "pull"), src, dest));
  if (workload === "small") {
    out.push(await copy("A", "no-change", "idle"));
    out.push(await check(await copy("B", "no-change", "idle"), src, dest));
  }
  return out;
}

async function repetition(
  profile: LinkProfile,
  server: ServerKind,
  workload: Workload,
  rep: number,
  src: string,
  bytes: number,
): Promise<Rep> {
  const dir = await Deno.makeTempDir({ prefix: `escale-wanbench-${server}-${workload}-` });
  const first: Tool = rep % 2 === 1 ? "escale" : "rclone";
  const r: Rep = { profile: profile.name, server, workload, rep, first, measures: [] };
  let target: Target | undefined;
  try {
    target = await startTarget(server, profile);
    await Deno.mkdir(`${dir}/B`);
    await Deno.mkdir(`${dir}/rc-B`);
    const relay = await target.escaleLines("relay", dir);
    await Deno.writeTextFile(
      `${dir}/A.conf`,
      `[A]\nclient = A\nlocal path = ${src}\nmode = upload\n${relay}`,
    );
    await Deno.writeTextFile(
      `${dir}/B.conf`,
      `[B]\nclient = B\nlocal path = ${dir}/B\nmode = download\n${relay}`,
    );
    const tools: Record<Tool, () => Promise<Measure[]>> = {
      escale: async () => {
        // B registers first (untimed), so that A's commit is meant for it. A's state lives next
        // to its configuration, so every repetition starts as a first upload.
        try {
          await timed([launcher, "run", "--once", "-q", "-c", `${dir}/B.conf`]);
        } catch (e) {
          return [{
            tool: "escale",
            round: "register",
            side: "B",
            kind: "idle",
            bytes: 0,
            load: loadAvg(),
            error: message(e),
          }];
        }
        return escaleRounds(target!, dir, src, workload, bytes);
      },
      rclone: () => rcloneRounds(target!, dir, src, workload, bytes),
    };
    for (
      const tool of first === "escale"
        ? ["escale", "rclone"] as const
        : ["rclone", "escale"] as const
    ) {
      r.measures.push(...await tools[tool]());
    }
  } catch (e) {
    r.measures.push({
      tool: first,
      round: "setup",
      side: "A",
      kind: "idle",
      bytes: 0,
      load: loadAvg(),
      error: message(e),
    });
  } finally {
    await target?.stop();
    await Deno.remove(dir, { recursive: true });
  }
  console.error(JSON.stringify(r));
  return r;
}

async function median3(cmd: string[]): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < 3; i++) xs.push((await timed(cmd)).seconds);
  return xs.sort((a, b) => a - b)[1];
}

async function main(): Promise<void> {
  if (Deno.args[0] === "--report") {
    // Renders the report of a finished (or interrupted) run again from its --json file.
    console.log(report(JSON.parse(await Deno.readTextFile(Deno.args[1]))));
    return;
  }
  const a = parseArgs(Deno.args);
  const header = await machine();
  const started = Date.now();
  const cmd = `deno run -A bench/wan_bench.ts ${Deno.args.join(" ")}`.trim();
  const runs: ProfileRun[] = [];
  const reps: Rep[] = [];
  const save = async () => {
    if (!a.json) return;
    const minutes = (Date.now() - started) / 60_000;
    const all = { cmd, minutes, header, args: a, runs, reps };
    await Deno.writeTextFile(a.json, JSON.stringify(all, null, 1) + "\n");
  };
  // Warms Deno's module cache too, so that no timed command compiles anything.
  await timed([launcher, "--version"]);
  for (const profile of a.profiles) {
    const pr: ProfileRun = {
      profile,
      startup: {
        escale: await median3([launcher, "--version"]),
        rclone: await median3(["rclone", "version"]),
      },
    };
    if (profile.rttMs > 0) {
      try {
        pr.check = await checkProxy(profile);
        console.error(describeCheck(pr.check, profile));
      } catch (e) {
        pr.checkError = message(e);
      }
    }
    runs.push(pr);
    for (const workload of a.workloads) {
      const base = await Deno.makeTempDir({ prefix: `escale-wanbench-src-${workload}-` });
      try {
        const src = `${base}/A`;
        const bytes = workload === "small" ? a.files * 1024 : bigMiB(a, profile) * 1048576;
        if (workload === "small") await makeTree(src, a.files, 1024);
        else await makeBig(`${src}/big.bin`, bytes);
        // Each timed command of the big workload writes the file once (server or B).
        warmBytes = workload === "big" ? 1.5 * bytes : 0;
        await sync();
        // Every tool starts with the source in the page cache.
        await timed(["sh", "-c", `find ${src} -type f -exec cat {} + > /dev/null`]);
        for (const server of a.servers) {
          for (let rep = 1; rep <= a.reps; rep++) {
            reps.push(await repetition(profile, server, workload, rep, src, bytes));
            await save();
          }
        }
      } finally {
        await Deno.remove(base, { recursive: true });
      }
    }
  }
  const minutes = (Date.now() - started) / 60_000;
  const md = report({ cmd, minutes, header, args: a, runs, reps });
  if (a.out) await Deno.writeTextFile(a.out, md);
  await save();
  console.log(md);
}

if (import.meta.main) await main();
