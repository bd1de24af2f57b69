import { EscaleError, RelayError } from "../../errors/errors.ts";
import { baseName, checkKey, joinKey, parentOf } from "../keys.ts";
import {
  type Body,
  type DeleteOptions,
  openBody,
  type ReadOptions,
  type Relay,
  type RelayCapabilities,
  type RelayEntry,
  TEMP_PREFIX,
  tempKeyFor,
  type WriteOptions,
} from "../relay.ts";
import { bytesStream, tap } from "../../util/streams.ts";
import { RcloneDaemon } from "./rclone_daemon.ts";
import {
  parseRcloneRemote,
  rcloneConfigEnv,
  rcloneRemoteSecrets,
  splitRcloneLocation,
} from "./rclone_remote.ts";
import {
  commonArgs,
  kill,
  rcloneError,
  type RcloneSetup,
  reason,
  runRclone,
  scrub,
  spawnRclone,
  stderrTail,
} from "./rclone_process.ts";

export interface RcloneRelayOptions {
  /** the rclone program (`rclone binary`) */
  binary: string;
  /**
   * remote name ("mydrive" or "mydrive:"), an on-the-fly remote such as ":local:", or a
   * connection string (":webdav,url='http://…',user=u,pass=OBSCURED:"). Its parameters are
   * handed to rclone in environment variables, never in arguments or messages.
   */
  remote: string;
  /** the relay folder inside the remote */
  directory: string;
  /** rclone config file; default: the one rclone itself would use */
  configFile?: string;
  /** added to the environment of every rclone process (e.g. RCLONE_CONFIG_<NAME>_TYPE) */
  env?: Record<string, string>;
  /** rclone's connect and idle I/O timeouts (the section's `timeout`) */
  timeoutMs: number;
  /** metadata calls through a long-lived `rclone rcd` (default) rather than one process each */
  daemon?: boolean;
}

/** Most listing JSON accepted for one folder (about a million entries). */
const MAX_LISTING_BYTES = 256 * 1024 * 1024;
/** Slice size when a whole-buffer body is fed to rclone's stdin. */
const STDIN_SLICE = 256 * 1024;

interface LsJson {
  Name?: string;
  Path?: string;
  Size?: number;
  ModTime?: string;
  IsDir?: boolean;
}

/**
 * A relay on any rclone remote. Objects are uploaded under a temporary name and moved into place.
 * By default every call goes to one `rclone rcd` kept running (see RcloneDaemon): downloads and
 * uploads stream over loopback HTTP, metadata calls are rc methods. With `daemon: false` each
 * call is its own process: `cat` (stdout), `rcat` (stdin), `lsjson`, `deletefile`, `moveto`.
 * Memory per transfer: one pipe or socket read (64 KiB) plus one queued chunk on downloads, one
 * 256 KiB slice or one caller chunk on uploads.
 */
export class RcloneRelay implements Relay {
  readonly name: string;
  readonly capabilities: RelayCapabilities = {
    createIfAbsent: false,
    rangeRead: true,
    maxKeyLength: 1024,
    parallel: 4,
    tempObjects: true,
  };
  readonly #o: RcloneRelayOptions;
  #received = 0;
  /** the relay folder as an rclone path, e.g. "mydrive:escale" or ":local:/srv/relay" */
  readonly #fs: string;
  #setup: RcloneSetup;
  #daemon: RcloneDaemon | null = null;
  #starting: Promise<RcloneDaemon> | null = null;
  #closed = false;

