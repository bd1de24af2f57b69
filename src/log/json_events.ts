import type { ProgressEvent, RoundStats } from "./round_events.ts";
import { oneLine } from "../errors/errors.ts";
import { writeAllSync } from "./log_format.ts";
import type { ProgressSink, RoundTotals, WaitProgress } from "./progress_sink.ts";
import { redactSecrets } from "./redact.ts";

export interface JsonEventOptions {
  /** milliseconds clock, for the rate limit and the timestamps */
  now?: () => number;
  /** minimum time between two `progress` events of one direction; default 200 ms */
  progressIntervalMs?: number;
  /** secrets hidden from error messages (see redactSecrets) */
  secrets?: readonly string[];
}

type Direction = "up" | "down";

interface Flow {
  filesStarted: number;
  bytesStarted: number;
  filesDone: number;
  bytesDone: number;
  transferred: number;
  lastProgress: number;
}

const newFlow = (): Flow => ({
  filesStarted: 0,
  bytesStarted: 0,
  filesDone: 0,
  bytesDone: 0,
  transferred: 0,
  lastProgress: -Infinity,
});

/**
 * `--json`: one JSON object per line for scripts, one writer per repository (several may share
 * one output: each line is written whole by one synchronous write sequence). Every object has
 * `event`, `time` (ISO 8601, UTC) and `repo`; the events and their other fields:
 *
 * - `round-start`: `round` (1, 2, … per repository), `planned` ({files, bytes}, when known)
 * - `file-start`: `direction` ("up" = sent to the relay, "down" = received), `path`, `size`
 * - `progress`: `direction`, `bytes` (moved in that direction since the round started),
 *   `bytesStarted` (total size of the files started in that direction), `filesStarted`,
 *   `filesDone`. At most one per direction every 200 ms. The engine sends small files in packs
 *   of many files, so progress is counted per direction, not per file.
 * - `file-done`: `direction`, `path`, `size`
 * - `deleted`: `path` (a local file removed because a peer deleted it)
 * - `moved`: `from`, `path` (a local file renamed because a peer renamed it)
 * - `conflict`: `path`, `copy` (where the other version was saved, or null), `kept`
 *   ("local" or "remote")
 * - `problem`: `path`, `reason` (a file that could not be written here; the round goes on and
 *   `escale ctl status` lists it until it is synchronised)
 * - `error`: `message` (one line), `exitCode`; the round then ends with `ok: false`
 * - `round-end`: `round`, `ok`, `seconds`, `totals` and, when ok, `stats`
 * - `waiting` (runs with --wait-delivered / --wait-for-changes, after each round): `for`
 *   (["delivery"] and/or ["changes"]), `done` (true on the last one, when what was waited for
 *   happened), `missing` (pullers that have not acknowledged everything), `message`, `elapsed`,
 *   and `left` (seconds until --timeout) and `next` (seconds to the next round) when they apply.
 *   A wait that times out ends with an `error` event whose `exitCode` is 10.
 *
 * `totals` are {filesUp, bytesUp, filesDown, bytesDown, deleted, moved, conflicts}, counted from
 * this round's own events: `filesUp` is the number of its `file-done` events with direction
 * "up", `bytesUp` the sum of their sizes, and so on, so a script's sums always match. `stats` is
 * the engine's RoundStats; its byte counters count bytes transferred, which can exceed the totals
 * (a file that changed while it was sent is sent again next round).
 *
 * A write that fails (the reader of a pipe went away) turns the writer off instead of stopping
 * the synchronisation.
 */
export class JsonEventWriter implements ProgressSink {
  readonly #out: { writeSync(p: Uint8Array): number };
  readonly #now: () => number;
  readonly #interval: number;
  readonly #secrets: readonly string[];
  readonly #enc = new TextEncoder();
  #broken = false;
  #repo = "";
  #round = 0;
  #open = false;
  #started = 0;
  #flows: Record<Direction, Flow> = { up: newFlow(), down: newFlow() };
  #deleted = 0;
  #moved = 0;
  #conflicts = 0;

