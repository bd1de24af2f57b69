/**
 * One direction of one proxied TCP connection: reads from `src`, hands the bytes to a shared
 * `Link`, and writes them to `dst` when they "arrive", in order; the end of the stream (FIN)
 * travels the same way, after the last byte.
 *
 * The proxy ends TCP on both sides, so the programs see loopback TCP and would never feel the
 * round trip in their congestion window. The flow therefore plays the sender's window itself:
 * at most `cwnd` bytes may be on the way (read, not yet acknowledged), an acknowledgement comes
 * back one one-way delay after the bytes were written to the receiver's socket, and in slow
 * start every acknowledged byte widens the window by one byte (it doubles per round trip), from
 * an initial window of 10 segments (RFC 6928, Linux's default) up to `maxWindow`. As Linux does
 * by default (net.ipv4.tcp_slow_start_after_idle), an idle connection halves its window for
 * every retransmission timeout (RTT + 200 ms) of silence, down to the initial window. There is
 * no loss: a full link queue holds senders back instead (see wan_link.ts).
 */
import type { Link } from "./wan_link.ts";
import type { BusyClock } from "./busy_clock.ts";

/** The largest piece read at once: 1.3 ms on a 100 Mbit/s link, 6.5 ms at 20 Mbit/s. */
const CHUNK = 16 * 1024;
/** Linux's initial window, 10 segments of 1448 bytes of payload. */
export const INITIAL_WINDOW = 10 * 1448;
/** Linux's largest default receive buffer (net.ipv4.tcp_rmem) is 6 MiB; 4 MiB of it is window. */
export const MAX_WINDOW = 4 * 1024 * 1024;

export interface FlowOptions {
  link: Link;
  rttMs: number;
  /** nothing leaves before this time (performance.now()): the TCP handshake is not over */
  notBefore?: number;
  /** bytes; 0 turns slow start off (the window is `maxWindow` from the start) */
  initialWindow?: number;
  maxWindow?: number;
  /** sees every piece read from `src`, in order (request counting) */
  observe?: (piece: Uint8Array) => void;
  /** told when a piece (or the FIN) starts and ends its way */
  busy?: BusyClock;
}

interface Piece {
  at: number;
  data: Uint8Array | null;
  /** with data null: the source failed, so the whole connection is torn down */
  abort?: boolean;
}

/**
 * Deno's timers fire about 1.3 ms late (median, measured on this VM; 0.3 to 13 ms): asking 1 ms
 * less keeps a round trip within about a millisecond of the profile's, on either side.
 */
/**
 * The window after `idleMs` without sending: halved for every retransmission timeout (RTT +
 * 200 ms, Linux's minimum) of silence, never below the initial window. Whole bytes: a window
 * with a fraction would leave room for less than one byte, and a read of nothing.
 */
export function windowAfterIdle(cwnd: number, iw: number, idleMs: number, rttMs: number): number {
  const halvings = Math.floor(idleMs / (rttMs + 200));
  if (halvings <= 0 || cwnd <= iw) return cwnd;
  return Math.max(iw, Math.floor(cwnd / 2 ** Math.min(halvings, 30)));
}

const sleep = (ms: number) =>
  new Promise<void>((r) => setTimeout(r, Math.max(0, Math.round(ms) - 1)));

export class Flow {
  /** resolves once the end of the stream was delivered, or the connection was torn down */
  readonly done: Promise<void>;
  bytes = 0;
  readonly #o: FlowOptions;
  readonly #abort: () => void;
  readonly #iw: number;
  readonly #max: number;
  #cwnd: number;
  #inflight = 0;
  #lastSend = performance.now();
  #lastAt = 0;
  #queue: Piece[] = [];
  #wakePump?: () => void;
  #wakeReader?: () => void;
  /** the pump has stopped: nothing more will be delivered */
  #over = false;

