/**
 * The physical floor of a sync round on a shaped link: what any tool must spend, whatever its
 * design, to move `bytes` of payload in one process run. The model, stated so that every share
 * printed by bench/wan_bench.ts can be checked by hand:
 *
 *   floor = bytes / rate + RTT × (connect + login + steps × step)
 *
 * - connect: 1 RTT (TCP handshake before the first byte of a request can leave).
 * - login: 0 on HTTP (WebDAV Basic auth, S3 signatures ride on every request); 2 on FTP (the
 *   server's greeting, 1 RTT after the connect; USER + PASS pipelined, 1 RTT); 4 on FTPS
 *   (greeting, AUTH TLS, the TLS 1.3 handshake, then USER / PASS / PBSZ / PROT pipelined).
 * - steps: 2 for a push or a pull (learn what the other side has, then move the data; the second
 *   depends on the first), 1 for a round with nothing to do (learn that nothing changed).
 *   Requests within a step do not depend on each other and can go in parallel or pipelined, so
 *   a step costs one request's worth of round trips however many files it carries.
 * - step: 1 RTT on HTTP (a request and its answer); 3 on FTP, where every listing or transfer
 *   needs its own data connection (EPSV, then the data connection's handshake, then the command
 *   and its first byte or final reply); 4 on FTPS (plus a TLS handshake on the data connection).
 *
 * Not in the floor: process start-up and local work (shown separately), protocol overhead
 * bytes (headers, TLS records), TCP slow start (the proxy models it, so a single transfer of a
 * few megabytes cannot reach the floor), and design choices of a tool, such as escale's commit
 * written only once its data objects are known to be stored (one more dependent step on a push).
 */
import { bytesPerSecond, type LinkProfile } from "./wan_link.ts";
import type { ServerKind } from "./bench_targets.ts";

export type RoundKind = "push" | "pull" | "idle";

const LOGIN: Record<ServerKind, number> = { webdav: 0, s3: 0, ftp: 2, ftps: 4 };
const STEP: Record<ServerKind, number> = { webdav: 1, s3: 1, ftp: 3, ftps: 4 };

/** Round trips of the floor of one round. */
export function floorRtts(server: ServerKind, round: RoundKind): number {
  return 1 + LOGIN[server] + (round === "idle" ? 1 : 2) * STEP[server];
}

/** Seconds of the floor of one round moving `bytes` of payload. */
export function floorSeconds(
  server: ServerKind,
  round: RoundKind,
  bytes: number,
  p: LinkProfile,
): number {
  return bytes / bytesPerSecond(p) + floorRtts(server, round) * p.rttMs / 1000;
}
