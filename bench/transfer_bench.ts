// Benchmarks of issue 4, all on the `file` relay, each compared in the same run with rclone
// (Debian's, a local remote) and plain cp:
//   (a) 10,000 files of 1 KiB from A to B        escale: A run --once, then B run --once
//   (b) one 1 GiB file from A to B                rclone: copy A→relay, relay→B; cp: cp -r twice
//   (c) a no-change round over 100,000 files      escale run --once on an up-to-date pair
// Wall time and peak RSS come from /usr/bin/time around each command; relay objects and
// requests from an in-process round through a counting wrapper.
// a-enc and b-enc repeat (a) and (b) with encryption on (a key file), for the cost of encryption.
// Usage: deno run -A bench/transfer_bench.ts [a|b|c|a-enc|b-enc ...]   (default: all)
import { CountingRelay } from "../src/relay/counting_relay.ts";
import { FileRelay } from "../src/relay/file_relay.ts";
import { RelayStore } from "../src/protocol/relay_store.ts";
import { Repository } from "../src/engine/repository.ts";
import { collectingLogger } from "../src/log/logger.ts";
import type { RepoOptions } from "../src/engine/context.ts";

const launcher = new URL("../scripts/escale", import.meta.url).pathname;
const which = Deno.args.length ? Deno.args : ["a", "b", "c", "a-enc", "b-enc"];

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

const sum = (a: Timed, b: Timed): Timed => ({
  seconds: +(a.seconds + b.seconds).toFixed(2),
  rssMiB: Math.max(a.rssMiB, b.rssMiB),
});

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

async function confs(dir: string, encrypted = false): Promise<void> {
  if (encrypted) {
    await Deno.writeTextFile(`${dir}/relay.key`, crypto.randomUUID() + crypto.randomUUID(), {
      mode: 0o600,
    });
  }
  for (const [c, mode] of [["A", "upload"], ["B", "download"]]) {
    await Deno.writeTextFile(
      `${dir}/${c}.conf`,
      `[${c}]\nclient = ${c}\nlocal path = ${dir}/${c}\nrelay path = ${dir}/relay\nmode = ${mode}\n` +
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

async function transfer(
  label: string,
  fill: (dir: string) => Promise<void>,
  encrypted = false,
): Promise<Record<string, unknown>> {
  const dir = await Deno.makeTempDir({ prefix: `escale-bench-${label}-` });
  try {
    await fill(`${dir}/A`);
    for (const d of ["B", "relay", "rc-relay", "rc-B", "cp-relay", "cp-B"]) {
      await Deno.mkdir(`${dir}/${d}`);
    }
    await confs(dir, encrypted);
    // Warm the page cache and Deno's module cache so that every tool starts equal.
    await timed(["sh", "-c", `cat $(find ${dir}/A -type f) > /dev/null`]);
    await timed([launcher, "--version"]);
    await timed([launcher, "run", "--once", "-q", "-c", `${dir}/B.conf`]); // registers B
    const up = await timed([launcher, "run", "--once", "-q", "-c", `${dir}/A.conf`]);
    const down = await timed([launcher, "run", "--once", "-q", "-c", `${dir}/B.conf`]);
    const rcUp = await timed(["rclone", "copy", "--transfers", "4", `${dir}/A`, `${dir}/rc-relay`]);
    const rcDown = await timed([
      "rclone",
      "copy",
      "--transfers",
      "4",
      `${dir}/rc-relay`,
      `${dir}/rc-B`,
    ]);
    const cpUp = await timed(["cp", "-r", `${dir}/A/.`, `${dir}/cp-relay`]);
    const cpDown = await timed(["cp", "-r", `${dir}/cp-relay/.`, `${dir}/cp-B`]);
    const check = await new Deno.Command("diff", {
      args: ["-r", "-x", ".escale", `${dir}/A`, `${dir}/B`],
    }).output();
    if (!check.success) throw new Error("escale: B differs from A");
    return {
      workload: label + (encrypted ? ", encrypted" : ""),
      escale: sum(up, down),
      escaleUp: up,
      escaleDown: down,
      rclone: sum(rcUp, rcDown),
      cp: sum(cpUp, cpDown),
      ...(encrypted ? {} : await counted(dir)),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
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
if (which.includes("a")) {
  results.push(await transfer("10,000 files of 1 KiB", (d) => makeTree(d, 10_000, 1024)));
}
if (which.includes("b")) {
  results.push(await transfer("one 1 GiB file", (d) => makeBig(`${d}/big.bin`, 1024 ** 3)));
}
if (which.includes("c")) results.push(await noChange(100_000));
if (which.includes("a-enc")) {
  results.push(await transfer("10,000 files of 1 KiB", (d) => makeTree(d, 10_000, 1024), true));
}
if (which.includes("b-enc")) {
  results.push(await transfer("one 1 GiB file", (d) => makeBig(`${d}/big.bin`, 1024 ** 3), true));
}
console.log(JSON.stringify(results, null, 1));
