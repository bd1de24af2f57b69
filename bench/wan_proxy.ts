/**
 * A TCP proxy that puts an emulated wide-area link (wan_link.ts, wan_flow.ts) between programs on
 * this machine and a server: every listener of one proxy shares the same two directions of the
 * link, as the connections of one user share an access line.
 *
 * A connection costs its round trip: the client's connect returns at once (loopback), so its
 * first bytes are held until one RTT after the accept (its SYN / SYN-ACK), and the proxy opens
 * the server side 1.5 RTT after the accept (when the handshake's last ACK would arrive); the
 * server's first bytes (an FTP greeting) thus reach the client 2 RTT after it connected, as on a
 * real link.
 *
 * It also counts what passes: connections per route kind, bytes each way, HTTP requests by method
 * (`http` routes) and FTP commands by verb (`ftp-control` routes, until AUTH TLS). FTP passive
 * data connections go through `ftp-data` routes: see bench_targets.ts for how ProFTPD is made to
 * announce them.
 *
 * Standalone: deno run -A bench/wan_proxy.ts PROFILE LISTEN_PORT HOST:PORT
 */
import { Link, type LinkProfile, PROFILES } from "./wan_link.ts";
import { Flow } from "./wan_flow.ts";
import { HttpRequestCounter } from "./http_request_counter.ts";
import { FtpCommandCounter } from "./ftp_command_counter.ts";
import { BusyClock } from "./busy_clock.ts";

export type RouteKind = "http" | "ftp-control" | "ftp-data" | "tcp";

export interface Route {
  kind: RouteKind;
  /** the port to listen on, on 127.0.0.1 (0: any free port) */
  port: number;
  to: { hostname: string; port: number };
}

export interface ProxyStats {
  connections: Record<string, number>;
  bytesUp: number;
  bytesDown: number;
  /** HTTP requests by method, or FTP commands by verb */
  requests: Record<string, number>;
  /** connections whose requests could not be counted (FTP after AUTH TLS, unframed HTTP) */
  uncounted: number;
  /** milliseconds during which something was on the way (busy_clock.ts) */
  busyMs: number;
}

export interface ProxyOptions {
  /** bytes of initial TCP window; 0 turns the slow-start model off */
  initialWindow?: number;
  /** milliseconds of queue at the bottleneck before senders are held back */
  backlogMs?: number;
  /** keep a timeline of connections and requests (see `trace`) */
  trace?: boolean;
}

/** One event of the timeline: a connection accepted, or a request read from the client. */
export interface TraceEntry {
  /** milliseconds since the proxy started, when the proxy read it from the client */
  ms: number;
  /** the connection's number, in accept order */
  conn: number;
  kind: RouteKind;
  /** "connect", the HTTP method and target, or the FTP command (PASS's argument hidden) */
  what: string;
}

function emptyStats(): ProxyStats {
  return { connections: {}, bytesUp: 0, bytesDown: 0, requests: {}, uncounted: 0, busyMs: 0 };
}

/** `b - a`, for the traffic of one command between two snapshots. */
export function statsDelta(a: ProxyStats, b: ProxyStats): ProxyStats {
  const sub = (x: Record<string, number>, y: Record<string, number>) => {
    const out: Record<string, number> = {};
    for (const k of Object.keys(y)) if (y[k] - (x[k] ?? 0)) out[k] = y[k] - (x[k] ?? 0);
    return out;
  };
  return {
    connections: sub(a.connections, b.connections),
    bytesUp: b.bytesUp - a.bytesUp,
    bytesDown: b.bytesDown - a.bytesDown,
    requests: sub(a.requests, b.requests),
    uncounted: b.uncounted - a.uncounted,
    busyMs: b.busyMs - a.busyMs,
  };
}

export class WanProxy {
  readonly profile: LinkProfile;
  readonly #up: Link;
  readonly #down: Link;
  readonly #opts: ProxyOptions;
  #stats = emptyStats();
  readonly #busy = new BusyClock();
  #listeners: Deno.Listener[] = [];
  #live = new Set<() => void>();
  readonly #trace: TraceEntry[] = [];
  readonly #t0 = performance.now();
  #connections = 0;
  #stopped = false;

  constructor(profile: LinkProfile, opts: ProxyOptions = {}) {
    this.profile = profile;
    this.#opts = opts;
    this.#up = new Link(profile, opts.backlogMs);
    this.#down = new Link(profile, opts.backlogMs);
  }

  /** Starts listening for one route; returns the port. Throws if the port is taken. */
  listen(route: Route): number {
    return this.listenAll([route])[0];
  }

