// Benchmark (issue 16, "many clients"): N clients in shared mode on one relay, simulated in one
// process: N repositories, each with its own folder and state database, all over one file relay
// wrapped in a request counter (folder_counting_relay.ts). Every client is a real Repository
// running real rounds; only the processes and the network are left out, and neither changes which
// requests a round sends. Counts requests, not time, so the load of the machine does not matter.
//
// Two layouts: every client in shared mode, and one pusher (upload) with N-1 pullers (download),
// as in CI artifact relaying. For each layout and N it prints the requests (by kind and relay
// folder) of:
//   - an idle round of one client, once every client is in sync;
//   - the rounds after client 0 changed one file: client 0 publishing it, each other client
//     applying it, client 0 releasing it, each other client's round after that, until quiet;
//   - the whole wave divided by N (requests per client for one change).
// Usage: deno run -A bench/many_clients.ts [--json FILE] [shared|one-pusher ...] [N ...]
//        (default: both layouts, N = 2 10 50)
import { Repository } from "../src/engine/repository.ts";
import type { RepoOptions } from "../src/engine/context.ts";
import type { RoundStats } from "../src/engine/context.ts";
import { openStore } from "../src/protocol/open_store.ts";
import { FileRelay } from "../src/relay/file_relay.ts";
import { collectingLogger } from "../src/log/logger.ts";
import { FolderCountingRelay } from "./folder_counting_relay.ts";

type Tally = Record<string, number>;

const LAYOUTS = ["shared", "one-pusher"] as const;
type Layout = typeof LAYOUTS[number];

interface Counted {
  requests: number;
  tally: Tally;
}

interface Result {
  layout: Layout;
  clients: number;
  /** passes over every client it took to reach a pass with nothing to do */
  settlePasses: number;
  idle: Counted;
  publish: Counted;
  firstApply: Counted;
  lastApply: Counted;
  release: Counted;
  firstAfter: Counted;
  lastAfter: Counted;
  /** a round of client 1 once the wave is over: idle again */
  idleAgain: Counted;
  /** every request of every client from the change until a pass with nothing to do */
  waveRequests: number;
  waveRounds: number;
}

const SEED_FILES = 10;

function options(name: string, root: string, mode: RepoOptions["mode"]): RepoOptions {
  return {
    name,
    localPath: root,
    clientName: name,
    mode,
    filter: { acceptFile: () => true, acceptDir: () => true },
    hiddenFiles: false,
    modificationTime: true,
    chunkSize: 8 * 1024 * 1024,
    maxPageSize: 200 * 1024 * 1024,
    transfers: 4,
    conflict: "keep-both",
    propagateDeletions: true,
    deleteThreshold: 0.5,
    force: false,
  };
}

/** Whether a round did anything at all (then another pass is needed before the relay is quiet). */
function busy(s: RoundStats): boolean {
  return s.relayWrites > 0 || s.downloaded > 0 || s.garbageCollected > 0 || s.uploaded > 0;
}

