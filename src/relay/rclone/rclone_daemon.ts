import { EscaleError, RelayError } from "../../errors/errors.ts";
import {
  commonArgs,
  kill,
  rcloneError,
  type RcloneSetup,
  reason,
  spawnRclone,
} from "./rclone_process.ts";

/**
 * A long-lived `rclone rcd` that serves every call of a relay: metadata through its rc methods,
 * downloads through `--rc-serve` (HTTP GET with Range), uploads through `operations/uploadfile`
 * (a streamed multipart POST). Each call costs about a millisecond over loopback instead of a
 * process start (~60 ms, and for remote backends a fresh login each time: ~500 ms on FTP).
 * It listens on a port the kernel picks on 127.0.0.1 and demands a random user and password,
 * handed over in its environment (never on the command line, where other local users could read
 * them).
 */
export class RcloneDaemon {
  readonly #s: RcloneSetup;
  readonly #child: Deno.ChildProcess;
  readonly #url: string;
  readonly #auth: string;
  readonly #stderr: Promise<unknown>;
  #dead = false;

  private constructor(
    s: RcloneSetup,
    child: Deno.ChildProcess,
    url: string,
    auth: string,
    stderr: Promise<unknown>,
  ) {
    this.#s = s;
    this.#child = child;
    this.#url = url;
    this.#auth = auth;
    this.#stderr = stderr;
    child.status.then(() => (this.#dead = true));
  }

  get alive(): boolean {
    return !this.#dead;
  }

  static async start(s: RcloneSetup): Promise<RcloneDaemon> {
    const user = crypto.randomUUID();
    const pass = crypto.randomUUID();
    const child = spawnRclone(
      { ...s, env: { ...s.env, RCLONE_RC_USER: user, RCLONE_RC_PASS: pass } },
      // --ignore-times: movefile must never skip a move because the target "looks the same"
      // (same size and time), which would keep the old content.
      [...commonArgs(s), "rcd", "--rc-serve", "--rc-addr", "127.0.0.1:0", "--ignore-times"],
    );
    // rclone announces the address it got; stderr is drained for the daemon's whole life.
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    let url: string | undefined;
    const timer = setTimeout(() => kill(child), Math.max(15_000, s.timeoutMs));
    try {
      while (!url) {
        const { value, done } = await reader.read();
        if (done) break;
        seen = (seen + value).slice(-16 * 1024);
        url = /Serving remote control on (http:\/\/[^\s/]+)/.exec(seen)?.[1];
      }
    } catch {
      // A broken pipe ends the wait like an exit; the child is stopped below.
    } finally {
      clearTimeout(timer);
    }
    if (!url) {
      // Nothing was served yet, so nothing to finish: no reason to wait for a clean exit.
      kill(child, "SIGKILL");
      await reader.cancel().catch(() => {});
      await child.stdout.cancel().catch(() => {});
      await child.status;
      throw rcloneError(s, "starting rclone rcd", undefined, null, reason(seen));
    }
    const rest = (async () => {
      while (!(await reader.read()).done) {
        // Logged errors also come back in each call's answer.
      }
    })().catch(() => {});
    const out = child.stdout.pipeTo(new WritableStream()).catch(() => {});
    return new RcloneDaemon(
      s,
      child,
      url,
      "Basic " + btoa(`${user}:${pass}`),
      Promise.all([rest, out]),
    );
  }

  /**
   * Calls an rc method. rclone answers failures with an HTTP status and `{"error": text}`; 404
   * means the object or folder is missing.
   */
  async call(
    method: string,
    params: Record<string, unknown>,
    what: string,
    key?: string,
  ): Promise<Record<string, unknown>> {
    const res = await this.#fetch(
      `${this.#url}/${method}`,
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(params),
      },
      what,
      key,
      true,
    );
    const text = await res.text();
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text);
    } catch {
      throw new RelayError(
        "permanent",
        `${this.#s.label}: ${what}: rclone's answer is not JSON`,
        key,
      );
    }
    return body;
  }

  /**
   * Streams an object (`offset`/`length` as an HTTP range). Whatever rclone fails with, a
   * missing object, a folder in its place, comes back as not-found.
   */
  async download(
    fs: string,
    key: string,
    offset: number,
    length: number | undefined,
    what: string,
    signal?: AbortSignal,
  ): Promise<ReadableStream<Uint8Array>> {
    const url = `${this.#url}/${encodeURIComponent(`[${fs}]`)}/${
      key.split("/").map(encodeURIComponent).join("/")
    }`;
    const headers: Record<string, string> = {};
    if (offset > 0 || length !== undefined) {
      headers.range = `bytes=${offset}-${length !== undefined ? offset + length - 1 : ""}`;
    }
    const res = await this.#fetch(url, { headers, signal }, what, key, false);
    if (headers.range && res.status !== 206) {
      await res.body?.cancel();
      throw new RelayError(
        "permanent",
        `${this.#s.label}: ${what}: rclone ignored the byte range`,
        key,
      );
    }
    return watchBody(res.body ?? new ReadableStream({ start: (c) => c.close() }), {
      idleMs: 3 * this.#s.timeoutMs,
      signal,
      fail: (e, stalled) =>
        signal?.aborted
          ? new RelayError("interrupted", `${this.#s.label}: ${what}: interrupted`, key)
          : new RelayError(
            "transient",
            `${this.#s.label}: ${what}: ${stalled ? "rclone stalled" : "the transfer broke off"}`,
            key,
            { cause: e },
          ),
    });
  }

  /**
   * Uploads `body` as `dir/name` in one streamed multipart request; rclone passes the part to
   * its Rcat as it arrives. A body that fails aborts the request, and rclone's upload with it.
   */
  async upload(
    fs: string,
    dir: string,
    name: string,
    body: ReadableStream<Uint8Array>,
    what: string,
    key: string,
    signal?: AbortSignal,
  ): Promise<void> {
    const boundary = `escale-${crypto.randomUUID()}`;
    const head = new TextEncoder().encode(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\n` +
        `Content-Type: application/octet-stream\r\n\r\n`,
    );
    const tail = new TextEncoder().encode(`\r\n--${boundary}--\r\n`);
    const reader = body.getReader();
    let stage = 0;
    let bodyError: unknown;
    const multipart = new ReadableStream<Uint8Array>({
      async pull(c) {
        if (stage === 0) {
          stage = 1;
          return c.enqueue(head);
        }
        let r: ReadableStreamReadResult<Uint8Array>;
        try {
          r = await reader.read();
        } catch (e) {
          bodyError = e ?? new Error("the body failed");
          return c.error(e);
        }
        if (!r.done) return c.enqueue(r.value);
        c.enqueue(tail);
        c.close();
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    });
    const url = `${this.#url}/operations/uploadfile?fs=${encodeURIComponent(fs)}&remote=${
      encodeURIComponent(dir)
    }`;
    let res: Response;
    try {
      res = await this.#fetch(
        url,
        {
          method: "POST",
          headers: { "content-type": `multipart/form-data; boundary=${boundary}` },
          body: multipart,
          signal,
        },
        what,
        key,
        false,
      );
    } catch (e) {
      // The body is the caller's: its failure is theirs to see, not a lost daemon.
      if (bodyError === undefined) throw e;
      if (bodyError instanceof EscaleError) throw bodyError;
      throw new RelayError(
        "permanent",
        `${this.#s.label}: ${what}: the data to upload failed: ${
          bodyError instanceof Error ? bodyError.message : bodyError
        }`,
        key,
        { cause: bodyError },
      );
    }
    await res.body?.cancel();
  }

  /**
   * One request to the daemon; failures come mapped. `bounded` requests get a total deadline;
   * transfers are guarded by rclone's own I/O timeouts and the body watch instead.
   */
  async #fetch(
    url: string,
    init: RequestInit,
    what: string,
    key: string | undefined,
    bounded: boolean,
  ): Promise<Response> {
    const ctl = new AbortController();
    const onAbort = () => ctl.abort();
    init.signal?.addEventListener("abort", onAbort, { once: true });
    const timer = bounded ? setTimeout(() => ctl.abort(), 3 * this.#s.timeoutMs) : undefined;
    let res: Response;
    try {
      res = await fetch(url, {
        ...init,
        headers: { ...(init.headers as Record<string, string>), authorization: this.#auth },
        signal: ctl.signal,
      });
    } catch (e) {
      if (init.signal?.aborted) {
        throw new RelayError("interrupted", `${this.#s.label}: ${what}: interrupted`, key);
      }
      this.#dead ||= !ctl.signal.aborted;
      throw new RelayError(
        "transient",
        `${this.#s.label}: ${what}: ${
          ctl.signal.aborted ? "rclone did not answer in time" : "lost contact with rclone rcd"
        }`,
        key,
        { cause: e },
      );
    } finally {
      clearTimeout(timer);
      init.signal?.removeEventListener("abort", onAbort);
    }
    if (res.ok) return res;
    const text = await res.text().catch(() => "");
    let message = text.trim() || res.statusText;
    try {
      message = String(JSON.parse(text).error ?? message);
    } catch {
      // plain text
    }
    if (res.status === 401) {
      throw new RelayError("permanent", `${this.#s.label}: ${what}: rclone rcd refused our login`);
    }
    const missing = res.status === 404 || /is a directory not a file/.test(message);
    throw rcloneError(this.#s, what, key, missing ? 3 : null, message);
  }

  /** SIGTERM, and SIGKILL should rclone not exit within a few seconds. */
  async stop(): Promise<void> {
    kill(this.#child);
    const hard = setTimeout(() => kill(this.#child, "SIGKILL"), 5000);
    await this.#child.status;
    clearTimeout(hard);
    await this.#stderr;
  }
}

/**
 * Passes a response body through, failing it with `fail(error, stalled)` when it breaks off or
 * when no bytes come for `idleMs`.
 */
function watchBody(
  body: ReadableStream<Uint8Array>,
  o: {
    idleMs: number;
    signal?: AbortSignal;
    fail: (e: unknown, stalled: boolean) => RelayError;
  },
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  // A cancelled read ends like a complete body; the check after each read tells them apart.
  const onAbort = () => void reader.cancel().catch(() => {});
  o.signal?.addEventListener("abort", onAbort, { once: true });
  const done = () => o.signal?.removeEventListener("abort", onAbort);
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      let stalled = false;
      const limit = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          stalled = true;
          reader.cancel().catch(() => {});
          reject(new Error("stalled"));
        }, o.idleMs);
      });
      try {
        const r = await Promise.race([reader.read(), limit]);
        if (o.signal?.aborted) throw o.signal.reason;
        if (r.done) {
          done();
          c.close();
        } else c.enqueue(r.value);
      } catch (e) {
        done();
        c.error(o.fail(e, stalled));
      } finally {
        clearTimeout(timer);
      }
    },
    cancel(reason) {
      done();
      return reader.cancel(reason);
    },
  }, { highWaterMark: 1 });
}
