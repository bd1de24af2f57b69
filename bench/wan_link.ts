/**
 * One direction of an emulated wide-area link, shared by every connection of a proxy: a single
 * bottleneck that serialises bytes at the profile's rate (so four parallel transfers share the
 * rate, as on a real access link), followed by a fixed one-way propagation delay.
 *
 * The bottleneck is a virtual clock, not a buffer: `busyUntil` is when the last byte handed to
 * the link will have left it. A sender may hand bytes over while the backlog (busyUntil - now) is
 * at most `backlogMs`; beyond that it waits, which is how a full router queue pushes back on TCP.
 * The backlog is short (10 ms by default), so a bulk transfer adds at most that much queueing
 * delay to requests going the same way. The rate applies to TCP payload: a real 100 Mbit/s
 * Ethernet link carries about 95 Mbit/s of payload once headers are counted.
 */
export interface LinkProfile {
  name: string;
  /** round-trip time in milliseconds; each direction gets half of it */
  rttMs: number;
  /** rate of each direction, in Mbit/s (10^6 bits per second) */
  mbit: number;
}

export const PROFILES: Record<string, LinkProfile> = {
  wan: { name: "wan", rttMs: 40, mbit: 100 },
  far: { name: "far", rttMs: 150, mbit: 20 },
  /** no delay, no rate limit: the same path through the proxy, to tell local work from the link */
  loopback: { name: "loopback", rttMs: 0, mbit: Infinity },
};

/** Bytes per second of one direction of `p`. */
export function bytesPerSecond(p: LinkProfile): number {
  return p.mbit * 1e6 / 8;
}

export class Link {
  readonly oneWayMs: number;
  readonly backlogMs: number;
  readonly #bytesPerMs: number;
  #busyUntil = 0;

  constructor(profile: LinkProfile, backlogMs = 10) {
    this.oneWayMs = profile.rttMs / 2;
    this.backlogMs = backlogMs;
    this.#bytesPerMs = bytesPerSecond(profile) / 1000;
  }

  /**
   * Hands `n` bytes to the link, not before `earliest` (performance.now() time); returns when
   * they reach the far end. Times only grow, so the bytes of one connection arrive in order.
   */
  send(n: number, earliest = 0): number {
    const start = Math.max(performance.now(), earliest, this.#busyUntil);
    this.#busyUntil = start + n / this.#bytesPerMs;
    return this.#busyUntil + this.oneWayMs;
  }

  /** Milliseconds a sender must wait before the backlog has room again (0: now). */
  waitMs(): number {
    return Math.max(0, this.#busyUntil - performance.now() - this.backlogMs);
  }
}
