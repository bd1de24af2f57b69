// Encryption compared fairly (issue 16): escale with a passphrase against rclone with its `crypt`
// overlay (file names, folder names and contents encrypted, rclone's defaults), on the same
// workloads, in the same run, in alternating order, medians of `--reps` (default 3):
//   small: 1,000 files of 1 KiB: push, pull, then one round each with nothing to do
//   big:   one file of 256 MiB (random bytes): push, pull
// on a local folder relay and on network servers reached through a WAN proxy (wan_proxy.ts,
// profile `wan` unless --profile says otherwise).
// escale: B registers (untimed), A `run --once` (push), B `run --once` (pull), A and B once more.
// rclone: `rclone copy A secret:` (push), `rclone copy secret: B` (pull), both again. The crypt
// remote `secret:` wraps a local folder or the server's remote, configured only through
// RCLONE_CONFIG_* variables (RCLONE_CONFIG=/dev/null), its password obscured with `rclone obscure`
// through stdin. Both tools derive their key from a passphrase in every process (escale argon2id,
// rclone scrypt), so both pay their KDF per command.
// Usage: deno run -A bench/crypt_bench.ts [--reps N] [--files N] [--big-mib N] [--profile P]
//          [--json FILE] [local|webdav|s3|ftp|ftps ...] [small|big ...]
//        deno run -A bench/crypt_bench.ts --report FILE.json
import { median, settle } from "./settle.ts";
import { obscure, SERVERS, startTarget, type Target } from "./bench_targets.ts";
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
import { floorSeconds } from "./wan_floor.ts";

const launcher = new URL("../scripts/escale", import.meta.url).pathname;

const PLACES = ["local", ...SERVERS] as const;
type Place = typeof PLACES[number];
const WORKLOADS = ["small", "big"] as const;
type Workload = typeof WORKLOADS[number];
type Tool = "escale" | "rclone";

interface Args {
  reps: number;
  files: number;
  bigMiB: number;
  profile: LinkProfile;
  json?: string;
  places: Place[];
  workloads: Workload[];
}

interface Measure {
  tool: Tool;
  round: "push" | "pull" | "no-change A" | "no-change B";
  load: string;
  timed?: Timed;
  /** through the proxy (network places): requests counted and bytes each way */
  requests?: number;
  bytesUp?: number;
  bytesDown?: number;
  error?: string;
}

interface Rep {
  place: Place;
  workload: Workload;
  rep: number;
  first: Tool;
  measures: Measure[];
}

interface Saved {
  cmd: string;
  header: string;
  args: Args;
  minutes: number;
  reps: Rep[];
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    reps: 3,
    files: 1000,
    bigMiB: 256,
    profile: PROFILES.wan,
    places: [],
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
    else if (v === "--json") a.json = next();
    else if (v === "--profile") {
      const p = PROFILES[next()];
      if (!p) throw new Error(`--profile takes one of ${Object.keys(PROFILES).join(", ")}`);
      a.profile = p;
    } else if ((PLACES as readonly string[]).includes(v)) a.places.push(v as Place);
    else if ((WORKLOADS as readonly string[]).includes(v)) a.workloads.push(v as Workload);
    else throw new Error(`unknown argument ${v}`);
  }
  if (!a.places.length) a.places = ["local", "webdav"];
  if (!a.workloads.length) a.workloads = [...WORKLOADS];
  return a;
}

const message = (e: unknown) =>
  (e instanceof Error ? e.message : String(e)).split("\n").slice(0, 3).join(" ");

const requestCount = (t: ProxyStats) => Object.values(t.requests).reduce((s, n) => s + n, 0);

/** Bytes of page-cache memory warmed before each timed command (see bench/settle.ts). */
let warmBytes = 0;

async function measure(
  scratch: string,
  proxy: Target["proxy"],
  m: Pick<Measure, "tool" | "round">,
  cmd: string[],
  env: Record<string, string> = {},
): Promise<Measure> {
  const out: Measure = { ...m, load: loadAvg() };
  try {
    await settle(scratch, warmBytes);
    out.load = loadAvg();
    const before = proxy?.stats();
    out.timed = await timed(cmd, env);
    if (proxy && before) {
      const t = statsDelta(before, proxy.stats());
      out.requests = t.uncounted ? undefined : requestCount(t);
      out.bytesUp = t.bytesUp;
      out.bytesDown = t.bytesDown;
    }
  } catch (e) {
    out.error = message(e);
  }
  return out;
}

async function checked(m: Measure, src: string, dest: string): Promise<Measure> {
  await sync();
  if (!m.error && !(await same(src, dest))) m.error = "B differs from A";
  return m;
}

/** Every name under `dir` (relative), to check that a relay shows none of the source's names. */
async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    out.push(e.name);
    if (e.isDirectory) out.push(...await names(`${dir}/${e.name}`));
  }
  return out;
}