  /** Listens for every route or, if one port is taken, for none of them (and throws). */
  listenAll(routes: Route[]): number[] {
    const opened: Deno.Listener<Deno.TcpConn>[] = [];
    try {
      for (const r of routes) opened.push(Deno.listen({ hostname: "127.0.0.1", port: r.port }));
    } catch (e) {
      for (const l of opened) l.close();
      throw e;
    }
    opened.forEach((l, i) => {
      this.#listeners.push(l);
      (async () => {
        try {
          for await (const c of l) this.#handle(c, routes[i]);
        } catch { /* listener closed */ }
      })();
    });
    return opened.map((l) => (l.addr as Deno.NetAddr).port);
  }

  /** The timeline so far (empty unless the proxy was made with `trace`). */
  trace(): TraceEntry[] {
    return [...this.#trace];
  }

  #note(conn: number, kind: RouteKind, what: string): void {
    if (!this.#opts.trace) return;
    this.#trace.push({ ms: Math.round(performance.now() - this.#t0), conn, kind, what });
  }

  stats(): ProxyStats {
    return { ...structuredClone(this.#stats), busyMs: this.#busy.ms() };
  }

  #count(map: Record<string, number>, key: string): void {
    map[key] = (map[key] ?? 0) + 1;
  }

  #handle(client: Deno.TcpConn, route: Route): void {
    if (this.#stopped) return void client.close();
    const accepted = performance.now();
    const rtt = this.profile.rttMs;
    this.#count(this.#stats.connections, route.kind);
    const conn = ++this.#connections;
    this.#note(conn, route.kind, "connect");
    client.setNoDelay(true);
    // The handshake is on the way until the server's side opens.
    this.#busy.begin();
    const upstream = new Promise<Deno.Conn>((resolve, reject) =>
      setTimeout(() => {
        this.#busy.end();
        Deno.connect({ hostname: route.to.hostname, port: route.to.port }).then((c) => {
          c.setNoDelay(true);
          resolve(c);
        }, reject);
      }, 1.5 * rtt)
    );
    upstream.catch(() => {});
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      this.#live.delete(close);
      try {
        client.close();
      } catch { /* already closed */ }
      upstream.then((c) => {
        try {
          c.close();
        } catch { /* already closed */ }
      }, () => {});
    };
    this.#live.add(close);
    let observe: ((b: Uint8Array) => void) | undefined;
    if (route.kind === "http") {
      const counter = new HttpRequestCounter((m, target) => {
        this.#count(this.#stats.requests, m);
        this.#note(conn, route.kind, `${m} ${target}`);
      });
      let reported = false;
      observe = (b) => {
        counter.push(b);
        if (counter.lost && !reported) reported = !!++this.#stats.uncounted;
      };
    } else if (route.kind === "ftp-control") {
      const counter = new FtpCommandCounter((v, line) => {
        this.#count(this.#stats.requests, v);
        this.#note(conn, route.kind, line);
      });
      let reported = false;
      observe = (b) => {
        counter.push(b);
        if (counter.encrypted && !reported) reported = !!++this.#stats.uncounted;
      };
    }
    // Without a round trip there is no slow start to model.
    const initialWindow = rtt > 0 ? this.#opts.initialWindow : 0;
    const common = { rttMs: rtt, initialWindow, busy: this.#busy };
    const up = new Flow(Promise.resolve(client), upstream, {
      ...common,
      link: this.#up,
      notBefore: accepted + rtt,
      observe: (b) => {
        this.#stats.bytesUp += b.length;
        observe?.(b);
      },
    }, close);
    const down = new Flow(upstream, Promise.resolve(client), {
      ...common,
      link: this.#down,
      observe: (b) => void (this.#stats.bytesDown += b.length),
    }, close);
    Promise.all([up.done, down.done]).then(close);
  }

  /** Stops listening and tears down every connection still open. */
  stop(): void {
    this.#stopped = true;
    for (const l of this.#listeners) {
      try {
        l.close();
      } catch { /* already closed */ }
    }
    this.#listeners = [];
    for (const close of [...this.#live]) close();
  }
}

if (import.meta.main) {
  const [name, port, to] = Deno.args;
  const profile = PROFILES[name ?? ""];
  const m = /^(.+):(\d+)$/.exec(to ?? "");
  if (!profile || !m || !/^\d+$/.test(port ?? "")) {
    console.error("usage: deno run -A bench/wan_proxy.ts wan|far LISTEN_PORT HOST:PORT");
    Deno.exit(2);
  }
  const p = new WanProxy(profile);
  const got = p.listen({ kind: "tcp", port: Number(port), to: { hostname: m[1], port: +m[2] } });
  console.error(`${profile.name} (${profile.rttMs} ms, ${profile.mbit} Mbit/s): 127.0.0.1:${got}`);
}
