import net from "node:net";
import tls from "node:tls";

/**
 * The byte pipe under an FTP control or data connection. Normally a `Deno.Conn` (plain, or
 * upgraded with `Deno.startTls`). Deno's own TLS cannot skip certificate verification, so when
 * the user turns `verify ssl` off the connection is made with `node:net` + `node:tls` instead,
 * behind this same interface.
 */
export interface Transport {
  /** bytes read into `p`, or null at end of stream */
  read(p: Uint8Array): Promise<number | null>;
  /** writes some of `p`, returns how many bytes */
  write(p: Uint8Array): Promise<number>;
  /** half-close: sends FIN (or TLS close_notify) while reads stay possible */
  closeWrite(): Promise<void>;
  close(): void;
}

export interface TlsSettings {
  hostname: string;
  caCerts?: string[];
  /** false: accept any certificate (users who asked for `verify ssl = no`) */
  verify: boolean;
}

/** Closes without throwing (the resource may already be gone or consumed by a TLS upgrade). */
export function closeQuietly(t: Transport): void {
  try {
    t.close();
  } catch {
    // already closed
  }
}

/** Opens a TCP connection; `node` selects the node:net flavour needed for unverified TLS. */
export async function connectTransport(
  hostname: string,
  port: number,
  node: boolean,
): Promise<Transport> {
  // No Nagle: FTP and TLS handshakes are chains of small writes, and Nagle against delayed ACKs
  // costs 40 ms per round trip.
  if (!node) {
    const conn = await Deno.connect({ hostname, port });
    conn.setNoDelay(true);
    return conn;
  }
  const sock = net.connect({ host: hostname, port });
  sock.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    sock.once("connect", () => resolve());
    sock.once("error", reject);
  });
  return new NodeTransport(sock);
}

/**
 * Upgrades a fresh connection to TLS and completes the handshake. `onStart` receives the TLS
 * connection before the handshake so that a caller giving up can close it.
 */
export async function upgradeTransport(
  t: Transport,
  s: TlsSettings,
  onStart?: (secure: Transport) => void,
): Promise<Transport> {
  if (t instanceof NodeTransport) {
    const secure = tls.connect({
      socket: t.detach(),
      servername: net.isIP(s.hostname) ? undefined : s.hostname,
      ca: s.caCerts && s.caCerts.length ? s.caCerts : undefined,
      rejectUnauthorized: s.verify,
    });
    const wrapped = new NodeTransport(secure);
    onStart?.(wrapped);
    await new Promise<void>((resolve, reject) => {
      secure.once("secureConnect", () => resolve());
      secure.once("error", reject);
      secure.once("close", () => reject(new Error("connection closed during the TLS handshake")));
    });
    return wrapped;
  }
  const conn = await Deno.startTls(t as Deno.TcpConn, {
    hostname: s.hostname,
    caCerts: s.caCerts,
  });
  onStart?.(conn);
  await conn.handshake();
  return conn;
}

/**
 * Adapts a Node socket to `Transport`. Incoming data waits in `#chunks` with the socket paused
 * while anything is queued, so at most one socket read (64 KiB) is buffered here.
 */
class NodeTransport implements Transport {
  readonly socket: net.Socket;
  #chunks: Uint8Array[] = [];
  #ended = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;

  readonly #onData = (d: Uint8Array) => {
    this.#chunks.push(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    this.socket.pause();
    this.#notify();
  };
  readonly #onEnd = () => {
    this.#ended = true;
    this.#notify();
  };
  readonly #onError = (e: Error) => {
    this.#error = e;
    this.#notify();
  };

  constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", this.#onData);
    socket.on("end", this.#onEnd);
    socket.on("close", this.#onEnd);
    socket.on("error", this.#onError);
  }

  /** Hands the socket over to node:tls, which must be its only reader from now on. */
  detach(): net.Socket {
    this.socket.off("data", this.#onData);
    this.socket.off("end", this.#onEnd);
    this.socket.off("close", this.#onEnd);
    this.socket.off("error", this.#onError);
    this.socket.resume();
    return this.socket;
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  async read(p: Uint8Array): Promise<number | null> {
    while (!this.#chunks.length) {
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
      this.socket.resume();
      await new Promise<void>((r) => (this.#wake = r));
    }
    const head = this.#chunks[0];
    const n = Math.min(p.length, head.length);
    p.set(head.subarray(0, n));
    if (n === head.length) this.#chunks.shift();
    else this.#chunks[0] = head.subarray(n);
    return n;
  }

  write(p: Uint8Array): Promise<number> {
    if (this.#error) return Promise.reject(this.#error);
    const copy = p.slice();
    return new Promise((resolve, reject) => {
      this.socket.write(copy, (e) => (e ? reject(e) : resolve(copy.length)));
    });
  }

  closeWrite(): Promise<void> {
    return new Promise((resolve) => this.socket.end(() => resolve()));
  }

  close(): void {
    this.socket.destroy();
    this.#ended = true;
    this.#notify();
  }
}
