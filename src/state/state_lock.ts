import { DatabaseSync } from "node:sqlite";
import { EscaleError, localIoError } from "../errors/errors.ts";

/**
 * One process per repository state: two `escale run` on the same state (cron overlapping a
 * daemon) published the same changes twice, resurrected deletions and made conflict copies.
 *
 * Deno has no non-blocking flock, but SQLite's own file locks give a try-lock: a connection in
 * exclusive locking mode keeps the EXCLUSIVE lock it took for its first write, `busy_timeout = 0`
 * makes a second process fail at once instead of waiting, and the kernel drops the lock when the
 * holder dies, even by SIGKILL. The lock lives in a small file of its own beside the state, which
 * keeps its WAL mode and normal locking.
 *
 * The holder writes its pid into the file header (`user_version`, at byte 60). The others read
 * it from the file directly: SQLite would need the very lock they cannot have.
 *
 * A lock is held until `release()` or the end of the process. A process asking again for a lock
 * it holds gets the same one back: a daemon that closes and reopens its repository after a failed
 * round stays the repository's process, and SQLite would refuse a second connection anyway.
 */
export class StateLock {
  static readonly #held = new Map<string, StateLock>();
  readonly path: string;
  readonly #key: string;
  #db: DatabaseSync | null;

  private constructor(path: string, key: string, db: DatabaseSync) {
    this.path = path;
    this.#key = key;
    this.#db = db;
  }

  /**
   * Takes the lock at `path` (created if needed) or throws a "busy" EscaleError naming the
   * holder's pid; `section` starts the message.
   */
  static acquire(path: string, section: string): StateLock {
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(path);
      db.exec("PRAGMA busy_timeout = 0; PRAGMA locking_mode = EXCLUSIVE;");
    } catch (e) {
      throw localIoError(e, `cannot open the lock file ${path}`);
    }
    // The same file under another spelling is the same lock.
    const key = Deno.realPathSync(path);
    const mine = StateLock.#held.get(key);
    if (mine) {
      db.close();
      return mine;
    }
    try {
      db.exec("BEGIN EXCLUSIVE");
      db.exec(`PRAGMA user_version = ${Deno.pid}`);
      db.exec("COMMIT");
    } catch (e) {
      db.close();
      if (!/database is locked|busy/i.test((e as Error).message)) {
        throw localIoError(e, `cannot take the lock ${path}`);
      }
      const pid = holderPid(path);
      throw new EscaleError(
        "busy",
        `${section}: another escale process${pid ? ` (pid ${pid})` : ""} is already ` +
          "synchronising this repository; wait for it to finish, or stop it " +
          "(escale ctl stop stops a background instance)",
      );
    }
    const lock = new StateLock(path, key, db);
    StateLock.#held.set(key, lock);
    return lock;
  }

  /** Lets other processes in; releasing twice is harmless. */
  release(): void {
    if (!this.#db) return;
    this.#db.close();
    this.#db = null;
    StateLock.#held.delete(this.#key);
  }
}

/**
 * The pid the holder wrote, or 0 if the header cannot be read. This process holds no lock on
 * the file here (it would have been found in #held), so opening and closing a descriptor of it
 * cannot drop a POSIX lock of ours.
 */
function holderPid(path: string): number {
  try {
    const f = Deno.openSync(path, { read: true });
    try {
      const header = new Uint8Array(64);
      if (f.readSync(header) !== 64) return 0;
      return new DataView(header.buffer).getUint32(60);
    } finally {
      f.close();
    }
  } catch {
    return 0;
  }
}