async function repetition(
  a: Args,
  place: Place,
  workload: Workload,
  rep: number,
  src: string,
): Promise<Rep> {
  const dir = await Deno.makeTempDir({ prefix: `escale-cryptbench-${place}-${workload}-` });
  const first: Tool = rep % 2 === 1 ? "escale" : "rclone";
  const r: Rep = { place, workload, rep, first, measures: [] };
  let target: Target | undefined;
  try {
    if (place !== "local") target = await startTarget(place, a.profile);
    const passphrase = crypto.randomUUID() + crypto.randomUUID();
    await Deno.writeTextFile(`${dir}/passphrase`, passphrase, { mode: 0o600 });
    for (const d of ["B", "rc-B", "relay", "rc-relay"]) await Deno.mkdir(`${dir}/${d}`);
    const relay = target ? await target.escaleLines("relay", dir) : `relay path = ${dir}/relay\n`;
    for (const [side, root, mode] of [["A", src, "upload"], ["B", `${dir}/B`, "download"]]) {
      await Deno.writeTextFile(
        `${dir}/${side}.conf`,
        `[${side}]\nclient = ${side}\nlocal path = ${root}\nmode = ${mode}\n${relay}` +
          `passphrase = ${dir}/passphrase\n`,
      );
    }
    // The crypt remote, configured only through the environment (RCLONE_CONFIG=/dev/null).
    const rcloneEnv: Record<string, string> = {
      ...target?.rcloneEnv,
      RCLONE_CONFIG_SECRET_TYPE: "crypt",
      RCLONE_CONFIG_SECRET_REMOTE: target ? target.rcloneRemote("rc-relay") : `${dir}/rc-relay`,
      RCLONE_CONFIG_SECRET_PASSWORD: await obscure(passphrase),
    };
    const rcloneFlags = target?.rcloneFlags ?? [];
    const small = workload === "small";

    const escale = async (): Promise<Measure[]> => {
      const run = (side: "A" | "B", round: Measure["round"]) =>
        measure(dir, target?.proxy, { tool: "escale", round }, [
          launcher,
          "run",
          "--once",
          "-q",
          "-c",
          `${dir}/${side}.conf`,
        ]);
      // B registers first (untimed, it also writes the relay header and its key check), so
      // that A's commit is meant for it.
      await timed([launcher, "run", "--once", "-q", "-c", `${dir}/B.conf`]);
      const out = [await run("A", "push")];
      out.push(await checked(await run("B", "pull"), src, `${dir}/B`));
      if (small) {
        out.push(await run("A", "no-change A"));
        out.push(await checked(await run("B", "no-change B"), src, `${dir}/B`));
      }
      if (!target) {
        const header = await Deno.readTextFile(`${dir}/relay/escale.json`);
        if (!header.includes("chacha20-poly1305")) {
          throw new Error("escale's relay is not encrypted");
        }
      }
      return out;
    };
    const rclone = async (): Promise<Measure[]> => {
      const copy = (round: Measure["round"], from: string, to: string) =>
        measure(dir, target?.proxy, { tool: "rclone", round }, [
          ...["env", "-u", "AWS_CA_BUNDLE", "rclone", "copy", ...rcloneFlags, from, to],
        ], rcloneEnv);
      const dest = `${dir}/rc-B`;
      const out = [await copy("push", src, "secret:")];
      out.push(await checked(await copy("pull", "secret:", dest), src, dest));
      if (small) {
        out.push(await copy("no-change A", src, "secret:"));
        out.push(await checked(await copy("no-change B", "secret:", dest), src, dest));
      }
      if (!target) {
        // rclone crypt's names are base32 of encrypted names: no source name may show.
        const plain = new Set(await names(src));
        if ((await names(`${dir}/rc-relay`)).some((n) => plain.has(n))) {
          throw new Error("rclone's relay shows plain names: crypt is not in use");
        }
      }
      return out;
    };
    const order: Tool[] = first === "escale" ? ["escale", "rclone"] : ["rclone", "escale"];
    for (const tool of order) r.measures.push(...await (tool === "escale" ? escale() : rclone()));
  } catch (e) {
    r.measures.push({ tool: first, round: "push", load: loadAvg(), error: message(e) });
  } finally {
    await target?.stop();
    await Deno.remove(dir, { recursive: true });
  }
  console.error(JSON.stringify(r));
  return r;
}

const f2 = (n: number) => n.toFixed(2);

