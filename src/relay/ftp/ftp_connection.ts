import { RelayError } from "../../errors/errors.ts";
import { type FtpReply, FtpReplyError, replyError, replyText, scrub } from "./ftp_reply.ts";
import {
  closeQuietly,
  connectTransport,
  type Transport,
  upgradeTransport,
} from "./ftp_transport.ts";

export interface FtpConnectionOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  tls: "none" | "explicit";
  caCerts?: string[];
  verifySsl: boolean;
  clearDataChannel: boolean;
  timeoutMs: number;
  /** prefix of every message, e.g. "ftps://alice@host:21/relay" (never holds a secret) */
  label: string;
}

/** What the server offers, learned once (FEAT, first EPSV) and shared by a pool's connections. */
export interface FtpShared {
  features?: Set<string>;
  /** EPSV was refused once: go straight to PASV */
  noEpsv: boolean;
  /** MLSD was refused once: list with LIST */
  noMlsd: boolean;
  /**
   * A protected data connection has worked: from then on a refused data connection is not taken
   * for the session-reuse refusal (which refuses every single one).
   */
  tlsDataWorked: boolean;
}

/** Longest reply line accepted; a server sending more is broken or hostile. */
const MAX_LINE = 64 * 1024;
/**
 * How long a data connection opened ahead waits for its transfer. Servers give a passive
 * connection tens of seconds at least; a daemon's connection idle longer just asks again.
 */
const AHEAD_MS = 10_000;

/** Most lines in one reply (FEAT of a big server has ~40). */
const MAX_REPLY_LINES = 10_000;
/** Bytes asked of the socket per read, for control and data connections alike. */
export const FTP_CHUNK = 64 * 1024;

const utf8 = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });

/**
 * One control connection (RFC 959, with RFC 2228/4217 explicit TLS, RFC 2428 EPSV and RFC 3659
 * FEAT/MLST). It runs one command at a time; the pool hands it to one operation at a time. Any
 * network error, timeout or protocol violation kills it, and the pool opens a fresh one.
 */
export class FtpConnection {
  readonly #o: FtpConnectionOptions;
  readonly #shared: FtpShared;
  #t: Transport;
  #buf = new Uint8Array(0);
  #dead = false;
  /** a data connection opened for the next transfer (see #login), until it goes stale */
  #ahead: { data: Promise<Transport | null>; until: number } | null = null;
  /** the reply reads and the sends queued so far (see readReply, send) */
  #replies: Promise<void> = Promise.resolve();
  #sends: Promise<void> = Promise.resolve();
  lastUsed = Date.now();
  /** replies read since the pool handed the connection out */
  exchanges = 0;

  private constructor(o: FtpConnectionOptions, shared: FtpShared, t: Transport) {
    this.#o = o;
    this.#shared = shared;
    this.#t = t;
  }

  get alive(): boolean {
    return !this.#dead;
  }

  get shared(): FtpShared {
    return this.#shared;
  }

  get label(): string {
    return this.#o.label;
  }

  get timeoutMs(): number {
    return this.#o.timeoutMs;
  }

  /**
   * Connects, upgrades to TLS when asked (never falling back to clear text), logs in. With
   * `loginAfter`, the connection is made and greeted at once but logs in only once that promise
   * settles well (another connection's login): a wrong password then costs one refused login,
   * not one per connection (servers ban addresses for those), while the handshakes overlap.
   */
  static async open(
    o: FtpConnectionOptions,
    shared: FtpShared,
    loginAfter?: Promise<unknown>,
  ): Promise<FtpConnection> {
    const node = o.tls === "explicit" && !o.verifySsl;
    let t: Transport;
    try {
      t = await connectTimed(o.host, o.port, node, o.timeoutMs);
    } catch (e) {
      throw new RelayError(
        "unreachable",
        `${o.label}: cannot connect to ${o.host}:${o.port}: ${errText(e)}`,
        undefined,
        { cause: e },
      );
    }
    const c = new FtpConnection(o, shared, t);
    try {
      await c.#login(loginAfter);
    } catch (e) {
      c.kill();
      throw e;
    }
    return c;
  }

