/** The markdown report of bench/wan_bench.ts: escale against rclone, then every command. */
import { bytesPerSecond, type LinkProfile } from "./wan_link.ts";
import { describeCheck } from "./wan_checks.ts";
import { floorRtts, floorSeconds } from "./wan_floor.ts";
import type { ProxyStats } from "./wan_proxy.ts";
import { median } from "./settle.ts";
import {
  type Args,
  bigMiB,
  type Measure,
  type ProfileRun,
  type Rep,
  type Tool,
  type Workload,
} from "./wan_bench.ts";
import type { ServerKind } from "./bench_targets.ts";

const f2 = (n: number) => n.toFixed(2);
const pct = (x: number) => `${Math.round(100 * x)}%`;

function requestCount(t: ProxyStats): number {
  return Object.values(t.requests).reduce((s, n) => s + n, 0);
}

function requests(t: ProxyStats, server: ServerKind): string {
  if (server === "ftps") return "encrypted";
  const entries = Object.entries(t.requests).sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1));
  const list = entries.map(([k, n]) => `${k} ${n}`).join(", ");
  return `**${requestCount(t)}**: ${list}${t.uncounted ? ` (+${t.uncounted} unparsed)` : ""}`;
}

function connections(t: ProxyStats): string {
  const c = t.connections;
  if (c.http !== undefined) return String(c.http);
  return `${c["ftp-control"] ?? 0} + ${c["ftp-data"] ?? 0} data`;
}

interface Derived {
  seconds: number;
  floor: number;
  share: number;
  /** seconds during which something was on the way through the proxy */
  wire: number;
  /** round trips waited for: time on the wire beyond the payload's own, in RTTs */
  rtts: number;
}

function derive(m: Measure, r: Rep, p: LinkProfile): Derived | null {
  if (m.error || !m.timed || !m.traffic) return null;
  const s = m.timed.seconds;
  const floor = floorSeconds(r.server, m.kind, m.bytes, p);
  const wire = m.traffic.busyMs / 1000;
  const rtts = p.rttMs > 0 ? (wire - m.bytes / bytesPerSecond(p)) / (p.rttMs / 1000) : 0;
  return { seconds: s, floor, share: floor / s, wire, rtts };
}

function measuresTable(reps: Rep[], run: ProfileRun): string {
  const p = run.profile;
  const shaped = p.rttMs > 0;
  const lines = [
    `| server | rep | tool | round | side | load at start | s | MB/s | ${
      shaped ? "floor s (RTTs) | share of floor | on the wire s | RTTs waited | " : ""
    }requests | connections | peak RSS MiB | CPU s |`,
    `|---|---|---|---|---|---|---|---|${shaped ? "---|---|---|---|" : ""}---|---|---|---|`,
  ];
  for (const r of reps) {
    for (const m of r.measures) {
      const d = derive(m, r, p);
      const floor = shaped
        ? `${f2(floorSeconds(r.server, m.kind, m.bytes, p))} (${floorRtts(r.server, m.kind)}) | `
        : "";
      const head = `| ${r.server} | ${r.rep} | ${m.tool} | ${m.round} | ${m.side} | ${m.load}`;
      if (!d) {
        lines.push(
          `${head} | failed | – | ${floor}${shaped ? "– | – | – | " : ""}${
            (m.error ?? "").replaceAll("|", "/")
          } | – | – | – |`,
        );
        continue;
      }
      const t = m.traffic!;
      const mbps = m.bytes ? f2(m.bytes / 1e6 / d.seconds) : "–";
      lines.push(
        `${head} | ${f2(d.seconds)} | ${mbps} | ${floor}${
          shaped ? `${pct(d.share)} | ${f2(d.wire)} | ${d.rtts.toFixed(1)} | ` : ""
        }${requests(t, r.server)} | ${connections(t)} | ${m.timed!.rssMiB} | ${
          m.timed!.cpu.toFixed(1)
        } |`,
      );
    }
  }
  return lines.join("\n");
}

