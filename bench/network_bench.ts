// Network benchmarks of issues 6 and 7: escale against `rclone copy` through the same real server
// in the same run, for Apache WebDAV (http), moto S3, ProFTPD plain FTP and explicit FTPS.
//   small: 10,000 files of 1 KiB    big: one 1 GiB file
// escale: B registers (untimed), then A `run --once` (up) and B `run --once` (down);
// rclone: `rclone copy` A→server (up), then server→B (down). Each command runs under
// /usr/bin/time (wall and CPU seconds, peak RSS). Every repetition gets a freshly started server, so
// neither tool finds the other's leftovers and moto's memory does not pile up; repetitions
// alternate which tool goes first, so page cache and server warm-up favour neither.
// Usage: deno run -A bench/network_bench.ts [--reps N] [--files N] [--big-mib N]
//          [--once SERVER:WORKLOAD ...] [--out FILE.md] [--json FILE]
//          [webdav|s3|ftp|ftps ...] [small|big ...]
// --once measures one combination a single time (e.g. webdav:small, where rclone alone needs
// minutes), to keep the whole run near 20 minutes.
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

const launcher = new URL("../scripts/escale", import.meta.url).pathname;

const WORKLOADS = ["small", "big"] as const;
type Workload = typeof WORKLOADS[number];

interface Args {
  reps: number;
  files: number;
  bigMiB: number;
  out?: string;
  json?: string;
  once: Set<string>;
  servers: ServerKind[];
  workloads: Workload[];
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    reps: 2,
    files: 10_000,
    bigMiB: 1024,
    once: new Set(),
    servers: [],
    workloads: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i];
    const next = () => {
      const n = argv[++i];
      if (n === undefined) throw new Error(`${v} needs a value`);
      return n;
    };
    if (v === "--reps") a.reps = Number(next());
    else if (v === "--files") a.files = Number(next());
    else if (v === "--big-mib") a.bigMiB = Number(next());
    else if (v === "--out") a.out = next();
    else if (v === "--json") a.json = next();
    else if (v === "--once") a.once.add(next());
    else if ((SERVERS as readonly string[]).includes(v)) a.servers.push(v as ServerKind);
    else if ((WORKLOADS as readonly string[]).includes(v)) a.workloads.push(v as Workload);
    else throw new Error(`unknown argument ${v}`);
  }
  if (!a.servers.length) a.servers = [...SERVERS];
  if (!a.workloads.length) a.workloads = [...WORKLOADS];
  return a;
}

/** One tool's up and down commands; `error` when a command failed or B did not equal A. */
interface Pair {
  load: string;
  up?: Timed;
  down?: Timed;
  error?: string;
}

interface Rep {
  server: ServerKind;
  workload: Workload;
  rep: number;
  first: "escale" | "rclone";
  register?: Timed;
  escale: Pair;
  rclone: Pair;
}

/** Bytes of page-cache memory warmed before each timed command (see bench/settle.ts). */
let warmBytes = 0;

/** Times `up` then `down` and checks `dest` against `src`; a failure is recorded, not thrown. */
async function pair(
  up: () => Promise<Timed>,
  down: () => Promise<Timed>,
  src: string,
  dest: string,
): Promise<Pair> {
  const p: Pair = { load: loadAvg() };
  const scratch = dest.slice(0, dest.lastIndexOf("/"));
  try {
    await settle(scratch, warmBytes);
    p.up = await up();
    await settle(scratch, warmBytes);
    p.down = await down();
    await sync();
    if (!(await same(src, dest))) p.error = "B differs from A";
  } catch (e) {
    p.error = (e instanceof Error ? e.message : String(e)).split("\n").slice(0, 3).join(" ");
  }
  return p;
}

function escalePair(dir: string, src: string): Promise<Pair> {
  const round = (c: string) => () => timed([launcher, "run", "--once", "-q", "-c", `${dir}/${c}`]);
  return pair(round("A.conf"), round("B.conf"), src, `${dir}/B`);
}

function rclonePair(dir: string, src: string, target: Target): Promise<Pair> {
  const rc = (from: string, to: string) => () =>
    timed(
      ["env", "-u", "AWS_CA_BUNDLE", "rclone", "copy", ...target.rcloneFlags, from, to],
      target.rcloneEnv,
    );
  const remote = target.rcloneRemote("rc-relay");
  return pair(rc(src, remote), rc(remote, `${dir}/rc-B`), src, `${dir}/rc-B`);
}