  async #login(after?: Promise<unknown>): Promise<void> {
    const o = this.#o;
    let greeting = await this.readReply("waiting for the greeting");
    // 120 means "ready in a few minutes"; the real greeting follows.
    if (greeting.code === 120) greeting = await this.readReply("waiting for the greeting");
    if (greeting.code !== 220) throw this.#fail(greeting, "connecting");
    // The other connection's failure is this one's too (a refused password would be refused
    // again); it is thrown as it is.
    if (after) await after;
    if (o.tls === "explicit") {
      const auth = await this.command("AUTH TLS", "asking for TLS");
      if (auth.code !== 234 && auth.code !== 334) {
        throw new RelayError(
          "config",
          `${o.label}: the server refused AUTH TLS (${
            replyText(auth)
          }); it does not offer explicit FTPS, and escale never falls back to clear text`,
        );
      }
      if (this.#buf.length) throw this.#protocol("data arrived before the TLS handshake");
      try {
        this.#t = await timed(
          upgradeTransport(this.#t, {
            hostname: o.host,
            caCerts: o.caCerts,
            verify: o.verifySsl,
          }, (secure) => (this.#t = secure)),
          o.timeoutMs,
          () => this.kill(),
        );
      } catch (e) {
        if (e instanceof RelayError) throw e;
        throw tlsError(o.label, "control", e);
      }
    }
    // The login is sent as one batch (pipelined): each command is answered in order, and none
    // of them depends on an earlier answer except PASS, which a server that lets USER in
    // without a password answers with an error that is ignored. OPTS UTF8 ON goes before the
    // first connection's FEAT is answered; a server without it refuses it, which is ignored
    // too (escale sends UTF-8 names either way). One round trip instead of four to eight.
    const lines = [`USER ${o.user}`, `PASS ${o.password}`];
    if (o.tls === "explicit") lines.push("PBSZ 0", `PROT ${o.clearDataChannel ? "C" : "P"}`);
    const askFeatures = !this.#shared.features;
    if (askFeatures) lines.push("FEAT");
    // Servers such as FileZilla only send and accept UTF-8 names once asked to.
    const utf8On = askFeatures || this.#shared.features!.has("UTF8");
    if (utf8On) lines.push("OPTS UTF8 ON");
    lines.push("TYPE I");
    // The first transfer's passive port is asked for with the login, and its data connection
    // opened while the connection waits for its first operation: that transfer then costs one
    // round trip instead of three (EPSV, connect, command).
    const ahead = !this.#shared.noEpsv;
    if (ahead) lines.push("EPSV");
    const replies = await this.commands(lines, "logging in");
    const [user, pass] = replies;
    if (user.code === 331) {
      if (pass.code !== 230 && pass.code !== 202) throw this.#loginError(pass);
    } else if (user.code !== 230) {
      throw this.#loginError(user);
    }
    let next = 2;
    if (o.tls === "explicit") {
      const pbsz = replies[next++];
      if (pbsz.code !== 200) throw this.#fail(pbsz, "setting up TLS");
      const r = replies[next++];
      const prot = o.clearDataChannel ? "C" : "P";
      if (r.code !== 200) {
        throw new RelayError(
          "config",
          `${o.label}: the server refused PROT ${prot} (${replyText(r)})${
            prot === "P" ? "; it cannot encrypt data connections" : ""
          }`,
        );
      }
    }
    if (askFeatures) {
      const feat = replies[next++];
      this.#shared.features = feat.code === 211 ? parseFeatures(feat) : new Set();
    }
    if (utf8On) next++;
    const type = replies[next++];
    if (type.code !== 200) throw this.#fail(type, "setting binary mode");
    if (ahead) this.#openAhead(replies[next]);
  }