async function scenario(layout: Layout, n: number): Promise<Result> {
  const dir = await Deno.makeTempDir({ prefix: `escale-many-${n}-` });
  const repos: Repository[] = [];
  try {
    await Deno.mkdir(`${dir}/relay`);
    const relay = new FolderCountingRelay(await new FileRelay(`${dir}/relay`).open());
    for (let i = 0; i < n; i++) {
      const root = `${dir}/c${i}`;
      await Deno.mkdir(root);
      const { store, header } = await openStore(relay, { mode: "none" });
      repos.push(
        Repository.open(
          options(
            `c${i}`,
            root,
            layout === "shared" ? "shared" : i === 0 ? "upload" : "download",
          ),
          store,
          header.created,
          `${dir}/c${i}.state.db`,
          collectingLogger(),
        ),
      );
    }
    for (let f = 0; f < SEED_FILES; f++) {
      await Deno.writeTextFile(`${dir}/c0/f${f}.txt`, `seed ${f}\n`);
    }
    // Everyone registers, pulls the seed files and acknowledges them; client 0 releases them.
    let settlePasses = 0;
    for (let quiet = false; !quiet; settlePasses++) {
      if (settlePasses > 10) throw new Error(`${n} clients: still busy after 10 passes`);
      quiet = true;
      for (const r of repos) if (busy(await r.round())) quiet = false;
    }
    for (let i = 0; i < n; i++) {
      const text = await Deno.readTextFile(`${dir}/c${i}/f0.txt`);
      if (text !== "seed 0\n") throw new Error(`client ${i} did not get the seed files`);
    }

    const counted = async (r: Repository): Promise<Counted & { stats: RoundStats }> => {
      relay.reset();
      const stats = await r.round();
      return { requests: relay.requests, tally: relay.snapshot(), stats };
    };
    const idle = await counted(repos[1]);
    if (busy(idle.stats)) throw new Error("the idle round did something");

    // One change: client 0 edits one file, then every client runs rounds until it is quiet.
    await Deno.writeTextFile(`${dir}/c0/f0.txt`, "changed once, a little longer\n");
    let waveRequests = 0;
    let waveRounds = 0;
    const wave = async (r: Repository) => {
      const c = await counted(r);
      waveRequests += c.requests;
      waveRounds++;
      return c;
    };
    const publish = await wave(repos[0]);
    if (publish.stats.uploaded !== 1) throw new Error("client 0 did not publish its change");
    const applies = [];
    for (const r of repos.slice(1)) applies.push(await wave(r));
    const release = await wave(repos[0]);
    if (release.stats.garbageCollected !== 1) throw new Error("client 0 did not release");
    const after = [];
    for (const r of repos.slice(1)) after.push(await wave(r));
    // Until a whole pass does nothing (its requests count as part of the wave too).
    for (let quiet = false, pass = 0; !quiet; pass++) {
      if (pass > 5) throw new Error(`${n} clients: the wave did not end`);
      quiet = true;
      for (const r of repos) if (busy((await wave(r)).stats)) quiet = false;
    }
    for (let i = 0; i < n; i++) {
      const text = await Deno.readTextFile(`${dir}/c${i}/f0.txt`);
      if (!text.startsWith("changed once")) throw new Error(`client ${i} missed the change`);
    }
    const idleAgain = await counted(repos[1]);
    const strip = ({ requests, tally }: Counted): Counted => ({ requests, tally });
    return {
      layout,
      clients: n,
      settlePasses,
      idle: strip(idle),
      publish: strip(publish),
      firstApply: strip(applies[0]),
      lastApply: strip(applies[applies.length - 1]),
      release: strip(release),
      firstAfter: strip(after[0]),
      lastAfter: strip(after[after.length - 1]),
      idleAgain: strip(idleAgain),
      waveRequests,
      waveRounds,
    };
  } finally {
    for (const r of repos) await r.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function describe(c: Counted): string {
  const parts = Object.entries(c.tally).map(([k, v]) => `${k} ${v}`);
  return `**${c.requests}** (${parts.join(", ")})`;
}

function table(results: Result[]): string {
  const rows: [string, (r: Result) => string][] = [
    ["idle round of client 1 (all in sync)", (r) => describe(r.idle)],
    ["client 0 publishes one changed file", (r) => describe(r.publish)],
    ["client 1 applies it (first puller)", (r) => describe(r.firstApply)],
    [`client N-1 applies it (last puller)`, (r) => describe(r.lastApply)],
    ["client 0 releases it (all acknowledged)", (r) => describe(r.release)],
    ["client 1, next round", (r) => describe(r.firstAfter)],
    ["client N-1, next round", (r) => describe(r.lastAfter)],
    ["client 1 idle again", (r) => describe(r.idleAgain)],
    [
      "whole wave: requests / rounds / per client",
      (r) => `${r.waveRequests} / ${r.waveRounds} / ${(r.waveRequests / r.clients).toFixed(1)}`,
    ],
  ];
  const head = `| ${results[0].layout}: round | ${
    results.map((r) => `N = ${r.clients}`).join(" | ")
  } |`;
  const sep = `| --- | ${results.map(() => "---").join(" | ")} |`;
  const body = rows.map(([label, f]) => `| ${label} | ${results.map(f).join(" | ")} |`);
  return [head, sep, ...body].join("\n");
}

async function main(): Promise<void> {
  const args = [...Deno.args];
  const at = args.indexOf("--json");
  const json = at >= 0 ? args.splice(at, 2)[1] : undefined;
  const layouts = LAYOUTS.filter((l) => args.includes(l));
  const rest = args.filter((a) => !(LAYOUTS as readonly string[]).includes(a));
  const ns = rest.length ? rest.map(Number) : [2, 10, 50];
  if (ns.some((n) => !Number.isInteger(n) || n < 2)) throw new Error("N must be an integer >= 2");
  const results: Result[] = [];
  const tables: string[] = [];
  for (const layout of layouts.length ? layouts : LAYOUTS) {
    const mine: Result[] = [];
    for (const n of ns) {
      const t = performance.now();
      mine.push(await scenario(layout, n));
      console.error(`${layout}, ${n} clients: ${((performance.now() - t) / 1000).toFixed(1)} s`);
    }
    results.push(...mine);
    tables.push(table(mine));
  }
  if (json) await Deno.writeTextFile(json, JSON.stringify(results, null, 1) + "\n");
  console.log(tables.join("\n\n"));
}

if (import.meta.main) await main();
