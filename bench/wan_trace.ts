// The timeline of escale's rounds through the WAN proxy: every connection and request (HTTP
// method and path, FTP command; FTPS commands are encrypted, only connections show) with the
// time the proxy read it, relative to the start of the round. Requests one RTT apart were sent
// one after another; requests at the same time went together.
// Usage: deno run -A bench/wan_trace.ts [--profile wan|far] [--files N] webdav|s3|ftp|ftps
import { type ServerKind, SERVERS, startTarget } from "./bench_targets.ts";
import { makeTree, timed } from "./bench_tools.ts";
import { PROFILES } from "./wan_link.ts";

const launcher = new URL("../scripts/escale", import.meta.url).pathname;

let profile = PROFILES.wan;
let files = 1000;
let server: ServerKind | undefined;
for (let i = 0; i < Deno.args.length; i++) {
  const v = Deno.args[i];
  if (v === "--profile") profile = PROFILES[Deno.args[++i]] ?? profile;
  else if (v === "--files") files = Number(Deno.args[++i]);
  else if ((SERVERS as readonly string[]).includes(v)) server = v as ServerKind;
  else throw new Error(`unknown argument ${v}`);
}
if (!server) throw new Error(`name a server: ${SERVERS.join(", ")}`);

const dir = await Deno.makeTempDir({ prefix: "escale-wantrace-" });
const target = await startTarget(server, profile, { trace: true });
try {
  await makeTree(`${dir}/A`, files, 1024);
  await Deno.mkdir(`${dir}/B`);
  const relay = await target.escaleLines("relay", dir);
  for (const [side, mode, path] of [["A", "upload", `${dir}/A`], ["B", "download", `${dir}/B`]]) {
    await Deno.writeTextFile(
      `${dir}/${side}.conf`,
      `[${side}]\nclient = ${side}\nlocal path = ${path}\nmode = ${mode}\n${relay}`,
    );
  }
  const proxy = target.proxy!;
  const rounds = [
    ["B", "register"],
    ["A", "push"],
    ["B", "pull"],
    ["A", "no-change"],
    ["B", "no-change"],
    ["A", "idle"],
  ];
  console.log(`# ${server}, profile ${profile.name} (RTT ${profile.rttMs} ms), ${files} files`);
  for (const [side, round] of rounds) {
    const from = proxy.trace().length;
    const before = proxy.stats().busyMs;
    const t = await timed([launcher, "run", "--once", "-q", "-c", `${dir}/${side}.conf`]);
    const events = proxy.trace().slice(from);
    const wire = (proxy.stats().busyMs - before) / profile.rttMs;
    console.log(
      `\n## ${side} ${round}: ${t.seconds.toFixed(2)} s, ${events.length} events, ${
        wire.toFixed(1)
      } RTTs on the wire`,
    );
    const t0 = events[0]?.ms ?? 0;
    for (const e of events) {
      console.log(
        `+${String(e.ms - t0).padStart(5)} ms  #${e.conn} ${e.kind.padEnd(11)} ${e.what}`,
      );
    }
  }
} finally {
  await target.stop();
  await Deno.remove(dir, { recursive: true });
}