  constructor(opts: RcloneRelayOptions) {
    this.#o = opts;
    const loc = splitRcloneLocation(opts.remote);
    const spec = loc && parseRcloneRemote(loc.remote);
    if (!loc || !spec) {
      throw new RelayError(
        "config",
        "rclone remote: a quoted value of the connection string is not closed",
      );
    }
    const dir = opts.directory.length > 1 ? opts.directory.replace(/\/+$/, "") : opts.directory;
    const inner = [loc.path.replace(/\/+$/, ""), dir].filter((p) => p !== "").join("/");
    const env = { ...opts.env };
    // Connection-string parameters become a remote defined by environment variables: rclone
    // then never sees them in its arguments (visible to every local user in the process list)
    // nor repeats them in its messages ('Failed to create file system for ":webdav,…,pass=…"').
    // A named remote keeps its name, so that its config file section still applies underneath.
    let section = spec.name;
    if (spec.params.length > 0) {
      if (spec.name.startsWith(":")) {
        section = `escale_${spec.name.slice(1)}_${crypto.randomUUID().slice(0, 8)}`;
        env[rcloneConfigEnv(section, "type")] = spec.name.slice(1);
      }
      for (const p of spec.params) env[rcloneConfigEnv(section, p.key)] = p.value;
    }
    this.#fs = `${section}:${inner}`;
    this.name = `rclone:${spec.name}:${inner}`;
    this.#setup = {
      binary: opts.binary,
      configFile: opts.configFile ?? "",
      env,
      timeoutMs: opts.timeoutMs,
      label: this.name,
      remoteName: spec.name,
      alias: section === spec.name ? undefined : { internal: section, shown: spec.name },
      secrets: Object.entries(opts.env ?? {})
        .filter(([k, v]) => v && /pass|secret|key|token|auth/i.test(k))
        .map(([, v]) => v)
        .concat(rcloneRemoteSecrets(loc.remote)),
    };
  }

  /**
   * Finds the config file, starts the daemon, and creates the relay folder (checking access).
   * A failure stops the daemon again: the caller never gets a relay to close, and a running
   * `rclone rcd` would keep this process alive. It does not close the relay: opening is retried
   * on the same object (see openWithRetries), and the next attempt starts a daemon of its own.
   */
  async open(): Promise<this> {
    try {
      await this.#open();
    } catch (e) {
      await this.#stopDaemon();
      throw e;
    }
    return this;
  }

  async #open(): Promise<void> {
    if (!this.#setup.configFile) {
      // "--config" is always passed so that every call, and every message, uses the same file.
      const r = await runRclone(this.#setup, ["config", "file"], "finding the rclone config file", {
        common: false,
      });
      const last = new TextDecoder().decode(r.stdout).trim().split("\n").at(-1) ?? "";
      this.#setup = { ...this.#setup, configFile: last.startsWith("/") ? last : "/dev/null" };
    }
    if (this.#o.daemon !== false) await this.#rc();
    await this.#meta(
      "operations/mkdir",
      { fs: this.#fs, remote: "" },
      ["mkdir", this.#fs],
      `creating the relay folder`,
    );
  }

  #path(key: string): string {
    if (key === "") return this.#fs;
    return this.#fs.endsWith(":") ? this.#fs + key : `${this.#fs}/${key}`;
  }

  /** The running daemon, started (again, if it died) on demand. */
  #rc(): Promise<RcloneDaemon> {
    if (this.#closed) {
      return Promise.reject(new RelayError("permanent", `${this.name}: the relay was closed`));
    }
    if (this.#daemon?.alive) return Promise.resolve(this.#daemon);
    if (!this.#starting) {
      const old = this.#daemon;
      this.#daemon = null;
      this.#starting = (async () => {
        await old?.stop();
        const d = await RcloneDaemon.start(this.#setup);
        this.#daemon = d;
        return d;
      })().finally(() => (this.#starting = null));
    }
    return this.#starting;
  }

  /**
   * One metadata operation: an rc call, or the equivalent command line. Returns the rc answer or
   * the command's stdout; failures come mapped.
   */
  async #meta(
    method: string,
    params: Record<string, unknown>,
    args: string[],
    what: string,
    key?: string,
  ): Promise<Record<string, unknown> | Uint8Array> {
    if (this.#o.daemon !== false) return await (await this.#rc()).call(method, params, what, key);
    const r = await runRclone(this.#setup, args, what, { limit: MAX_LISTING_BYTES });
    if (r.code !== 0) throw rcloneError(this.#setup, what, key, r.code, reason(r.stderr));
    return r.stdout;
  }

  list(dir: string): AsyncIterable<RelayEntry> {
    return this.#list(dir, false);
  }

  /** The temporary objects of unfinished uploads in `dir` (for `escale fix`). */
  listTemporary(dir: string): AsyncIterable<RelayEntry> {
    return this.#list(dir, true);
  }

  async *#list(dir: string, temporary: boolean): AsyncIterable<RelayEntry> {
    const entries: RelayEntry[] = [];
    for (const it of await this.#lsjson(dir, "files")) {
      const name = it.Name ?? "";
      if (it.IsDir || !validName(name) || name.startsWith(TEMP_PREFIX) !== temporary) continue;
      entries.push({ key: joinKey(dir, name), size: it.Size ?? 0, mtime: mtimeOf(it) });
    }
    entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    yield* entries;
  }

  async listFolders(dir: string): Promise<string[]> {
    const names: string[] = [];
    for (const it of await this.#lsjson(dir, "dirs")) {
      const name = it.Name ?? "";
      if (it.IsDir && validName(name) && !name.startsWith(TEMP_PREFIX)) names.push(name);
    }
    return names.sort();
  }

  /** The lsjson entries of `dir` of one kind; a missing folder has none. */
  async #lsjson(dir: string, only: "files" | "dirs"): Promise<LsJson[]> {
    checkKey(dir, true);
    const opt = only === "files" ? { filesOnly: true } : { dirsOnly: true };
    try {
      const out = await this.#meta(
        "operations/list",
        { fs: this.#fs, remote: dir, opt: { ...opt, noMimeType: true } },
        ["lsjson", `--${only}-only`, "--no-mimetype", this.#path(dir)],
        `listing ${dir || "/"}`,
        dir,
      );
      const items = out instanceof Uint8Array
        ? parseJson<LsJson[]>(out, this.#setup.label)
        : out.list as LsJson[];
      return items ?? [];
    } catch (e) {
      if (e instanceof RelayError && e.kind === "not-found") return [];
      throw e;
    }
  }

  async stat(key: string): Promise<RelayEntry | null> {
    checkKey(key);
    let item: LsJson | null;
    try {
      const out = await this.#meta(
        "operations/stat",
        { fs: this.#fs, remote: key, opt: { noMimeType: true } },
        ["lsjson", "--stat", "--no-mimetype", this.#path(key)],
        `checking ${key}`,
        key,
      );
      item = out instanceof Uint8Array ? parseJson(out, this.#setup.label) : out.item as LsJson;
    } catch (e) {
      if (e instanceof RelayError && e.kind === "not-found") return null;
      throw e;
    }
    if (!item || item.IsDir) return null;
    return { key, size: item.Size ?? 0, mtime: mtimeOf(item) };
  }

  /** Counted as rclone hands the bytes over: the range goes to rclone (HTTP Range, --offset). */
  async read(key: string, opts: ReadOptions = {}): Promise<ReadableStream<Uint8Array>> {
    return tap(await this.#read(key, opts), (c) => void (this.#received += c.length));
  }

  async #read(key: string, opts: ReadOptions): Promise<ReadableStream<Uint8Array>> {
    checkKey(key);
    opts.signal?.throwIfAborted();
    if (opts.length !== undefined && opts.length <= 0) {
      if (!(await this.stat(key))) {
        throw new RelayError("not-found", `${key}: not found on relay`, key);
      }
      return bytesStream(new Uint8Array(0));
    }
    if (this.#o.daemon !== false) {
      return await (await this.#rc()).download(
        this.#fs,
        key,
        Math.max(0, opts.offset ?? 0),
        opts.length,
        `reading ${key}`,
        opts.signal,
      );
    }
    const range: string[] = [];
    if (opts.offset) range.push("--offset", String(opts.offset));
    if (opts.length !== undefined) range.push("--count", String(opts.length));
    const s = this.#setup;
    const child = spawnRclone(s, [...commonArgs(s), "cat", ...range, this.#path(key)]);
    const stderr = stderrTail(child.stderr);
    const reader = child.stdout.getReader();
    const what = `reading ${key}`;
    const onAbort = () => kill(child);
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    // rclone's --timeout covers stalled transfers; this only guards against a hung process.
    let watchdog: ReturnType<typeof setTimeout> | undefined;
    let stalled = false;
    const arm = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        stalled = true;
        kill(child, "SIGKILL");
      }, 3 * s.timeoutMs);
    };
    const failure = async (): Promise<RelayError | null> => {
      const status = await child.status;
      const text = await stderr;
      clearTimeout(watchdog);
      opts.signal?.removeEventListener("abort", onAbort);
      if (opts.signal?.aborted) {
        return new RelayError("interrupted", `${this.name}: ${what}: interrupted`, key);
      }
      if (stalled) return new RelayError("transient", `${this.name}: ${what}: rclone stalled`, key);
      return status.success ? null : rcloneError(s, what, key, status.code, reason(text));
    };
    // The first chunk (or the end) tells whether the object exists, so that a missing one
    // fails here rather than in the middle of the caller's stream.
    arm();
    let first: ReadableStreamReadResult<Uint8Array>;
    try {
      first = await reader.read();
    } catch (e) {
      kill(child);
      throw (await failure()) ?? rcloneError(s, what, key, null, String(e));
    }
    if (first.done) {
      const err = await failure();
      if (err) throw err;
      return bytesStream(new Uint8Array(0));
    }
    let pending: Uint8Array | null = first.value;
    return new ReadableStream<Uint8Array>({
      async pull(ctl) {
        if (pending) {
          ctl.enqueue(pending);
          pending = null;
          return;
        }
        arm();
        let r: ReadableStreamReadResult<Uint8Array>;
        try {
          r = await reader.read();
        } catch (e) {
          kill(child);
          ctl.error((await failure()) ?? rcloneError(s, what, key, null, String(e)));
          return;
        }
        if (!r.done) return ctl.enqueue(r.value);
        const err = await failure();
        if (err) ctl.error(err);
        else ctl.close();
      },
      async cancel() {
        kill(child);
        await reader.cancel().catch(() => {});
        await failure();
      },
    }, { highWaterMark: 1 });
  }

  async write(key: string, body: Body, opts: WriteOptions = {}): Promise<void> {
    checkKey(key);
    opts.signal?.throwIfAborted();
    const tmpKey = tempKeyFor(key, opts.ifAbsent);
    if (opts.ifAbsent && (await this.stat(key))) throw exists(key);
    try {
      if (this.#o.daemon !== false) {
        await (await this.#rc()).upload(
          this.#fs,
          parentOf(tmpKey),
          baseName(tmpKey),
          openBody(body),
          `writing ${key}`,
          key,
          opts.signal,
        );
      } else {
        await this.#rcat(tmpKey, body, key, opts);
      }
      await opts.after;
      if (opts.ifAbsent && (await this.stat(key))) throw exists(key);
      await this.#move(tmpKey, key, `publishing ${key}`, key);
    } catch (e) {
      await this.delete(tmpKey).catch(() => {});
      throw e;
    }
  }

  /** Streams the body into `rclone rcat`; a failing body kills rclone before it can finish. */
  async #rcat(tmpKey: string, body: Body, key: string, opts: WriteOptions): Promise<void> {
    const s = this.#setup;
    const size = body instanceof Uint8Array ? body.length : opts.size;
    const child = spawnRclone(s, [
      ...commonArgs(s),
      "rcat",
      ...(size !== undefined ? ["--size", String(size)] : []),
      this.#path(tmpKey),
    ], "piped");
    const stderr = stderrTail(child.stderr);
    const stdout = child.stdout.pipeTo(new WritableStream()).catch(() => {});
    const onAbort = () => kill(child, "SIGKILL");
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    const writer = child.stdin.getWriter();
    let bodyError: unknown;
    try {
      if (body instanceof Uint8Array) {
        for (let off = 0; off < body.length; off += STDIN_SLICE) {
          await writer.write(body.subarray(off, off + STDIN_SLICE));
        }
      } else {
        const reader = body().getReader();
        try {
          for (;;) {
            let r: ReadableStreamReadResult<Uint8Array>;
            try {
              r = await reader.read();
            } catch (e) {
              bodyError = e;
              break;
            }
            if (r.done) break;
            await writer.write(r.value);
          }
        } catch (e) {
          reader.cancel(e).catch(() => {});
          throw e;
        } finally {
          reader.releaseLock();
        }
      }
      // A failed body must not become a short object: kill rclone before stdin reaches EOF.
      if (bodyError) kill(child, "SIGKILL");
      else await writer.close();
    } catch {
      // rclone exited early (BrokenPipe): its exit status and stderr say why.
    }
    writer.releaseLock();
    const status = await child.status;
    const text = await stderr;
    await stdout;
    opts.signal?.removeEventListener("abort", onAbort);
    if (opts.signal?.aborted) {
      throw new RelayError("interrupted", `${this.name}: writing ${key}: interrupted`, key);
    }
    if (bodyError) {
      if (bodyError instanceof EscaleError) throw bodyError;
      throw new RelayError(
        "permanent",
        `${this.name}: writing ${key}: the data to upload failed: ${
          scrub(bodyError instanceof Error ? bodyError.message : String(bodyError), s.secrets)
        }`,
        key,
        { cause: bodyError },
      );
    }
    if (!status.success) throw rcloneError(s, `writing ${key}`, key, status.code, reason(text));
  }

  async #move(from: string, to: string, what: string, key: string): Promise<void> {
    await this.#meta(
      "operations/movefile",
      { srcFs: this.#fs, srcRemote: from, dstFs: this.#fs, dstRemote: to },
      // --ignore-times: never skip the move because the target "looks the same".
      ["moveto", "--ignore-times", this.#path(from), this.#path(to)],
      what,
      key,
    );
  }

  async delete(key: string, opts: DeleteOptions = {}): Promise<void> {
    checkKey(key);
    // Also the unfinished upload of this key a killed process may have left (see tempKeyFor).
    if (!opts.onlyCreated) {
      await this.#meta(
        "operations/deletefile",
        { fs: this.#fs, remote: tempKeyFor(key) },
        ["deletefile", this.#path(tempKeyFor(key))],
        `deleting ${key}`,
        key,
      ).catch(() => {});
    }
    try {
      await this.#meta(
        "operations/deletefile",
        { fs: this.#fs, remote: key },
        ["deletefile", this.#path(key)],
        `deleting ${key}`,
        key,
      );
    } catch (e) {
      if (e instanceof RelayError && e.kind === "not-found") return;
      throw e;
    }
  }

  received(): number {
    return this.#received;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#stopDaemon();
  }

  async #stopDaemon(): Promise<void> {
    const d = this.#daemon ?? (await this.#starting?.catch(() => null));
    this.#daemon = null;
    await d?.stop();
  }
}

function parseJson<T>(out: Uint8Array, label: string): T {
  try {
    return JSON.parse(new TextDecoder().decode(out)) as T;
  } catch {
    throw new RelayError("permanent", `${label}: rclone printed something that is not JSON`);
  }
}

function mtimeOf(it: LsJson): number {
  const t = it.ModTime ? Date.parse(it.ModTime) : NaN;
  return Number.isFinite(t) ? t : 0;
}

function exists(key: string): RelayError {
  return new RelayError("exists", `${key}: already exists on relay`, key);
}

/** A name a key can spell: no separator or NUL, not "." or "..". */
function validName(name: string): boolean {
  return name !== "" && name !== "." && name !== ".." && !/[/\\\0]/.test(name);
}
