/**
 * Counts HTTP/1.1 requests in the client-to-server byte stream of one connection, as the WAN proxy
 * sees it: request heads are parsed, bodies skipped by Content-Length or chunked framing. A stream
 * it cannot frame (not HTTP, or malformed) stops being counted and is reported as `lost`, so a
 * count is never silently wrong.
 */
const MAX_HEAD = 64 * 1024;

type State = "head" | "body" | "size" | "data" | "crlf" | "trailer" | "lost";

export class HttpRequestCounter {
  lost = false;
  #state: State = "head";
  #text = "";
  #remaining = 0;
  readonly #onRequest: (method: string, target: string) => void;

  constructor(onRequest: (method: string, target: string) => void) {
    this.#onRequest = onRequest;
  }

  push(b: Uint8Array): void {
    let i = 0;
    while (i < b.length && this.#state !== "lost") {
      if (this.#state === "body" || this.#state === "data") {
        const take = Math.min(this.#remaining, b.length - i);
        i += take;
        this.#remaining -= take;
        if (this.#remaining === 0) this.#state = this.#state === "body" ? "head" : "crlf";
        continue;
      }
      // Line-oriented states: gather one byte at a time (heads and chunk lines are short).
      const c = b[i++];
      this.#text += String.fromCharCode(c);
      if (this.#text.length > MAX_HEAD) return this.#lose();
      if (c !== 0x0a) continue;
      if (this.#state === "head") this.#headLine();
      else this.#chunkLine();
    }
  }

  #lose(): void {
    this.#state = "lost";
    this.lost = true;
  }

  #headLine(): void {
    // A bare CRLF before a request head is tolerated (RFC 9112, 2.2).
    if (this.#text === "\r\n" || this.#text === "\n") {
      this.#text = "";
      return;
    }
    if (!this.#text.endsWith("\r\n\r\n") && !this.#text.endsWith("\n\n")) return;
    const lines = this.#text.split(/\r?\n/);
    this.#text = "";
    const m = /^([A-Z-]+) (\S+) HTTP\/1\.[01]$/.exec(lines[0]);
    if (!m) return this.#lose();
    let length = 0;
    let chunked = false;
    for (const line of lines.slice(1)) {
      const h = /^([^:]+):\s*(.*?)\s*$/.exec(line);
      if (!h) continue;
      const name = h[1].toLowerCase();
      if (name === "content-length") length = Number(h[2]);
      else if (name === "transfer-encoding") chunked = /chunked/i.test(h[2]);
    }
    if (!Number.isSafeInteger(length) || length < 0) return this.#lose();
    this.#onRequest(m[1], m[2]);
    if (chunked) this.#state = "size";
    else if (length > 0) {
      this.#state = "body";
      this.#remaining = length;
    }
  }

  #chunkLine(): void {
    const line = this.#text.trimEnd();
    this.#text = "";
    if (this.#state === "crlf") {
      if (line !== "") return this.#lose();
      this.#state = "size";
    } else if (this.#state === "size") {
      const size = parseInt(line.split(";")[0], 16);
      if (!Number.isSafeInteger(size) || size < 0) return this.#lose();
      if (size === 0) this.#state = "trailer";
      else {
        this.#state = "data";
        this.#remaining = size;
      }
    } else if (this.#state === "trailer" && line === "") {
      this.#state = "head";
    }
  }
}
