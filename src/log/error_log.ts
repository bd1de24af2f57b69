import { oneLine } from "../errors/errors.ts";
import { formatDateMinute, openPrivateAppend, writeAllSync } from "./log_format.ts";
import { redactSecrets } from "./redact.ts";

export interface ErrorLogOptions {
  /** secrets hidden from every entry (see redactSecrets) */
  secrets?: readonly string[];
  now?: () => Date;
  /** size past which error.log is renamed to error.log.1 (one backup); default 1 MiB */
  maxBytes?: number;
  /** told when an entry cannot be written; default: one stderr line */
  onError?: (e: unknown) => void;
}

/**
 * `error.log`, in the log file's folder: one line per repository that stopped on an error,
 *
 *     YYYY/MM/DD HH:MM <section>: <one-line message>
 *
 * in local time (Escale swapped the day and the month, and put the message on a second line
 * after the exception's class). Written in both single- and multi-repository runs (Escale's
 * single-section mode wrote nothing). Each entry is one append of one line, so processes sharing
 * the file never interleave inside an entry. Past 1 MiB the file moves to `error.log.1`.
 */
export class ErrorLog {
  readonly #secrets: readonly string[];
  readonly #now: () => Date;
  readonly #maxBytes: number;
  readonly #onError: (e: unknown) => void;

  constructor(readonly path: string, opts: ErrorLogOptions = {}) {
    this.#secrets = opts.secrets ?? [];
    this.#now = opts.now ?? (() => new Date());
    this.#maxBytes = opts.maxBytes ?? 1024 * 1024;
    this.#onError = opts.onError ?? ((e) => {
      const msg = e instanceof Error ? e.message : String(e);
      console.error(`escale: warning: cannot write ${path}: ${msg}`);
    });
  }

  /** The error.log that goes with a log file: same folder. */
  static beside(logFile: string, opts: ErrorLogOptions = {}): ErrorLog {
    const slash = logFile.lastIndexOf("/");
    return new ErrorLog(slash >= 0 ? `${logFile.slice(0, slash)}/error.log` : "error.log", opts);
  }

  /** Appends one entry; never throws (a failure to record a failure must not hide the first). */
  record(section: string, message: string): void {
    const text = redactSecrets(
      `${formatDateMinute(this.#now())} ${oneLine(section)}: ${oneLine(message)}`,
      this.#secrets,
    );
    try {
      let size = 0;
      try {
        size = Deno.statSync(this.path).size;
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
      if (size > 0 && size >= this.#maxBytes) Deno.renameSync(this.path, `${this.path}.1`);
      const file = openPrivateAppend(this.path);
      try {
        writeAllSync(file, new TextEncoder().encode(text + "\n"));
      } finally {
        file.close();
      }
    } catch (e) {
      this.#onError(e);
    }
  }
}
