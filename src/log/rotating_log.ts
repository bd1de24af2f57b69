import { EscaleError, localIoError } from "../errors/errors.ts";
import { type Level, LEVELS, type Logger } from "./logger.ts";
import { openPrivateAppend, pad2, writeAllSync } from "./log_format.ts";

/** Escale's rotation size: 1 MiB per file. */
export const LOG_FILE_BYTES = 1024 * 1024;

/**
 * Thresholds of the configuration's `log level` values. The engine's Logger has no level above
 * `error`: the errors that stop a repository are its most severe lines, so `critical` keeps those.
 */
const THRESHOLDS: Record<string, number> = {
  debug: LEVELS.debug,
  info: LEVELS.info,
  warning: LEVELS.warn,
  warn: LEVELS.warn,
  error: LEVELS.error,
  critical: LEVELS.error,
};

const NAMES: Record<Level, string> = {
  debug: "DEBUG",
  info: "INFO",
  warn: "WARNING",
  error: "ERROR",
};

export interface RotatingLogOptions {
  /** the log file; its folder is created (mode 0700) when missing */
  path: string;
  /** `log level`: debug, info, warning (or warn), error, critical */
  level: string;
  /** `log rotate`: backups kept as `path.1` … `path.N`; 0 restarts the file when full */
  rotate: number;
  /** size at which the file is rotated; default 1 MiB */
  maxBytes?: number;
  /** logger name at the start of each line; default `escale` */
  name?: string;
  now?: () => Date;
  /** told once per run of failed writes (disk full, folder removed); default: one stderr line */
  onError?: (e: unknown) => void;
}

/** The open file and rotation state, shared by a log and all its children. */
class LogFile {
  #file: Deno.FsFile | null = null;
  #ino: number | null = null;
  #failing = false;
  readonly #enc = new TextEncoder();

  constructor(
    readonly path: string,
    readonly maxBytes: number,
    readonly backups: number,
    readonly onError: (e: unknown) => void,
  ) {}

  open(): void {
    this.#file = openPrivateAppend(this.path);
    this.#ino = this.#file.statSync().ino;
  }

  write(text: string): void {
    const bytes = this.#enc.encode(text);
    try {
      const size = this.#current();
      if (size > 0 && size + bytes.length > this.maxBytes) this.#rotate();
      writeAllSync(this.#file!, bytes);
      this.#failing = false;
    } catch (e) {
      // A logger that throws would stop a synchronisation because a disk filled up; the owner is
      // told once, and the next line tries again.
      if (!this.#failing) this.onError(e);
      this.#failing = true;
    }
  }

  /**
   * Size of the file at `path`, reopening it first when it is not the one held open: another
   * escale process sharing the log rotated it, or someone removed it.
   */
  #current(): number {
    let st: Deno.FileInfo | null = null;
    try {
      st = Deno.statSync(this.path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    if (this.#file && st && (st.ino === null || st.ino === this.#ino)) return st.size;
    this.close();
    this.open();
    return this.#file!.statSync().size;
  }

  #rotate(): void {
    if (this.backups === 0) {
      this.#file!.truncateSync(0);
      return;
    }
    this.close();
    for (let i = this.backups - 1; i >= 1; i--) {
      try {
        Deno.renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
    Deno.renameSync(this.path, `${this.path}.1`);
    this.open();
  }

  close(): void {
    this.#file?.close();
    this.#file = null;
    this.#ino = null;
  }
}

/**
 * Escale's `log file`: a synchronous appender, so that every line is on disk when `log` returns
 * and nothing is lost when the process exits or is killed. Lines look like Escale's:
 *
 *     DD/MM HH:MM:SS escale[section][LEVEL]<TAB>message
 *
 * in local time, with Python's level names (DEBUG, INFO, WARNING, ERROR). Seconds were added to
 * Escale's `DD/MM HH:MM` because rounds are often seconds apart; the `module.function:line`
 * column is gone. The continuation lines of a multi-line message start with a tab, so every
 * entry still starts with its date. When the file would grow past 1 MiB it is renamed to
 * `file.1` (older backups shift up to `file.N`, `log rotate`, the oldest is dropped). The file
 * and its backups are mode 0600. Messages are written as given: wrap the log in a
 * RedactingLogger.
 */
export class RotatingLog implements Logger {
  readonly #out: LogFile;
  readonly #threshold: number;
  readonly #prefix: string;
  readonly #now: () => Date;

  private constructor(out: LogFile, threshold: number, prefix: string, now: () => Date) {
    this.#out = out;
    this.#threshold = threshold;
    this.#prefix = prefix;
    this.#now = now;
  }

  /** Opens (creating it and its folder) the log file; a local-io EscaleError if it cannot. */
  static open(opts: RotatingLogOptions): RotatingLog {
    const threshold = THRESHOLDS[opts.level.toLowerCase()];
    if (threshold === undefined) {
      throw new EscaleError(
        "config",
        `unknown log level ${JSON.stringify(opts.level)} (debug, info, warning, error, critical)`,
      );
    }
    const onError = opts.onError ?? ((e: unknown) => {
      const msg = e instanceof Error ? e.message : String(e);
      console.error(`escale: warning: cannot write the log file ${opts.path}: ${msg}`);
    });
    const out = new LogFile(
      opts.path,
      opts.maxBytes ?? LOG_FILE_BYTES,
      Math.max(0, Math.floor(opts.rotate)),
      onError,
    );
    try {
      out.open();
    } catch (e) {
      throw localIoError(e, `cannot open the log file ${opts.path}`);
    }
    return new RotatingLog(out, threshold, opts.name ?? "escale", opts.now ?? (() => new Date()));
  }

  get path(): string {
    return this.#out.path;
  }

  log(level: Level, message: string): void {
    if (LEVELS[level] < this.#threshold) return;
    const d = this.#now();
    const stamp = `${pad2(d.getDate())}/${pad2(d.getMonth() + 1)} ${pad2(d.getHours())}:${
      pad2(d.getMinutes())
    }:${pad2(d.getSeconds())}`;
    const body = message.replace(/\r\n?/g, "\n").replace(/\n/g, "\n\t");
    this.#out.write(`${stamp} ${this.#prefix}[${NAMES[level]}]\t${body}\n`);
  }

  child(prefix: string): Logger {
    return new RotatingLog(this.#out, this.#threshold, `${this.#prefix}[${prefix}]`, this.#now);
  }

  /** Closes the file; a later line reopens it, so closing early never loses a line. */
  close(): void {
    this.#out.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
