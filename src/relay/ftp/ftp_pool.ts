import { RelayError } from "../../errors/errors.ts";
import type { FtpConnection } from "./ftp_connection.ts";

/**
 * A small pool of logged-in control connections, so that several transfers run at once. A
 * connection belongs to one operation from `acquire` to `release` (for a download, until its
 * stream ends). Dead connections are dropped on release; one that sat idle is checked with a NOOP
 * before reuse, because servers close idle sessions (421) and the next command would fail.
 */
export class FtpPool {
  readonly #open: (loginAfter?: Promise<unknown>) => Promise<FtpConnection>;
  readonly #size: number;
  readonly #idleCheckMs: number;
  readonly #idle: FtpConnection[] = [];
  readonly #all = new Set<FtpConnection>();
  #opening = 0;
  /** connections `warm` is logging in, and operations waiting for one of them */
  #warming = 0;
  #waitingForWarm = 0;
  #waiters: (() => void)[] = [];
  #closed = false;
  /** a login has succeeded: credentials and server are known good */
  #loggedIn = false;
  /** the connection being opened first, before any login succeeded */
  #pioneer: Promise<FtpConnection> | null = null;

  /**
   * `open(loginAfter)` connects and logs in; with `loginAfter` it logs in only once that
   * promise resolves, and fails with its error.
   */
  constructor(
    open: (loginAfter?: Promise<unknown>) => Promise<FtpConnection>,
    size: number,
    idleCheckMs = 10_000,
  ) {
    this.#open = open;
    this.#size = Math.max(1, size);
    this.#idleCheckMs = idleCheckMs;
  }

  /** A connection for one operation; `reused` tells whether it served an earlier one. */
  async #acquire(): Promise<{ c: FtpConnection; reused: boolean }> {
    for (;;) {
      if (this.#closed) throw new RelayError("permanent", "the FTP relay was closed");
      const c = this.#idle.pop();
      if (c) {
        if (c.alive && Date.now() - c.lastUsed > this.#idleCheckMs) {
          await c.command("NOOP", "checking an idle connection").then(
            (r) => r.code === 200 || c.kill(),
            () => c.kill(),
          );
        }
        if (c.alive) {
          c.exchanges = 0;
          return { c, reused: true };
        }
        this.#all.delete(c);
        continue;
      }
      // A connection being logged in ahead (warm) that no one waits for yet is as near as a
      // new one would be: wait for it rather than open one more.
      if (this.#warming > this.#waitingForWarm) {
        this.#waitingForWarm++;
        try {
          await new Promise<void>((r) => this.#waiters.push(r));
        } finally {
          this.#waitingForWarm--;
        }
        continue;
      }
      if (this.#all.size + this.#opening < this.#size) {
        this.#opening++;
        try {
          const fresh = await this.#openOne();
          this.#all.add(fresh);
          fresh.exchanges = 0;
          return { c: fresh, reused: false };
        } catch (e) {
          this.#wakeOne();
          throw e;
        } finally {
          this.#opening--;
        }
      }
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }

  /**
   * Runs `fn` on a connection and keeps the connection for the caller (a download holds it until
   * its stream ends; `release` gives it back). On failure the connection is released here.
   * When a reused connection turns out dead before its first reply (the server or a middlebox
   * dropped it while idle), `fn` runs once more on a fresh one: every operation starts with a
   * command that is safe to repeat.
   */
  async hold<T>(fn: (c: FtpConnection) => Promise<T>): Promise<[FtpConnection, T]> {
    for (let attempt = 0;; attempt++) {
      const { c, reused } = await this.#acquire();
      try {
        return [c, await fn(c)];
      } catch (e) {
        const stale = reused && !c.alive && c.exchanges === 0 && attempt === 0;
        this.release(c);
        if (!stale) throw e;
        // Whatever dropped this one (a restarted server, a NAT timeout) dropped its idle
        // siblings too; the retry must not pick another dead one.
        for (const old of this.#idle.splice(0)) {
          old.kill();
          this.#all.delete(old);
        }
      }
    }
  }

  release(c: FtpConnection): void {
    if (!c.alive || this.#closed) {
      c.kill();
      this.#all.delete(c);
    } else if (!this.#idle.includes(c)) {
      this.#idle.push(c);
    }
    this.#wakeOne();
  }

  /**
   * Opens connections in the background until `count` exist (at most the pool's size), so that
   * the requests a round sends together find them logged in instead of each paying a connect
   * and a login first. A connection the server refuses (a per-user limit) just is not there.
   */
  warm(count: number): void {
    const missing = Math.min(count, this.#size) - this.#all.size - this.#opening;
    for (let i = 0; i < missing; i++) {
      this.#opening++;
      this.#warming++;
      this.#openOne().then((c) => {
        this.#warming--;
        if (this.#closed) {
          this.#opening--;
          return c.kill();
        }
        this.#all.add(c);
        this.#opening--;
        this.release(c);
      }, () => {
        this.#warming--;
        this.#opening--;
        // Callers waiting for this one (or for the room it leaves) look again.
        for (const w of this.#waiters.splice(0)) w();
      });
    }
  }

  /**
   * Opens a connection. Until one has logged in, the first one opened logs in alone and the
   * others connect meanwhile but wait for its login: requests sent together at start-up find
   * their connections ready one round trip after the first, and a refused password is tried once.
   */
  #openOne(): Promise<FtpConnection> {
    if (this.#loggedIn) return this.#open();
    if (this.#pioneer) return this.#open(this.#pioneer);
    const first = this.#open();
    this.#pioneer = first;
    first.then(() => (this.#loggedIn = true), () => {}).finally(() => {
      if (this.#pioneer === first) this.#pioneer = null;
    });
    return first;
  }

  /** Runs `fn` with a connection of its own, released afterwards. */
  async use<T>(fn: (c: FtpConnection) => Promise<T>): Promise<T> {
    const [c, v] = await this.hold(fn);
    this.release(c);
    return v;
  }

  #wakeOne(): void {
    this.#waiters.shift()?.();
  }

  /** Quits idle connections politely and kills any still busy. */
  async close(): Promise<void> {
    this.#closed = true;
    const idle = this.#idle.splice(0);
    await Promise.all(idle.map((c) => c.quit()));
    for (const c of this.#all) c.kill();
    this.#all.clear();
    for (const w of this.#waiters.splice(0)) w();
  }
}
