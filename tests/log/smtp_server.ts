/**
 * A tiny SMTP server for tests, on 127.0.0.1 and a free port: it records every line the client
 * sends and every message it accepts, and can be told to misbehave.
 */
export interface SmtpBehaviour {
  /** reply to EHLO (default "250-test greets you\r\n250 8BITMIME") */
  ehlo?: string;
  /** reply to RCPT TO (default 250) */
  rcpt?: string;
  /** never send the greeting (to test timeouts) */
  silent?: boolean;
}

export interface Received {
  /** every command line, in order (DATA content excluded) */
  commands: string[];
  /** the raw DATA lines, still dot-stuffed, without the final "." */
  data: string[];
}

export class SmtpServer {
  readonly sessions: Received[] = [];
  readonly #listener: Deno.Listener;
  readonly #conns = new Set<Deno.Conn>();
  readonly #done: Promise<void>;

  constructor(readonly behaviour: SmtpBehaviour = {}) {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#done = this.#accept();
  }

  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  async #accept(): Promise<void> {
    const handlers: Promise<void>[] = [];
    try {
      for await (const conn of this.#listener) {
        this.#conns.add(conn);
        handlers.push(this.#serve(conn).finally(() => this.#conns.delete(conn)));
      }
    } catch {
      // listener closed
    }
    await Promise.allSettled(handlers);
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    const rec: Received = { commands: [], data: [] };
    this.sessions.push(rec);
    const enc = new TextEncoder();
    const say = async (s: string) => {
      const b = enc.encode(s.replace(/\r?\n/g, "\r\n") + "\r\n");
      let off = 0;
      while (off < b.length) off += await conn.write(b.subarray(off));
    };
    const dec = new TextDecoder();
    let buf = "";
    let inData = false;
    try {
      if (!this.behaviour.silent) await say("220 test.local ESMTP ready");
      const chunk = new Uint8Array(4096);
      while (true) {
        const n = await conn.read(chunk);
        if (n === null) break;
        buf += dec.decode(chunk.subarray(0, n), { stream: true });
        let nl: number;
        while ((nl = buf.indexOf("\r\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 2);
          if (inData) {
            if (line === ".") {
              inData = false;
              await say("250 2.0.0 queued");
            } else rec.data.push(line);
            continue;
          }
          rec.commands.push(line);
          const verb = line.split(/[ :]/)[0].toUpperCase();
          if (verb === "EHLO") {
            await say(this.behaviour.ehlo ?? "250-test greets you\n250 8BITMIME");
          } else if (verb === "HELO") await say("250 test");
          else if (verb === "MAIL") await say("250 2.1.0 ok");
          else if (verb === "RCPT") await say(this.behaviour.rcpt ?? "250 2.1.5 ok");
          else if (verb === "DATA") {
            inData = true;
            await say("354 go ahead");
          } else if (verb === "QUIT") {
            await say("221 bye");
            break;
          } else await say("502 unknown command");
        }
      }
    } catch {
      // the client went away
    } finally {
      try {
        conn.close();
      } catch { /* already closed */ }
    }
  }

  /** The accepted message with dot-stuffing undone. */
  static message(rec: Received): { headers: Map<string, string>; body: string } {
    const lines = rec.data.map((l) => (l.startsWith("..") ? l.slice(1) : l));
    const blank = lines.indexOf("");
    const headers = new Map<string, string>();
    for (const h of lines.slice(0, blank)) {
      const i = h.indexOf(":");
      headers.set(h.slice(0, i).toLowerCase(), h.slice(i + 1).trim());
    }
    let body = lines.slice(blank + 1).join("\n");
    if (headers.get("content-transfer-encoding") === "base64") {
      const bin = atob(body.replace(/\n/g, ""));
      body = new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
    }
    return { headers, body };
  }

  async close(): Promise<void> {
    this.#listener.close();
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* already closed */ }
    }
    await this.#done;
  }
}
