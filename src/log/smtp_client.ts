import { EscaleError, oneLine } from "../errors/errors.ts";

export interface MailMessage {
  /** SMTP server; escale talks to a local mail transfer agent, without TLS or login */
  host: string;
  port: number;
  /** envelope and header sender, e.g. `escale@myhost` */
  from: string;
  /** bare addresses (`a@b`), already checked */
  to: string[];
  subject: string;
  body: string;
  /** the name this host gives in EHLO/HELO */
  heloName: string;
  /** limit for the connection and for each reply; default 30 s */
  timeoutMs?: number;
  date?: Date;
}

/** Longest server reply kept: a reply is a few lines; anything longer is not an SMTP server. */
const MAX_REPLY = 64 * 1024;

/** RFC 5321 §4.5.3.1.6: text lines are at most 998 characters plus CRLF. */
const MAX_LINE = 998;

interface Reply {
  code: number;
  text: string;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** A header value that stays one line; non-ASCII text becomes an RFC 2047 encoded word. */
function headerText(s: string): string {
  const line = oneLine(s);
  if (isAscii(line)) return line;
  const bytes = new TextEncoder().encode(line);
  return `=?UTF-8?B?${btoa(String.fromCharCode(...bytes))}?=`;
}

/** RFC 5322 date, e.g. `Tue, 05 Mar 2024 10:00:00 +0000`. */
function mailDate(d: Date): string {
  return d.toUTCString().replace(/GMT$/, "+0000");
}

/**
 * The message as sent after DATA: headers, then the body as 7-bit text with dot-stuffing when it
 * is plain ASCII with short lines, otherwise base64 (which never starts a line with a dot, and
 * reaches mailboxes of servers without 8BITMIME intact).
 */
export function buildMessage(m: MailMessage): string {
  const body = m.body.replace(/\r\n?/g, "\n");
  const plain = isAscii(body) && body.split("\n").every((l) => l.length <= MAX_LINE);
  const domain = m.from.slice(m.from.lastIndexOf("@") + 1) || "localhost";
  const id = crypto.randomUUID();
  const headers = [
    `Date: ${mailDate(m.date ?? new Date())}`,
    `From: ${m.from}`,
    `To: ${m.to.join(", ")}`,
    `Subject: ${headerText(m.subject)}`,
    `Message-ID: <${id}@${domain}>`,
    // Keeps vacation responders from answering a machine (RFC 3834).
    "Auto-Submitted: auto-generated",
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    `Content-Transfer-Encoding: ${plain ? "7bit" : "base64"}`,
  ];
  let text: string;
  if (plain) {
    text = body.split("\n").map((l) => (l.startsWith(".") ? "." + l : l)).join("\r\n");
  } else {
    const bytes = new TextEncoder().encode(body);
    let bin = "";
    for (const b of bytes) bin += String.fromCharCode(b);
    text = (btoa(bin).match(/.{1,76}/g) ?? []).join("\r\n");
  }
  return headers.join("\r\n") + "\r\n\r\n" + text + "\r\n.\r\n";
}

/** One SMTP conversation over a TCP connection, with a deadline on every step. */
class Session {
  #buf = "";
  readonly #dec = new TextDecoder();
  readonly #enc = new TextEncoder();

  constructor(
    readonly conn: Deno.Conn,
    readonly where: string,
    readonly timeoutMs: number,
  ) {}