function report(s: Saved): string {
  const lines = [
    `Command: \`${s.cmd}\` (${s.minutes.toFixed(1)} minutes)`,
    "",
    s.header,
    "",
    `Network places through the proxy's \`${s.args.profile.name}\` profile (RTT ${s.args.profile.rttMs} ms, ${s.args.profile.mbit} Mbit/s each way).`,
    "",
    "| place | workload | round | escale s (reps) | rclone crypt s (reps) | escale / rclone (medians) | share of floor escale / rclone | escale CPU s / RSS MiB (median, max) | rclone CPU s / RSS MiB (median, max) | requests escale / rclone (median) | load (1 min) min-max |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  const keys = new Set(s.reps.map((r) => `${r.place} ${r.workload}`));
  for (const key of keys) {
    const reps = s.reps.filter((r) => `${r.place} ${r.workload}` === key);
    const rounds = [...new Set(reps.flatMap((r) => r.measures.map((m) => m.round)))];
    for (const round of rounds) {
      const of = (tool: Tool) =>
        reps.flatMap((r) => r.measures.filter((m) => m.tool === tool && m.round === round));
      const cell = (tool: Tool) => {
        const ms = of(tool);
        const ok = ms.filter((m) => m.timed && !m.error).map((m) => m.timed!);
        const errors = ms.filter((m) => m.error).map((m) => m.error);
        return { ms, ok, errors };
      };
      const e = cell("escale");
      const c = cell("rclone");
      const secs = (x: typeof e) =>
        x.ok.length
          ? `**${f2(median(x.ok.map((t) => t.seconds)))}** (${
            x.ok.map((t) => f2(t.seconds)).join(", ")
          })`
          : "-";
      const res = (x: typeof e) =>
        x.ok.length
          ? `${f2(median(x.ok.map((t) => t.cpu)))} / ${Math.max(...x.ok.map((t) => t.rssMiB))}`
          : "-";
      const reqs = (x: typeof e) => {
        const n = x.ms.map((m) => m.requests).filter((v): v is number => v !== undefined);
        return n.length ? String(median(n)) : "-";
      };
      const ratio = e.ok.length && c.ok.length
        ? f2(median(e.ok.map((t) => t.seconds)) / median(c.ok.map((t) => t.seconds)))
        : "-";
      // Network places: the median as a share of the physical floor (wan_floor.ts).
      const [place, workload] = key.split(" ") as [Place, Workload];
      const bytes = round.startsWith("no-change")
        ? 0
        : workload === "small"
        ? s.args.files * 1024
        : s.args.bigMiB * 1048576;
      const share = (x: typeof e) => {
        if (place === "local" || !x.ok.length) return "-";
        const kind = round.startsWith("no-change") ? "idle" : round as "push" | "pull";
        const floor = floorSeconds(place, kind, bytes, s.args.profile);
        return `${Math.round(100 * floor / median(x.ok.map((t) => t.seconds)))}%`;
      };
      const loads = [...e.ms, ...c.ms].map((m) => Number(m.load.split(" ")[0]));
      const errs = [...e.errors, ...c.errors];
      lines.push(
        `| ${key.replace(" ", " | ")} | ${round} | ${secs(e)} | ${secs(c)} | ${ratio} | ${
          share(e)
        } / ${share(c)} | ${res(e)} | ${res(c)} | ${reqs(e)} / ${reqs(c)} | ${
          f2(Math.min(...loads))
        }-${f2(Math.max(...loads))}${errs.length ? ` errors: ${errs.join("; ")}` : ""} |`,
      );
    }
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  if (Deno.args[0] === "--report") {
    console.log(report(JSON.parse(await Deno.readTextFile(Deno.args[1]))));
    return;
  }
  const a = parseArgs(Deno.args);
  const started = Date.now();
  const saved: Saved = {
    cmd: `deno run -A bench/crypt_bench.ts ${Deno.args.join(" ")}`.trim(),
    header: await machine(),
    args: a,
    minutes: 0,
    reps: [],
  };
  const save = async () => {
    saved.minutes = (Date.now() - started) / 60_000;
    if (a.json) await Deno.writeTextFile(a.json, JSON.stringify(saved, null, 1) + "\n");
  };
  // Warms Deno's module cache, so that no timed command compiles anything.
  await timed([launcher, "--version"]);
  for (const workload of a.workloads) {
    const base = await Deno.makeTempDir({ prefix: `escale-cryptbench-src-${workload}-` });
    try {
      const src = `${base}/A`;
      const bytes = workload === "small" ? a.files * 1024 : a.bigMiB * 1048576;
      if (workload === "small") await makeTree(src, a.files, 1024);
      else await makeBig(`${src}/big.bin`, bytes);
      // Each timed command of the big workload writes the file once (relay or B).
      warmBytes = workload === "big" ? 1.5 * bytes : 0;
      await sync();
      await timed(["sh", "-c", `find ${src} -type f -exec cat {} + > /dev/null`]);
      for (const place of a.places) {
        for (let rep = 1; rep <= a.reps; rep++) {
          saved.reps.push(await repetition(a, place, workload, rep, src));
          await save();
        }
      }
    } finally {
      await Deno.remove(base, { recursive: true });
    }
  }
  await save();
  console.log(report(saved));
}

if (import.meta.main) await main();
