// Benchmark: a round with nothing to do over N files (default 10,000), through a file relay.
// Measures the engine round in-process and the whole `escale run --once` command (process start,
// config, relay open, round). Usage: deno run -A bench/no_change_round.ts [N]
import { Repository } from "../src/engine/repository.ts";
import { RelayStore } from "../src/protocol/relay_store.ts";
import { FileRelay } from "../src/relay/file_relay.ts";
import { collectingLogger } from "../src/log/logger.ts";
import type { RepoOptions } from "../src/engine/context.ts";

const n = Number(Deno.args[0] ?? 10_000);
const dir = await Deno.makeTempDir({ prefix: "escale-bench-" });
const root = `${dir}/A`;
await Deno.mkdir(`${dir}/relay`);
for (let d = 0; d < n / 100; d++) {
  await Deno.mkdir(`${root}/dir${d}`, { recursive: true });
  for (let f = 0; f < 100; f++) {
    await Deno.writeTextFile(`${root}/dir${d}/file${f}.txt`, `content ${d}/${f}\n`);
  }
}
const relay = await new FileRelay(`${dir}/relay`).open();
const header = await RelayStore.ensureHeader(relay, null);
const opts: RepoOptions = {
  name: "A",
  localPath: root,
  clientName: "bench",
  mode: "shared",
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
await Deno.mkdir(`${dir}/.escale/A`, { recursive: true });
const repo = Repository.open(
  opts,
  new RelayStore(relay),
  header.created,
  `${dir}/.escale/A/A.state.db`,
  collectingLogger(),
);
let t = performance.now();
const first = await repo.round();
const firstMs = performance.now() - t;
const rounds: number[] = [];
for (let i = 0; i < 5; i++) {
  t = performance.now();
  const s = await repo.round();
  rounds.push(performance.now() - t);
  if (s.relayWrites !== 0) throw new Error("a no-change round wrote to the relay");
}
repo.close();
await Deno.writeTextFile(
  `${dir}/A.conf`,
  `[A]\nclient = bench\nlocal path = ${root}\nrelay path = ${dir}/relay\n`,
);
const cli: number[] = [];
const launcher = new URL("../scripts/escale", import.meta.url).pathname;
for (let i = 0; i < 3; i++) {
  t = performance.now();
  const out = await new Deno.Command(launcher, {
    args: ["run", "--once", "-q", "-c", `${dir}/A.conf`],
  }).output();
  cli.push(performance.now() - t);
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
console.log(JSON.stringify({
  files: n,
  firstRoundMs: Math.round(firstMs),
  firstRoundDataObjects: first.relayWrites - 2,
  noChangeRoundMedianMs: Math.round(med(rounds)),
  noChangeCliMedianMs: Math.round(med(cli)),
  relayWritesInNoChangeRounds: 0,
}));
await Deno.remove(dir, { recursive: true });