  async #timed<T>(p: Promise<T>, what: string): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // Closing the connection also ends the read or write still pending on it.
        try {
          this.conn.close();
        } catch { /* already closed */ }
        reject(new EscaleError("unreachable", `${this.where}: no answer to ${what} (timed out)`));
      }, this.timeoutMs);
    });
    try {
      return await Promise.race([p, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #line(what: string): Promise<string> {
    while (true) {
      const nl = this.#buf.indexOf("\n");
      if (nl >= 0) {
        const line = this.#buf.slice(0, nl).replace(/\r$/, "");
        this.#buf = this.#buf.slice(nl + 1);
        return line;
      }
      if (this.#buf.length > MAX_REPLY) {
        throw new EscaleError("permanent", `${this.where}: reply to ${what} is too long`);
      }
      const chunk = new Uint8Array(4096);
      const n = await this.#timed(this.conn.read(chunk), what);
      if (n === null) {
        throw new EscaleError("unreachable", `${this.where}: connection closed during ${what}`);
      }
      this.#buf += this.#dec.decode(chunk.subarray(0, n), { stream: true });
    }
  }

  /** A whole reply: `250-first`, `250-more`, `250 last`. */
  async reply(what: string): Promise<Reply> {
    const lines: string[] = [];
    let size = 0;
    while (true) {
      const line = await this.#line(what);
      size += line.length;
      if (size > MAX_REPLY) {
        throw new EscaleError("permanent", `${this.where}: reply to ${what} is too long`);
      }
      const m = /^(\d{3})([ -]|$)(.*)$/.exec(line);
      if (!m) {
        throw new EscaleError(
          "permanent",
          `${this.where}: not an SMTP reply to ${what}: ${oneLine(line).slice(0, 100)}`,
        );
      }
      lines.push(m[3]);
      if (m[2] !== "-") return { code: Number(m[1]), text: lines.join(" ") };
    }
  }

  async send(text: string, what: string): Promise<void> {
    const data = this.#enc.encode(text);
    let off = 0;
    while (off < data.length) off += await this.#timed(this.conn.write(data.subarray(off)), what);
  }

  /** Sends a command and checks that the reply code is one of `ok`. */
  async command(line: string, ok: number[], what: string): Promise<Reply> {
    await this.send(line + "\r\n", what);
    return this.expect(ok, what);
  }

  async expect(ok: number[], what: string): Promise<Reply> {
    const r = await this.reply(what);
    if (!ok.includes(r.code)) {
      throw new EscaleError(
        r.code >= 400 && r.code < 500 ? "transient" : "permanent",
        `${this.where}: ${what} refused: ${r.code} ${oneLine(r.text).slice(0, 200)}`,
      );
    }
    return r;
  }
}

/**
 * Sends one plain-text message through an SMTP server: EHLO (HELO if the server does not know
 * EHLO), MAIL FROM, RCPT TO for each recipient, DATA with dot-stuffing, QUIT. No TLS and no
 * login: this is for the local mail transfer agent (Escale's `maintainer` mail went to port 25
 * of the local host), which relays onwards. Rejects with an EscaleError (`unreachable`,
 * `transient` for 4xx answers, `permanent` for 5xx ones) naming the step that failed.
 */
export async function sendMail(m: MailMessage): Promise<void> {
  const timeoutMs = m.timeoutMs ?? 30_000;
  const where = `SMTP server ${m.host}:${m.port}`;
  for (const a of [m.from, ...m.to]) {
    if (/[\s<>]/.test(a) || !a.includes("@")) {
      throw new EscaleError("usage", `not a plain e-mail address: ${JSON.stringify(a)}`);
    }
  }
  if (m.to.length === 0) throw new EscaleError("usage", "no recipient for the e-mail");
  let conn: Deno.Conn;
  try {
    conn = await Deno.connect({
      hostname: m.host,
      port: m.port,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    const msg = e instanceof Error ? e.message.replace(/,? ?\(os error \d+\)/, "") : String(e);
    throw new EscaleError("unreachable", `${where}: cannot connect: ${oneLine(msg)}`);
  }
  const s = new Session(conn, where, timeoutMs);
  try {
    await s.expect([220], "the greeting");
    try {
      await s.command(`EHLO ${m.heloName}`, [250], "EHLO");
    } catch (e) {
      if (!(e instanceof EscaleError) || e.kind !== "permanent") throw e;
      await s.command(`HELO ${m.heloName}`, [250], "HELO");
    }
    await s.command(`MAIL FROM:<${m.from}>`, [250], "MAIL FROM");
    for (const to of m.to) await s.command(`RCPT TO:<${to}>`, [250, 251], `RCPT TO ${to}`);
    await s.command("DATA", [354], "DATA");
    await s.send(buildMessage(m), "the message");
    await s.expect([250], "the message");
    // The message is accepted once the server said 250; a lost QUIT reply changes nothing.
    await s.command("QUIT", [221], "QUIT").catch(() => {});
  } finally {
    try {
      conn.close();
    } catch { /* closed by a timeout */ }
  }
}