  /** Opens the data connection of an EPSV reply for the next transfer (see #login). */
  #openAhead(r: FtpReply): void {
    const until = Date.now() + AHEAD_MS;
    this.#ahead = { data: this.#connectAhead(r), until };
  }

  /** The data connection of an EPSV reply, or null where there is none to open. */
  #connectAhead(r: FtpReply): Promise<Transport | null> {
    if (r.code !== 229) {
      // As #passive: a server that refuses EPSV gets PASV from now on.
      if (r.code !== 421) this.#shared.noEpsv = true;
      return Promise.resolve(null);
    }
    const port = epsvPort(r);
    if (port === null || this.#dead) return Promise.resolve(null);
    const node = this.#o.tls === "explicit" && !this.#o.verifySsl;
    return connectTimed(this.#o.host, port, node, this.#o.timeoutMs).catch(() => null);
  }

  /**
   * After a transfer, asks for the next one's passive port and opens its data connection while
   * the connection goes back to the pool: the next transfer on it then costs one round trip
   * instead of three. Only the EPSV is written here; its reply is read in turn (replies are
   * read in order, see readReply), so whatever the next operation sends is not delayed.
   */
  async askAhead(): Promise<void> {
    if (this.#dead || this.#ahead || this.#shared.noEpsv) return;
    try {
      await this.send("EPSV");
    } catch {
      return; // the connection died; the pool drops it
    }
    const until = Date.now() + AHEAD_MS;
    const data = this.readReply("asking for a passive port").then((r) => {
      if (r.code === 421) this.kill();
      return this.#connectAhead(r);
    }, () => null);
    this.#ahead = { data, until };
  }

  /** The data connection opened ahead, if still fresh; a stale one is closed. */
  #takeAhead(): Promise<Transport | null> | null {
    const ahead = this.#ahead;
    this.#ahead = null;
    if (!ahead) return null;
    if (Date.now() <= ahead.until) return ahead.data;
    ahead.data.then((t) => t && closeQuietly(t));
    return null;
  }

  #loginError(r: FtpReply): RelayError {
    const what = `login as ${JSON.stringify(this.#o.user)} refused`;
    if (r.code === 530 || r.code === 332 || r.code === 331) {
      return new RelayError("auth", this.#scrub(`${this.#o.label}: ${what}: ${replyText(r)}`));
    }
    return this.#fail(r, what);
  }

  /**
   * Sends command lines; replies are read separately. Sends are queued like reads: a batch
   * is never interleaved with another one sent before it was written out.
   */
  send(...lines: string[]): Promise<void> {
    const next = this.#sends.then(() => this.#send(lines));
    this.#sends = next.then(() => {}, () => {});
    return next;
  }

  async #send(lines: string[]): Promise<void> {
    if (lines.some((line) => /[\r\n]/.test(line))) {
      throw new RelayError("permanent", `${this.#o.label}: a name contains a line break`);
    }
    this.#assertAlive();
    this.lastUsed = Date.now();
    // Several lines go in one write: a batch leaves in as few packets as it fits in.
    let data = utf8.encode(lines.map((line) => line + "\r\n").join(""));
    const verb = lines.map((line) => line.split(" ")[0]).join(", ");
    while (data.length) {
      const n = await this.#io(this.#t.write(data), `sending ${verb}`);
      data = data.subarray(n);
    }
  }

  /** Sends a command and returns its reply, whatever the code. */
  async command(line: string, what: string): Promise<FtpReply> {
    await this.send(line);
    const r = await this.readReply(what);
    // 421 announces that the server is closing this connection.
    if (r.code === 421) this.kill();
    return r;
  }

  /**
   * Sends commands together (pipelined) and returns their replies in order, whatever the codes:
   * one round trip for commands that do not depend on each other's answers.
   */
  async commands(lines: string[], what: string): Promise<FtpReply[]> {
    await this.send(...lines);
    const out: FtpReply[] = [];
    for (let i = 0; i < lines.length; i++) {
      const r = await this.readReply(what);
      out.push(r);
      // 421 announces that the server is closing this connection: no more answers come.
      if (r.code === 421) {
        this.kill();
        throw this.#fail(r, what);
      }
    }
    return out;
  }

  /** Sends a command and fails with a mapped error unless the reply code is in `ok`. */
  async expect(line: string, ok: number[], what: string, key?: string): Promise<FtpReply> {
    const r = await this.command(line, what);
    if (!ok.includes(r.code)) throw this.#fail(r, what, key);
    return r;
  }

  /** The mapped error for a failure reply (password scrubbed). */
  fail(r: FtpReply, what: string, key?: string): FtpReplyError {
    return this.#fail(r, what, key);
  }

  #fail(r: FtpReply, what: string, key?: string): FtpReplyError {
    return replyError(r, `${this.#o.label}: ${what}`, key, [this.#o.password]);
  }

  #scrub(s: string): string {
    return scrub(s, [this.#o.password]);
  }

  /**
   * Reads one complete reply, multi-line ones included ("123-" … "123 "). Replies come in the
   * order of the commands, so reads are queued: a reply whose command was sent earlier (the
   * EPSV of askAhead) is read before the one asked for now.
   */
  readReply(what: string): Promise<FtpReply> {
    const next = this.#replies.then(() => this.#readReply(what));
    this.#replies = next.then(() => {}, () => {});
    return next;
  }

  async #readReply(what: string): Promise<FtpReply> {
    const first = await this.#readLine(what);
    const m = /^(\d{3})([ -]?)/.exec(first);
    if (!m) throw this.#protocol(`malformed reply ${JSON.stringify(first.slice(0, 80))}`);
    const lines = [first];
    if (m[2] === "-") {
      const end = `${m[1]} `;
      for (;;) {
        const line = await this.#readLine(what);
        lines.push(line);
        if (line.startsWith(end) || line === m[1]) break;
        if (lines.length > MAX_REPLY_LINES) throw this.#protocol("endless multi-line reply");
      }
    }
    this.lastUsed = Date.now();
    this.exchanges++;
    return { code: Number(m[1]), lines };
  }

  async #readLine(what: string): Promise<string> {
    let scanned = 0;
    for (;;) {
      const i = this.#buf.indexOf(10, scanned);
      if (i >= 0) {
        const end = i > 0 && this.#buf[i - 1] === 13 ? i - 1 : i;
        const line = decoder.decode(this.#buf.subarray(0, end));
        this.#buf = this.#buf.slice(i + 1);
        return line;
      }
      scanned = this.#buf.length;
      if (this.#buf.length > MAX_LINE) throw this.#protocol("reply line too long");
      this.#assertAlive();
      const chunk = new Uint8Array(4096);
      const n = await this.#io(this.#t.read(chunk), what);
      if (n === null) {
        this.kill();
        throw new RelayError("transient", `${this.#o.label}: the server closed the connection`);
      }
      const merged = new Uint8Array(this.#buf.length + n);
      merged.set(this.#buf);
      merged.set(chunk.subarray(0, n), this.#buf.length);
      this.#buf = merged;
    }
  }

  /** Runs a socket operation under the timeout; any failure kills the connection. */
  async #io<T>(p: Promise<T>, what: string): Promise<T> {
    try {
      return await timed(p, this.#o.timeoutMs, () => this.kill());
    } catch (e) {
      this.kill();
      throw this.netError(e, what);
    }
  }

  /** Maps a socket failure or timeout to a transient RelayError. */
  netError(e: unknown, what: string): RelayError {
    if (e instanceof RelayError) return e;
    if (e instanceof TimeoutError) {
      return new RelayError(
        "transient",
        `${this.#o.label}: no answer for ${this.#o.timeoutMs / 1000} s while ${what}`,
      );
    }
    return new RelayError(
      "transient",
      this.#scrub(`${this.#o.label}: connection lost while ${what}: ${errText(e)}`),
      undefined,
      { cause: e },
    );
  }

  #protocol(msg: string): RelayError {
    this.kill();
    return new RelayError("permanent", this.#scrub(`${this.#o.label}: FTP protocol error: ${msg}`));
  }

  #assertAlive(): void {
    if (this.#dead) {
      throw new RelayError("transient", `${this.#o.label}: the connection was closed`);
    }
  }

  /**
   * Opens a passive data connection and starts a transfer command on it (REST first when
   * `rest` is given). Returns once the server accepted the command (1xx) and, on a protected
   * data channel, the TLS handshake is done; a failure reply is thrown as a mapped error.
   */
  async startTransfer(
    line: string,
    what: string,
    key?: string,
    rest?: number,
  ): Promise<DataChannel> {
    try {
      return await this.#startTransfer(line, what, key, rest);
    } catch (e) {
      // A refused transfer (a missing object) leaves the connection in use: its next transfer
      // gets a port asked for now, as after a completed one.
      if (e instanceof FtpReplyError && this.alive) await this.askAhead();
      throw e;
    }
  }

  async #startTransfer(
    line: string,
    what: string,
    key: string | undefined,
    rest: number | undefined,
  ): Promise<DataChannel> {
    const early = this.#takeAhead();
    if (rest) await this.expect(`REST ${rest}`, [350], what, key);
    const ready = early ? await early : null;
    if (ready) {
      try {
        return await this.#transfer(ready, line, what, key);
      } catch (e) {
        // The server dropped the connection opened ahead (it had waited too long, or a
        // firewall closed it): one more try the usual way, REST included.
        if (!(e instanceof FtpReplyError) || (e.code !== 425 && e.code !== 426) || !this.alive) {
          throw e;
        }
        if (rest) await this.expect(`REST ${rest}`, [350], what, key);
      }
    }
    const port = await this.#passive(what);
    let data: Transport;
    try {
      const node = this.#o.tls === "explicit" && !this.#o.verifySsl;
      data = await connectTimed(this.#o.host, port, node, this.#o.timeoutMs);
    } catch (e) {
      // The server is left waiting for a data connection: start afresh rather than guess.
      this.kill();
      throw this.netError(e, `opening the data connection for ${what}`);
    }
    return await this.#transfer(data, line, what, key);
  }

  /** Sends the transfer command `line` for the data connection `data`, and secures it. */
  async #transfer(
    data: Transport,
    line: string,
    what: string,
    key?: string,
  ): Promise<DataChannel> {
    const protect = this.#o.tls === "explicit" && !this.#o.clearDataChannel;
    let current = data;
    try {
      await this.send(line);
      // The handshake runs while we wait for the 150: servers differ on which comes first.
      const secured = protect
        ? upgradeTransport(data, {
          hostname: this.#o.host,
          caCerts: this.#o.caCerts,
          verify: this.#o.verifySsl,
        }, (t) => (current = t))
        : Promise.resolve(data);
      secured.catch(() => {});
      const prelim = await this.readReply(what);
      if (prelim.code < 100 || prelim.code >= 200) throw this.#fail(prelim, what, key);
      try {
        current = await timed(secured, this.#o.timeoutMs, () => closeQuietly(current));
      } catch (e) {
        closeQuietly(current);
        const final = await timed(this.readReply(what), 5000, () => {}).catch(() => null);
        if (final && this.isSessionRefusal(final)) throw this.sessionRefusal(final);
        this.kill();
        if (e instanceof TimeoutError) throw this.netError(e, `the TLS handshake for ${what}`);
        throw tlsError(this.#o.label, "data", e);
      }
      return new DataChannel(this, current, protect, what, key);
    } catch (e) {
      closeQuietly(current);
      closeQuietly(data);
      throw e;
    }
  }

  async #passive(what: string): Promise<number> {
    if (!this.#shared.noEpsv) {
      const r = await this.command("EPSV", what);
      if (r.code === 229) {
        const port = epsvPort(r);
        if (port === null) throw this.#protocol(`cannot read the EPSV reply ${replyText(r)}`);
        return port;
      }
      if (r.code === 421) throw this.#fail(r, what);
      this.#shared.noEpsv = true;
    }
    const r = await this.expect("PASV", [227], what);
    const m = /(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)/.exec(r.lines.join(" "));
    if (!m) throw this.#protocol(`cannot read the PASV reply ${replyText(r)}`);
    // The address in the reply is ignored: behind NAT it is often private, and connecting to a
    // host the server names would let a hostile server aim us anywhere.
    return Number(m[5]) * 256 + Number(m[6]);
  }

  /** Whether a failed protected transfer is the "TLS session reuse required" refusal. */
  isSessionRefusal(r: FtpReply): boolean {
    if (this.#o.tls !== "explicit" || this.#o.clearDataChannel) return false;
    const text = r.lines.join(" ");
    if (/session reuse|reuse required|ssl session/i.test(text)) return true;
    return !this.#shared.tlsDataWorked && [425, 450, 522].includes(r.code);
  }

  sessionRefusal(r: FtpReply): RelayError {
    this.kill();
    return new RelayError(
      "config",
      `${this.#o.label}: the server refused the TLS data connection (${
        replyText(r)
      }); it probably requires TLS session reuse, which Deno cannot do: set ` +
        `"TLSOptions NoSessionReuseRequired" (ProFTPD) or "require_ssl_reuse=NO" (vsftpd) on the ` +
        `server, or "ftps clear data = yes" in escale to encrypt only the control connection`,
    );
  }

  /**
   * Reads the one reply that ends a transfer we dropped (426, 451, or a late 226), keeping the
   * control connection in step. A NOOP cannot do this: servers answer a NOOP sent during a
   * transfer before the transfer's own reply. No reply in time means the state is unknown, so
   * the connection is dropped.
   */
  async settleAbort(what: string): Promise<void> {
    if (this.#dead) return;
    try {
      const r = await timed(this.readReply(what), Math.min(this.#o.timeoutMs, 10_000), () => {});
      if (r.code >= 100 && r.code < 200) this.kill();
    } catch {
      this.kill();
    }
  }

  /** Closes the connection without the QUIT exchange (used when it cannot be trusted). */
  kill(): void {
    if (this.#dead) return;
    this.#dead = true;
    this.#ahead?.data.then((t) => t && closeQuietly(t));
    this.#ahead = null;
    closeQuietly(this.#t);
  }

  /** Says goodbye politely, bounded by the timeout, then closes. */
  async quit(): Promise<void> {
    if (this.#dead) return;
    try {
      await this.send("QUIT");
      await timed(this.readReply("quitting"), Math.min(this.#o.timeoutMs, 2000), () => {});
    } catch {
      // closing anyway
    }
    this.kill();
  }
}

/**
 * The data connection of one transfer. `read`/`write` move bytes under the timeout; `finish`
 * ends the transfer and checks the server's final reply; `abort` drops it and consumes
 * the reply about it.
 */
export class DataChannel {
  readonly #c: FtpConnection;
  readonly #t: Transport;
  readonly #protected: boolean;
  readonly #what: string;
  readonly #key?: string;
  #closed = false;
  /** the transfer's final reply was consumed (or the connection dropped) */
  #settled = false;
  /** bytes moved so far */
  bytes = 0;

  constructor(c: FtpConnection, t: Transport, prot: boolean, what: string, key?: string) {
    this.#c = c;
    this.#t = t;
    this.#protected = prot;
    this.#what = what;
    this.#key = key;
  }

  async read(p: Uint8Array): Promise<number | null> {
    try {
      const n = await timed(this.#t.read(p), this.#c.timeoutMs, () => this.#close());
      if (n !== null) this.bytes += n;
      return n;
    } catch (e) {
      this.#close();
      throw await this.#failure(e, this.#what);
    }
  }

  async write(p: Uint8Array): Promise<void> {
    try {
      let rest = p;
      while (rest.length) {
        const n = await timed(this.#t.write(rest), this.#c.timeoutMs, () => this.#close());
        rest = rest.subarray(n);
        this.bytes += n;
      }
    } catch (e) {
      this.#close();
      throw await this.#failure(e, this.#what);
    }
  }

  /**
   * A socket failure on the data connection: the control connection usually explains it (a
   * refusal, a full disk), so its reply wins when it comes quickly.
   */
  async #failure(e: unknown, what: string): Promise<RelayError> {
    if (this.#settled) return this.#c.netError(e, what);
    this.#settled = true;
    const r = await timed(this.#c.readReply(what), 5000, () => {}).catch(() => null);
    if (r) {
      if (this.#c.isSessionRefusal(r)) return this.#c.sessionRefusal(r);
      if (r.code >= 400) return this.#c.fail(r, this.#what, this.#key);
    }
    this.#c.kill();
    return this.#c.netError(e, what);
  }

  /**
   * Ends the transfer: after an upload, half-closes (so TLS sends close_notify and the server
   * sees a clean end) and waits for the server to close; then reads the final reply.
   */
  async finish(upload: boolean): Promise<FtpReply> {
    const ms = this.#c.timeoutMs;
    if (upload && !this.#closed) {
      try {
        await timed(this.#t.closeWrite(), ms, () => this.#close());
        const sink = new Uint8Array(1024);
        while ((await timed(this.#t.read(sink), ms, () => this.#close())) !== null) {
          // The server sends nothing on an upload's data connection; we wait for its close.
        }
      } catch (e) {
        this.#close();
        throw await this.#failure(e, "finishing " + this.#what);
      }
    }
    this.#close();
    this.#settled = true;
    const r = await this.#c.readReply("finishing " + this.#what);
    if (r.code >= 200 && r.code < 300) {
      if (this.#protected) this.#c.shared.tlsDataWorked = true;
      await this.#c.askAhead();
      return r;
    }
    if (this.#c.isSessionRefusal(r)) throw this.#c.sessionRefusal(r);
    throw this.#c.fail(r, this.#what, this.#key);
  }

  /** Drops the transfer early (range reads, cancelled streams, failed uploads). */
  async abort(): Promise<void> {
    if (this.#closed && this.#settled) return;
    this.#close();
    this.#settled = true;
    await this.#c.settleAbort("ending " + this.#what);
  }

  /** Closes the data connection at once (an abort signal); the pending call then fails. */
  drop(): void {
    this.#close();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeQuietly(this.#t);
  }
}

class TimeoutError extends Error {}

/** Races `p` against a timer; on timeout calls `onTimeout` (which closes the socket). */
export function timed<T>(p: Promise<T>, ms: number, onTimeout: () => void): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new TimeoutError("timed out"));
    }, ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

/** Connects under the timeout; a connection that completes too late is closed, not leaked. */
async function connectTimed(
  host: string,
  port: number,
  node: boolean,
  ms: number,
): Promise<Transport> {
  const p = connectTransport(host, port, node);
  try {
    return await timed(p, ms, () => {});
  } catch (e) {
    p.then(closeQuietly, () => {});
    throw e;
  }
}

function parseFeatures(r: FtpReply): Set<string> {
  const out = new Set<string>();
  for (const line of r.lines.slice(1, -1)) {
    const name = line.trim().split(/\s+/)[0]?.toUpperCase();
    if (name) out.add(name);
  }
  return out;
}

function errText(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.replace(/,? ?\(os error \d+\)/, "");
}

function tlsError(label: string, which: string, e: unknown): RelayError {
  const msg = errText(e);
  const hint = /certificate|UnknownIssuer|CaUsedAsEndEntity|NotValidForName|expired/i.test(msg)
    ? " (give the server's certificate with the certificate option, or set verify ssl = no)"
    : "";
  return new RelayError(
    "permanent",
    `${label}: TLS handshake on the ${which} connection failed: ${msg}${hint}`,
    undefined,
    { cause: e },
  );
}

/** The port of an EPSV reply, `(|||port|)` with any delimiter (RFC 2428), or null. */
function epsvPort(r: FtpReply): number | null {
  const m = /\(([^\d\s])\1\1(\d+)\1\)/.exec(r.lines.join(" "));
  return m ? Number(m[2]) : null;
}