  constructor(
    src: Promise<Deno.Conn>,
    dst: Promise<Deno.Conn>,
    opts: FlowOptions,
    abort: () => void,
  ) {
    this.#o = opts;
    this.#abort = abort;
    this.#max = opts.maxWindow ?? MAX_WINDOW;
    this.#iw = opts.initialWindow === 0 ? this.#max : opts.initialWindow ?? INITIAL_WINDOW;
    this.#cwnd = this.#iw;
    this.#read(src);
    this.done = this.#pump(dst).finally(() => {
      this.#over = true;
      for (const _ of this.#queue) this.#o.busy?.end();
      this.#queue = [];
    });
  }

  async #read(srcP: Promise<Deno.Conn>): Promise<void> {
    const buf = new Uint8Array(CHUNK);
    const link = this.#o.link;
    try {
      const src = await srcP;
      while (true) {
        await this.#admit();
        const n = await src.read(buf.subarray(0, Math.min(CHUNK, this.#cwnd - this.#inflight)));
        if (n === 0) continue; // not at the end of the stream: only an empty buffer reads nothing
        if (n === null) {
          this.#push({ at: this.#endTime(), data: null });
          return;
        }
        const data = buf.slice(0, n);
        this.#restartAfterIdle();
        this.#inflight += n;
        this.bytes += n;
        this.#lastSend = performance.now();
        this.#push({ at: link.send(n, this.#o.notBefore ?? 0), data });
        this.#o.observe?.(data);
      }
    } catch {
      this.#push({ at: this.#endTime(), data: null, abort: true });
    }
  }

  /** A FIN or reset is not serialised behind the bottleneck, but never overtakes data. */
  #endTime(): number {
    const leave = Math.max(performance.now(), this.#o.notBefore ?? 0);
    return Math.max(this.#lastAt, leave + this.#o.link.oneWayMs);
  }

  async #admit(): Promise<void> {
    while (true) {
      if (this.#cwnd - this.#inflight < 1) {
        await new Promise<void>((r) => this.#wakeReader = r);
        continue;
      }
      const wait = this.#o.link.waitMs();
      if (wait <= 0) return;
      await sleep(wait);
    }
  }

  #restartAfterIdle(): void {
    if (this.#inflight > 0) return;
    this.#cwnd = windowAfterIdle(
      this.#cwnd,
      this.#iw,
      performance.now() - this.#lastSend,
      this.#o.rttMs,
    );
  }

  #push(p: Piece): void {
    if (this.#over) return;
    this.#o.busy?.begin();
    this.#lastAt = Math.max(this.#lastAt, p.at);
    this.#queue.push(p);
    this.#wakePump?.();
    this.#wakePump = undefined;
  }

  async #next(): Promise<Piece> {
    while (!this.#queue.length) await new Promise<void>((r) => this.#wakePump = r);
    return this.#queue.shift()!;
  }

  async #pump(dstP: Promise<Deno.Conn>): Promise<void> {
    let dst: Deno.Conn;
    try {
      dst = await dstP;
    } catch {
      this.#abort();
      return;
    }
    while (true) {
      const p = await this.#next();
      const wait = p.at - performance.now();
      if (wait > 0) await sleep(wait);
      this.#o.busy?.end();
      if (p.data === null) {
        if (p.abort) this.#abort();
        else await dst.closeWrite().catch(() => this.#abort());
        return;
      }
      try {
        let off = 0;
        while (off < p.data.length) off += await dst.write(p.data.subarray(off));
      } catch {
        this.#abort();
        return;
      }
      const n = p.data.length;
      if (this.#o.link.oneWayMs > 0) setTimeout(() => this.#ack(n), this.#o.link.oneWayMs);
      else this.#ack(n);
    }
  }

  #ack(n: number): void {
    this.#inflight -= n;
    this.#cwnd = Math.min(this.#max, this.#cwnd + n);
    this.#wakeReader?.();
    this.#wakeReader = undefined;
  }
}
