import { RelayError } from "../errors/errors.ts";
import { checkKey, joinKey, parentOf } from "./keys.ts";
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
} from "./relay.ts";
import { tap } from "../util/streams.ts";

/**
 * A relay in a local or mounted directory (`protocol = file`). Writes go to a temporary file in
 * the target directory and are renamed into place; create-if-absent uses link(2), which fails
 * atomically when the name exists (also on NFS, unlike O_EXCL on old servers).
 */
export class FileRelay implements Relay {
  readonly name: string;
  readonly capabilities: RelayCapabilities = {
    createIfAbsent: true,
    rangeRead: true,
    maxKeyLength: 1024,
    parallel: 4,
    tempObjects: true,
  };
  readonly #root: string;
  #received = 0;

  constructor(root: string) {
    this.#root = root.replace(/\/+$/, "") || "/";
    this.name = `file:${this.#root}`;
  }

  /** Fails with a clear error when the relay folder is missing or not a directory. */
  async open(): Promise<this> {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(this.#root);
    } catch (e) {
      throw mapFsError(e, "", `relay folder ${this.#root}`);
    }
    if (!info.isDirectory) {
      throw new RelayError("permanent", `relay folder ${this.#root} is not a directory`);
    }
    return this;
  }

  #path(key: string): string {
    return key === "" ? this.#root : `${this.#root}/${key}`;
  }

  async *list(dir: string): AsyncIterable<RelayEntry> {
    checkKey(dir, true);
    const names: string[] = [];
    try {
      for await (const e of Deno.readDir(this.#path(dir))) {
        // A name no key can spell (a backslash) is someone else's: skipped, as rclone does.
        if (e.isDirectory || e.name.startsWith(TEMP_PREFIX) || e.name.includes("\\")) continue;
        // A FIFO, socket or device: stat names what it is.
        names.push(e.name);
      }
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      throw mapFsError(e, dir, `listing ${dir || "/"}`);
    }
    names.sort();
    for (const name of names) {
      const key = joinKey(dir, name);
      const st = await this.stat(key);
      if (st) yield st;
    }
  }

  async listFolders(dir: string): Promise<string[]> {
    checkKey(dir, true);
    const names: string[] = [];
    try {
      for await (const e of Deno.readDir(this.#path(dir))) {
        if (e.isDirectory && !e.name.startsWith(TEMP_PREFIX) && !e.name.includes("\\")) {
          names.push(e.name);
        }
      }
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return [];
      throw mapFsError(e, dir, `listing ${dir || "/"}`);
    }
    return names.sort();
  }

  /**
   * The temporary objects of unfinished writes directly inside `dir` (which `list` never shows),
   * so that `escale fix` can remove those of writers that were killed.
   */
  async *listTemporary(dir: string): AsyncIterable<RelayEntry> {
    checkKey(dir, true);
    try {
      for await (const e of Deno.readDir(this.#path(dir))) {
        if (!e.isFile || !e.name.startsWith(TEMP_PREFIX)) continue;
        const key = joinKey(dir, e.name);
        const st = await Deno.stat(this.#path(key)).catch(() => null);
        if (st) yield { key, size: st.size, mtime: st.mtime?.getTime() ?? 0 };
      }
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      throw mapFsError(e, dir, `listing ${dir || "/"}`);
    }
  }

  /**
   * A folder where an object could be is no object (null); a FIFO, socket or device is refused
   * (see notRegular). stat(2) never blocks on them, unlike open(2) on a FIFO.
   */
  async stat(key: string): Promise<RelayEntry | null> {
    checkKey(key);
    let st: Deno.FileInfo;
    try {
      st = await Deno.stat(this.#path(key));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return null;
      throw mapFsError(e, key, key);
    }
    if (st.isDirectory) return null;
    if (!st.isFile) throw notRegular(key, st);
    return { key, size: st.size, mtime: st.mtime?.getTime() ?? 0 };
  }

  async read(key: string, opts: ReadOptions = {}): Promise<ReadableStream<Uint8Array>> {
    checkKey(key);
    // Looked at before opening: opening a FIFO waits for a writer, possibly forever, and a
    // device such as /dev/zero never ends. Should the file be swapped for one between the two
    // calls, the open may still wait; the check after it catches every other swap.
    if (!(await this.stat(key))) {
      throw new RelayError("not-found", `${key}: not found`, key);
    }
    let f: Deno.FsFile;
    try {
      f = await Deno.open(this.#path(key), { read: true });
    } catch (e) {
      throw mapFsError(e, key, key);
    }
    try {
      const st = await f.stat();
      if (!st.isFile) throw notRegular(key, st);
      if (opts.offset) await f.seek(opts.offset, Deno.SeekMode.Start);
    } catch (e) {
      f.close();
      throw mapFsError(e, key, key);
    }
    // Counted as read from the file: the seek skipped the rest.
    return tap(limitStream(f, opts.length ?? Infinity), (c) => void (this.#received += c.length));
  }

  async write(key: string, body: Body, opts: WriteOptions = {}): Promise<void> {
    checkKey(key);
    const final = this.#path(key);
    const dir = this.#path(parentOf(key));
    // The temporary name is derived from the key, so that the unfinished write of a process that
    // was killed is replaced by the next write of the key and removed by its delete. Keys have a
    // single writer; should the name be taken anyway (a racing create-if-absent), a random one is
    // used instead.
    let tmp = this.#tempOf(key);
    try {
      await Deno.mkdir(dir, { recursive: true });
      if (opts.ifAbsent && (await this.stat(key))) {
        throw new RelayError("exists", `${key}: already exists on relay`, key);
      }
      // The temporary name is predictable: a FIFO put there would block the open below.
      const old = await Deno.lstat(tmp).catch(() => null);
      if (old && !old.isFile && !old.isDirectory) await Deno.remove(tmp);
      let f: Deno.FsFile;
      try {
        f = await Deno.open(
          tmp,
          opts.ifAbsent ? { write: true, createNew: true, mode: 0o644 } : {
            write: true,
            create: true,
            truncate: true,
            mode: 0o644,
          },
        );
      } catch (e) {
        if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
        tmp = `${dir}/${TEMP_PREFIX}${crypto.randomUUID()}`;
        f = await Deno.open(tmp, { write: true, createNew: true, mode: 0o644 });
      }
      try {
        // Written by hand: piping into FsFile.writable loses data under Deno 2.9.6 when the
        // stream's chunks are produced asynchronously (seen with file-backed sources).
        for await (const chunk of openBody(body)) {
          let off = 0;
          // Synchronous: Deno's async file writes cost a thread hop and an fd dup per call.
          while (off < chunk.length) off += f.writeSync(chunk.subarray(off));
        }
        await f.sync();
      } finally {
        f.close();
      }
      await opts.after;
      if (opts.ifAbsent) {
        try {
          await Deno.link(tmp, final);
        } catch (e) {
          if (e instanceof Deno.errors.AlreadyExists) {
            throw new RelayError("exists", `${key}: already exists on relay`, key);
          }
          throw e;
        }
        await Deno.remove(tmp);
      } else {
        await Deno.rename(tmp, final);
      }
    } catch (e) {
      await Deno.remove(tmp).catch(() => {});
      throw mapFsError(e, key, key);
    }
  }

  #tempOf(key: string): string {
    return this.#path(tempKeyFor(key));
  }

  async delete(key: string, opts: DeleteOptions = {}): Promise<void> {
    checkKey(key);
    // Also an unfinished write of the key left by a killed process (see write).
    if (!opts.onlyCreated) await Deno.remove(this.#tempOf(key)).catch(() => {});
    try {
      await Deno.remove(this.#path(key));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      throw mapFsError(e, key, key);
    }
  }

  received(): number {
    return this.#received;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function limitStream(f: Deno.FsFile, length: number): ReadableStream<Uint8Array> {
  let left = length;
  return new ReadableStream({
    type: "bytes",
    pull(c) {
      if (left <= 0) {
        f.close();
        c.close();
        return;
      }
      // 1 MiB reads: a quarter of the system calls and allocations of 64 KiB ones at full speed.
      const buf = new Uint8Array(Math.min(left, 1024 * 1024));
      // Synchronous: Deno's async file reads cost a thread hop and an fd dup per call.
      const n = f.readSync(buf);
      if (n === null) {
        f.close();
        c.close();
        return;
      }
      left -= n;
      c.enqueue(buf.subarray(0, n));
    },
    cancel() {
      f.close();
    },
  });
}

/** What a relay object must never be: reading a FIFO blocks, reading a device never ends. */
function notRegular(key: string, st: Deno.FileInfo): RelayError {
  const what = st.isFifo
    ? "a FIFO"
    : st.isSocket
    ? "a socket"
    : st.isCharDevice || st.isBlockDevice
    ? "a device"
    : "something else";
  return new RelayError("integrity", `${key}: is ${what} on the relay, not a regular file`, key);
}

function mapFsError(e: unknown, key: string, what: string): RelayError {
  if (e instanceof RelayError) return e;
  const msg = e instanceof Error ? e.message.replace(/,? ?\(os error \d+\)/, "") : String(e);
  if (e instanceof Deno.errors.NotFound) {
    return new RelayError("not-found", `${what}: not found`, key, { cause: e });
  }
  if (e instanceof Deno.errors.AlreadyExists) {
    return new RelayError("exists", `${what}: already exists`, key, { cause: e });
  }
  if (e instanceof Deno.errors.PermissionDenied) {
    return new RelayError("permission", `${what}: permission denied`, key, { cause: e });
  }
  if (/No space left|quota/i.test(msg)) {
    return new RelayError("space", `${what}: ${msg}`, key, { cause: e });
  }
  return new RelayError("permanent", `${what}: ${msg}`, key, { cause: e });
}