  constructor(out: { writeSync(p: Uint8Array): number }, opts: JsonEventOptions = {}) {
    this.#out = out;
    this.#now = opts.now ?? Date.now;
    this.#interval = opts.progressIntervalMs ?? 200;
    this.#secrets = opts.secrets ?? [];
  }

  begin(repo: string, totals?: RoundTotals): void {
    this.#repo = repo;
    this.#round++;
    this.#open = true;
    this.#started = this.#now();
    this.#flows = { up: newFlow(), down: newFlow() };
    this.#deleted = this.#moved = this.#conflicts = 0;
    const planned: RoundTotals = {};
    if (totals?.files !== undefined) planned.files = totals.files;
    if (totals?.bytes !== undefined) planned.bytes = totals.bytes;
    this.#write("round-start", {
      round: this.#round,
      ...(Object.keys(planned).length ? { planned } : {}),
    });
  }

  event(e: ProgressEvent): void {
    switch (e.type) {
      case "file-start": {
        const f = this.#flows[e.direction];
        f.filesStarted++;
        f.bytesStarted += e.size;
        this.#write("file-start", { direction: e.direction, path: e.path, size: e.size });
        return;
      }
      case "bytes": {
        const f = this.#flows[e.direction];
        f.transferred += e.bytes;
        const t = this.#now();
        if (t - f.lastProgress < this.#interval) return;
        f.lastProgress = t;
        this.#write("progress", {
          direction: e.direction,
          bytes: f.transferred,
          bytesStarted: f.bytesStarted,
          filesStarted: f.filesStarted,
          filesDone: f.filesDone,
        });
        return;
      }
      case "file-done": {
        const f = this.#flows[e.direction];
        f.filesDone++;
        f.bytesDone += e.size;
        this.#write("file-done", { direction: e.direction, path: e.path, size: e.size });
        return;
      }
      case "deleted":
        this.#deleted++;
        this.#write("deleted", { path: e.path });
        return;
      case "moved":
        this.#moved++;
        this.#write("moved", { from: e.from, path: e.path });
        return;
      case "conflict":
        this.#conflicts++;
        this.#write("conflict", { path: e.path, copy: e.copy, kept: e.kept });
        return;
      case "problem":
        this.#write("problem", { path: e.path, reason: e.reason });
        return;
    }
  }

  end(stats: RoundStats): void {
    this.#finish(true, { stats: { ...stats } });
  }

  fail(message: string, exitCode: number): void {
    this.#write("error", { message: redactSecrets(oneLine(message), this.#secrets), exitCode });
    this.#finish(false, {});
  }

  waiting(w: WaitProgress): void {
    this.#write("waiting", {
      for: w.for,
      done: w.done,
      missing: w.missing,
      message: redactSecrets(oneLine(w.message), this.#secrets),
      elapsed: w.elapsedSec,
      ...(w.leftSec !== undefined ? { left: w.leftSec } : {}),
      ...(w.nextSec !== undefined ? { next: w.nextSec } : {}),
    });
  }

  #finish(ok: boolean, extra: Record<string, unknown>): void {
    if (!this.#open) return;
    this.#open = false;
    const { up, down } = this.#flows;
    this.#write("round-end", {
      round: this.#round,
      ok,
      seconds: Math.round(this.#now() - this.#started) / 1000,
      totals: {
        filesUp: up.filesDone,
        bytesUp: up.bytesDone,
        filesDown: down.filesDone,
        bytesDown: down.bytesDone,
        deleted: this.#deleted,
        moved: this.#moved,
        conflicts: this.#conflicts,
      },
      ...extra,
    });
  }

  #write(event: string, fields: Record<string, unknown>): void {
    if (this.#broken) return;
    const line = JSON.stringify({
      event,
      time: new Date(this.#now()).toISOString(),
      repo: this.#repo,
      ...fields,
    });
    try {
      writeAllSync(this.#out, this.#enc.encode(line + "\n"));
    } catch {
      this.#broken = true;
    }
  }
}
