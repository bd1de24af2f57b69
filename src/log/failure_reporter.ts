import type { ErrorLog } from "./error_log.ts";
import type { Failure, Notifier } from "./notifier.ts";

/**
 * Records and announces repository failures once per episode. `escale run` retries a failing
 * repository with backoff for as long as it runs; writing error.log and mailing the maintainer on
 * every retry would bury both in copies of one problem. So a repository is reported when it
 * first fails, and again only after a round of it has succeeded (`succeeded`) and it fails anew.
 * Each repository's Notifier comes from its own section (`maintainer` is per section).
 */
export class FailureReporter {
  readonly #errorLog: ErrorLog | null;
  readonly #failing = new Set<string>();

  constructor(errorLog: ErrorLog | null) {
    this.#errorLog = errorLog;
  }

  /** Reports `f` unless its repository is already known to be failing; never throws. */
  async failed(f: Failure, notifier?: Notifier): Promise<void> {
    if (this.#failing.has(f.section)) return;
    this.#failing.add(f.section);
    this.#errorLog?.record(f.section, f.message);
    if (notifier?.configured) await notifier.notify(f);
  }

  /** A round of `section` completed: its next failure is news again. */
  succeeded(section: string): void {
    this.#failing.delete(section);
  }

  isFailing(section: string): boolean {
    return this.#failing.has(section);
  }
}