function summaryTable(reps: Rep[], run: ProfileRun): string {
  const shaped = run.profile.rttMs > 0;
  const lines = [
    `| server | round | side | escale s | rclone s | escale / rclone time | ${
      shaped
        ? "escale share of floor | rclone share of floor | escale RTTs waited (rclone's) | "
        : ""
    }escale requests | escale connections | escale peak RSS MiB |`,
    `|---|---|---|---|---|---|${shaped ? "---|---|---|" : ""}---|---|---|`,
  ];
  for (const server of [...new Set(reps.map((r) => r.server))]) {
    const rs = reps.filter((r) => r.server === server);
    const keys = [...new Set(rs.flatMap((r) => r.measures.map((m) => `${m.round}/${m.side}`)))];
    for (const key of keys) {
      const [round, side] = key.split("/");
      // rclone keeps no state: its no-change round stands for escale's idle rounds too.
      const rcloneRound = round === "idle" ? "no-change" : round;
      const pick = (tool: Tool, name: string) =>
        rs.flatMap((r) =>
          r.measures.filter((m) => m.tool === tool && m.round === name && m.side === side)
            .map((m) => ({ m, d: derive(m, r, run.profile) }))
        );
      const med = (xs: { d: Derived | null }[]) => {
        if (!xs.length || xs.some((x) => !x.d)) return null;
        const ds = xs.map((x) => x.d!);
        return {
          seconds: median(ds.map((d) => d.seconds)),
          share: median(ds.map((d) => d.share)),
          rtts: median(ds.map((d) => d.rtts)),
        };
      };
      const e = pick("escale", round);
      const c = pick("rclone", rcloneRound);
      const me = med(e);
      const mc = med(c);
      const ok = e.filter((x) => x.m.traffic);
      const reqs = server === "ftps"
        ? "encrypted"
        : ok.map((x) => requestCount(x.m.traffic!)).join(", ");
      const conns = ok.map((x) => connections(x.m.traffic!)).join(", ");
      const rss = ok.map((x) => x.m.timed!.rssMiB).join(", ");
      const rcloneCell = mc
        ? `${f2(mc.seconds)}${rcloneRound !== round ? " (its no-change)" : ""}`
        : c.length
        ? "failed"
        : "–";
      const shapedCells = shaped
        ? `${me ? pct(me.share) : "–"} | ${mc ? pct(mc.share) : "–"} | ${
          me ? me.rtts.toFixed(1) : "–"
        } (${mc ? mc.rtts.toFixed(1) : "–"}) | `
        : "";
      lines.push(
        `| ${server} | ${round} | ${side} | ${me ? f2(me.seconds) : "failed"} | ${rcloneCell} | ${
          me && mc ? f2(me.seconds / mc.seconds) : "–"
        } | ${shapedCells}${reqs || "–"} | ${conns || "–"} | ${rss || "–"} |`,
      );
    }
  }
  return lines.join("\n");
}

export function report(o: {
  cmd: string;
  minutes: number;
  header: string;
  args: Args;
  runs: ProfileRun[];
  reps: Rep[];
}): string {
  const parts = [`Command: \`${o.cmd}\` (${o.minutes.toFixed(1)} min)`, "", o.header];
  for (const run of o.runs) {
    const p = run.profile;
    const shaped = p.rttMs > 0;
    parts.push(
      "",
      shaped
        ? `## Profile \`${p.name}\`: RTT ${p.rttMs} ms, ${p.mbit} Mbit/s each way`
        : `## Profile \`${p.name}\`: the same path through the proxy, no delay, no rate limit`,
      "",
    );
    if (run.check) parts.push(describeCheck(run.check, p), "");
    else if (run.checkError) parts.push(`Proxy check failed: ${run.checkError}`, "");
    parts.push(
      `Start-up (median of three \`--version\` runs): escale ${f2(run.startup.escale)} s, rclone ${
        f2(run.startup.rclone)
      } s.`,
    );
    const names: Record<Workload, string> = {
      small: `${o.args.files.toLocaleString("en-US")} files of 1 KiB`,
      big: `one ${bigMiB(o.args, p)} MiB file`,
    };
    for (const w of o.args.workloads) {
      const rs = o.reps.filter((r) => r.profile === p.name && r.workload === w);
      if (!rs.length) continue;
      parts.push(
        "",
        `### ${names[w]} (\`${p.name}\`)`,
        "",
        summaryTable(rs, run),
        "",
        "Every command:",
        "",
        measuresTable(rs, run),
      );
    }
  }
  return parts.join("\n") + "\n";
}
