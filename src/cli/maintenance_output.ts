// @ts-types="@types/cli-progress"
import type cliProgress from "cli-progress";
import process from "node:process";
import { writeAllSync } from "../log/log_format.ts";
import type { MaintenanceEvent } from "../maintenance/events.ts";
import { redactSecrets } from "../log/redact.ts";

/**
 * Where the maintenance commands (check, fix, backup, restore, migrate) report: with `--json`
 * one JSON object per line on stdout (`{"event": "phase"|"progress"|"note"|"result"|"error",
 * "time", ...}`); otherwise a progress bar on stderr when both stdout and stderr are terminals,
 * notes as plain lines, and the final one-line summary on stdout.
 */
export class MaintenanceOutput {
  readonly #json: boolean;
  readonly #lib: typeof cliProgress | null;
  readonly #secrets: readonly string[];
  #bar: cliProgress.SingleBar | null = null;
  #lastProgress = 0;

  static async create(json: boolean, secrets: readonly string[] = []): Promise<MaintenanceOutput> {
    const tty = !json && Deno.stdout.isTerminal() && Deno.stderr.isTerminal();
    const lib = tty ? (await import("cli-progress")).default : null;
    return new MaintenanceOutput(json, lib, secrets);
  }

  private constructor(json: boolean, lib: typeof cliProgress | null, secrets: readonly string[]) {
    this.#json = json;
    this.#lib = lib;
    this.#secrets = secrets;
  }

  get json(): boolean {
    return this.#json;
  }

  emit = (e: MaintenanceEvent): void => {
    if (this.#json) {
      if (e.type === "progress") {
        // At most five lines a second: a relay of a million objects must not flood a pipe.
        const now = Date.now();
        if (now - this.#lastProgress < 200 && e.done !== e.total) return;
        this.#lastProgress = now;
      }
      const { type, ...rest } = e;
      this.#line({ event: type, ...rest });
      return;
    }
    switch (e.type) {
      case "phase":
        this.#stopBar();
        if (this.#lib && e.total !== undefined) {
          this.#bar = new this.#lib.SingleBar({
            stream: process.stderr,
            format: `${e.phase} [{bar}] {value}/{total}`,
            barCompleteChar: "#",
            barIncompleteChar: "-",
            barsize: 30,
            clearOnComplete: true,
            hideCursor: false,
          });
          this.#bar.start(e.total, 0);
        }
        break;
      case "progress":
        if (e.total !== undefined) this.#bar?.setTotal(e.total);
        this.#bar?.update(e.done);
        break;
      case "note":
        this.#print(`escale: ${e.message}`, true);
        break;
    }
  };

  /** The final outcome: a JSON `result` event, or one summary line. */
  result(summary: string, details: Record<string, unknown>): void {
    this.#stopBar();
    if (this.#json) this.#line({ event: "result", summary, ...details });
    else this.#print(summary, false);
  }

  /** A failure: a JSON `error` event (the caller prints the one-line message on stderr). */
  error(message: string, exitCode: number): void {
    this.#stopBar();
    if (this.#json) this.#line({ event: "error", message, exitCode });
  }

  close(): void {
    this.#stopBar();
  }

  #stopBar(): void {
    this.#bar?.stop();
    this.#bar = null;
  }

  #print(line: string, toStderr: boolean): void {
    const out = toStderr ? Deno.stderr : Deno.stdout;
    if (this.#bar) process.stderr.write("\r\x1b[2K");
    writeAllSync(out, new TextEncoder().encode(redactSecrets(line, this.#secrets) + "\n"));
  }

  #line(o: Record<string, unknown>): void {
    const text = JSON.stringify({ ...o, time: new Date().toISOString() });
    writeAllSync(Deno.stdout, new TextEncoder().encode(redactSecrets(text, this.#secrets) + "\n"));
  }
}

/**
 * Keys named in a one-line summary: the first `max`, then how many more ("a, b … and 3 more"),
 * so that a relay with a million orphans still gets one readable line (`--json` has them all).
 */
export function someKeys(keys: readonly string[], max = 5): string {
  const shown = keys.slice(0, max).join(", ");
  return keys.length > max ? `${shown} … and ${keys.length - max} more` : shown;
}
