// Compares the receiving side of two versions of escale on one big file, turn about in the same
// run: on a noisy VM (benchmarks.md, "Method") the same command varies by 2x between minutes, so
// a change is judged by alternating it with the code it replaces, never by comparing with an
// older run. A puller of each version registers, the current code uploads, then each version
// downloads the same data; the order alternates between repetitions.
// Usage: deno run -A bench/compare_versions.ts --base GIT-REF [--reps N] [--mib N]
//          [file|ftp|ftps|webdav|s3]
import { median, settle } from "./settle.ts";
import { startWebDavServer } from "../tests/servers/webdav_server.ts";
import { startS3Server } from "../tests/servers/s3_server.ts";
import { startFtpServer } from "../tests/servers/ftp_server.ts";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const deno = `${root}/tools/node_modules/.bin/deno`;

function parseArgs(argv: string[]) {
  const a = { base: "", reps: 4, mib: 1024, kind: "file" };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i];
    if (v === "--base") a.base = argv[++i];
    else if (v === "--reps") a.reps = Number(argv[++i]);
    else if (v === "--mib") a.mib = Number(argv[++i]);
    else if (["file", "ftp", "ftps", "webdav", "s3"].includes(v)) a.kind = v;
    else throw new Error(`unknown argument ${v}`);
  }
  if (!a.base) throw new Error("--base GIT-REF is required");
  return a;
}

async function sh(cmd: string, args: string[], cwd = root): Promise<void> {
  const o = await new Deno.Command(cmd, { args, cwd, stdout: "null", stderr: "piped" }).output();
  if (!o.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(o.stderr)}`);
  }
}

/** The relay lines of a config for `kind`, in folder `name` on the server (file: a local one). */
async function startRelay(kind: string, top: string) {
  const secret = `${top}/secret`;
  if (kind === "ftp" || kind === "ftps") {
    const s = await startFtpServer({ tls: kind === "ftps" });
    await Deno.writeTextFile(secret, `${s.user}:${s.password}`, { mode: 0o600 });
    const tls = kind === "ftps" ? `protocol = ftps\nca file = ${s.certFile}\n` : "protocol = ftp\n";
    return {
      lines: (name: string) =>
        `${tls}host address = ${s.host}\nport = ${s.port}\nhost directory = ${name}\nsecret file = ${secret}\n`,
      stop: s.stop,
    };
  }
  if (kind === "webdav") {
    const s = await startWebDavServer();
    await Deno.writeTextFile(secret, `${s.user}:${s.password}`, { mode: 0o600 });
    return {
      lines: (name: string) => `host address = ${s.url}${name}\nsecret file = ${secret}\n`,
      stop: s.stop,
    };
  }
  if (kind === "s3") {
    const s = await startS3Server();
    return {
      lines: (name: string) =>
        `protocol = s3\nendpoint = ${s.endpoint}\nbucket = ${s.bucket}\nregion = ${s.region}\nhost directory = ${name}\naccess key id = ${s.accessKeyId}\nsecret access key = ${s.secretAccessKey}\n`,
      stop: s.stop,
    };
  }
  return {
    lines: (name: string) => {
      Deno.mkdirSync(`${top}/${name}`, { recursive: true });
      return `relay path = ${top}/${name}\n`;
    },
    stop: () => Promise.resolve(),
  };
}

const args = parseArgs(Deno.args);
const top = await Deno.makeTempDir({ prefix: "escale-compare-" });
const baseTree = `${top}/base-tree`;
await sh("git", ["worktree", "add", "--detach", "-q", baseTree, args.base]);
await Deno.symlink(`${root}/node_modules`, `${baseTree}/node_modules`);
const relay = await startRelay(args.kind, top);
const times: Record<"base" | "head", number[]> = { base: [], head: [] };
try {
  for (let rep = 0; rep < args.reps; rep++) {
    const dir = `${top}/r${rep}`;
    await Deno.mkdir(`${dir}/A`, { recursive: true });
    await sh("sh", ["-c", `head -c ${args.mib}M /dev/urandom > ${dir}/A/big.bin`]);
    const lines = relay.lines(`r${rep}`);
    for (const [c, mode] of [["A", "upload"], ["base", "download"], ["head", "download"]]) {
      await Deno.mkdir(`${dir}/${c}`, { recursive: true });
      await Deno.writeTextFile(
        `${dir}/${c}.conf`,
        `[${c}]\nclient = ${c}\nlocal path = ${dir}/${c}\nmode = ${mode}\n${lines}`,
      );
    }
    const round = async (client: string, tree: string) => {
      await settle(dir, 1.5 * args.mib * 1024 * 1024);
      const start = performance.now();
      const o = await new Deno.Command("/usr/bin/time", {
        args: [
          "-f",
          "%U %S %M",
          deno,
          "run",
          "-A",
          "--config",
          `${tree}/deno.json`,
          `${tree}/main.ts`,
          "run",
          "--once",
          "-q",
          "-c",
          `${dir}/${client}.conf`,
        ],
        stderr: "piped",
      }).output();
      const wall = (performance.now() - start) / 1000;
      const err = new TextDecoder().decode(o.stderr).trim().split("\n");
      if (!o.success) throw new Error(`${client}: ${err.join(" ")}`);
      const [user, sys, rss] = err.pop()!.split(" ").map(Number);
      return { wall, user, sys, rssMiB: Math.round(rss / 1024) };
    };
    await round("base", baseTree);
    await round("head", root);
    await round("A", root);
    const order = rep % 2 ? (["head", "base"] as const) : (["base", "head"] as const);
    const line: string[] = [];
    for (const v of order) {
      const r = await round(v, v === "base" ? baseTree : root);
      times[v].push(r.wall);
      line.push(`${v} ${r.wall.toFixed(2)} s (CPU ${r.user} + ${r.sys} s, ${r.rssMiB} MiB)`);
      await sh("cmp", [`${dir}/A/big.bin`, `${dir}/${v}/big.bin`]);
    }
    console.log(`rep ${rep + 1}: ${line.join(" | ")}`);
    await Deno.remove(dir, { recursive: true });
  }
  console.log(
    `${args.kind}, ${args.mib} MiB down: median base (${args.base}) ${
      median(times.base).toFixed(2)
    } s, head ${median(times.head).toFixed(2)} s`,
  );
} finally {
  await relay.stop();
  await sh("git", ["worktree", "remove", "--force", baseTree]).catch(() => {});
  await Deno.remove(top, { recursive: true }).catch(() => {});
}