async function repetition(
  server: ServerKind,
  workload: Workload,
  rep: number,
  src: string,
): Promise<Rep> {
  const dir = await Deno.makeTempDir({ prefix: `escale-netbench-${server}-${workload}-` });
  const target = await startTarget(server);
  try {
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
    const first = rep % 2 === 1 ? "escale" : "rclone";
    const r: Rep = { server, workload, rep, first, escale: { load: "" }, rclone: { load: "" } };
    // A's state (cache dir) lives next to its configuration, so the shared source stays clean and
    // every repetition starts as a first upload. B registers first, so A's commit is meant for it.
    try {
      r.register = await timed([launcher, "run", "--once", "-q", "-c", `${dir}/B.conf`]);
    } catch (e) {
      r.escale.error = `registering B: ${(e as Error).message.split("\n")[0]}`;
    }
    if (first === "rclone") r.rclone = await rclonePair(dir, src, target);
    if (r.register) r.escale = await escalePair(dir, src);
    if (first === "escale") r.rclone = await rclonePair(dir, src, target);
    console.error(JSON.stringify(r));
    return r;
  } finally {
    await target.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

const total = (p: Pair) => p.error ? NaN : p.up!.seconds + p.down!.seconds;
const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => Number.isNaN(n) ? "failed" : n.toFixed(2);

function table(reps: Rep[], workload: Workload, a: Args): string {
  const big = workload === "big";
  const rate = (s: number) =>
    big ? `${f1(a.bigMiB / s)} MiB/s` : `${Math.round(a.files / s)} files/s`;
  const lines = [
    `| server | rep | tool | load at start | up s | down s | A→B s | ${
      big ? "up / down / A→B" : "A→B"
    } throughput | CPU s up / down | peak RSS MiB up / down | B = A |`,
    "|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const r of reps.filter((x) => x.workload === workload)) {
    const order = r.first === "escale"
      ? ["escale", "rclone"] as const
      : ["rclone", "escale"] as const;
    for (const tool of order) {
      const p = r[tool];
      if (p.error) {
        const timedPart = `${p.up ? f2(p.up.seconds) : "failed"} | ${
          p.down ? f2(p.down.seconds) : p.up ? "failed" : "–"
        }`;
        lines.push(
          `| ${r.server} | ${r.rep} | ${tool} | ${p.load} | ${timedPart} | – | – | – | – | ${
            p.error.replaceAll("|", "/")
          } |`,
        );
        continue;
      }
      const [up, down] = [p.up!, p.down!];
      const thr = big
        ? `${rate(up.seconds)} / ${rate(down.seconds)} / ${rate(total(p))}`
        : rate(total(p));
      lines.push(
        `| ${r.server} | ${r.rep} | ${tool} | ${p.load} | ${f2(up.seconds)} | ${
          f2(down.seconds)
        } | ${f2(total(p))} | ${thr} | ${f1(up.cpu)} / ${
          f1(down.cpu)
        } | ${up.rssMiB} / ${down.rssMiB} | yes |`,
      );
    }
  }
  return lines.join("\n");
}

function verdicts(reps: Rep[], workload: Workload): string {
  const lines = [
    "| server | escale A→B s (reps) | rclone A→B s (reps) | escale / rclone time | target | met |",
    "|---|---|---|---|---|---|",
  ];
  const servers = [...new Set(reps.map((r) => r.server))];
  for (const s of servers) {
    const rs = reps.filter((r) => r.server === s && r.workload === workload);
    if (!rs.length) continue;
    const ratios = rs.map((r) => total(r.escale) / total(r.rclone));
    // Small files: escale must take less time than rclone. Big file: escale's throughput at
    // least 80% of rclone's, that is, at most 1.25 times rclone's time. A failed escale run
    // misses the target; a failed rclone run leaves nothing to compare with.
    const limit = workload === "small" ? 1 : 1 / 0.8;
    const met = ratios.filter((x) => workload === "small" ? x < limit : x <= limit).length;
    const open = rs.filter((r) => !r.escale.error && r.rclone.error).length;
    const verdict = open
      ? `${met} of ${rs.length - open} comparable reps (rclone failed in ${open})`
      : met === rs.length
      ? "yes"
      : met === 0
      ? "no"
      : `${met} of ${rs.length} reps`;
    lines.push(
      `| ${s} | ${rs.map((r) => f2(total(r.escale))).join(", ")} | ${
        rs.map((r) => f2(total(r.rclone))).join(", ")
      } | ${ratios.map(f2).join(", ")} | ${
        workload === "small" ? "< 1.00" : "≤ 1.25 (≥ 80% throughput)"
      } | ${verdict} |`,
    );
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  const a = parseArgs(Deno.args);
  const header = await machine();
  const started = Date.now();
  const reps: Rep[] = [];
  for (const workload of a.workloads) {
    const base = await Deno.makeTempDir({ prefix: `escale-netbench-src-${workload}-` });
    try {
      const src = `${base}/A`;
      if (workload === "small") await makeTree(src, a.files, 1024);
      else await makeBig(`${src}/big.bin`, a.bigMiB * 1024 * 1024);
      // Each timed command of the big workload writes the file once (server or B): that much
      // memory is warmed before it (bench/settle.ts).
      warmBytes = workload === "big" ? 1.5 * a.bigMiB * 1024 * 1024 : 0;
      await sync();
      // Warm the page cache and Deno's module cache so that every tool starts equal.
      await timed(["sh", "-c", `find ${src} -type f -exec cat {} + > /dev/null`]);
      await timed([launcher, "--version"]);
      for (const server of a.servers) {
        const count = a.once.has(`${server}:${workload}`) ? 1 : a.reps;
        for (let rep = 1; rep <= count; rep++) {
          reps.push(await repetition(server, workload, rep, src));
          // Written after every repetition, so that an interrupted run keeps what it measured.
          if (a.json) await Deno.writeTextFile(a.json, JSON.stringify(reps, null, 1) + "\n");
        }
      }
    } finally {
      await Deno.remove(base, { recursive: true });
    }
  }
  const minutes = (Date.now() - started) / 60_000;
  const cmd = `deno run -A bench/network_bench.ts ${Deno.args.join(" ")}`.trim();
  const parts = [`Command: \`${cmd}\` (${f1(minutes)} min)`, "", header];
  const names: Record<Workload, string> = {
    small: `${a.files.toLocaleString("en-US")} files of 1 KiB`,
    big: `one ${a.bigMiB === 1024 ? "1 GiB" : `${a.bigMiB} MiB`} file`,
  };
  for (const w of a.workloads) {
    parts.push("", `### ${names[w]}`, "", table(reps, w, a), "", verdicts(reps, w));
  }
  const md = parts.join("\n") + "\n";
  if (a.out) await Deno.writeTextFile(a.out, md);
  if (a.json) await Deno.writeTextFile(a.json, JSON.stringify(reps, null, 1) + "\n");
  console.log(md);
}

await main();
