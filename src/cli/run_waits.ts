import type { RepoStatus, RoundStats } from "../engine/context.ts";
import { EscaleError } from "../errors/errors.ts";
import type { WaitProgress } from "../log/progress_sink.ts";

/**
 * `run --wait-delivered` (a pusher waits until every expected puller acknowledged what it
 * published, so that its data has left the relay) and `--wait-for-changes` (a puller waits until
 * something new arrived and was applied): what a run waits for, whether it happened after a
 * round, and how a `--timeout` ends it (exit code 10, naming who is missing).
 */
export interface WaitOptions {
  delivered?: boolean;
  changes?: boolean;
  timeoutSec?: number;
}

export interface WaitCheck {
  done: boolean;
  missing: string[];
  message: string;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

export class RunWait {
  readonly #started: number;

  constructor(readonly opts: WaitOptions, readonly pullerCount?: number, now = Date.now()) {
    this.#started = now;
  }

  get active(): boolean {
    return Boolean(this.opts.delivered || this.opts.changes);
  }

  get what(): ("delivery" | "changes")[] {
    return [
      ...(this.opts.delivered ? ["delivery" as const] : []),
      ...(this.opts.changes ? ["changes" as const] : []),
    ];
  }

  /** After a round: `status` is the repository's, `total` adds up this run's rounds. */
  check(status: RepoStatus | null, total: RoundStats): WaitCheck {
    const parts: string[] = [];
    let missing: string[] = [];
    if (this.opts.delivered) {
      const d = delivery(status, this.pullerCount);
      missing = d.missing;
      if (d.message) parts.push(d.message);
    }
    if (this.opts.changes) {
      const arrived = total.commitsApplied + total.downloaded + total.deletedLocal +
          total.movedLocal > 0;
      if (!arrived) parts.push("nothing new has arrived yet");
    }
    if (parts.length === 0) {
      const done = [
        ...(this.opts.delivered ? ["every expected puller has everything this client sent"] : []),
        ...(this.opts.changes ? ["new changes arrived and were applied"] : []),
      ];
      return { done: true, missing: [], message: done.join("; ") };
    }
    return { done: false, missing, message: parts.join("; ") };
  }

  elapsedSec(now = Date.now()): number {
    return Math.round((now - this.#started) / 1000);
  }

  /** Milliseconds until --timeout (never negative), or undefined without one. */
  leftMs(now = Date.now()): number | undefined {
    if (this.opts.timeoutSec === undefined) return undefined;
    return Math.max(0, this.#started + this.opts.timeoutSec * 1000 - now);
  }

  progress(c: WaitCheck, nextSec?: number): WaitProgress {
    const left = this.leftMs();
    return {
      for: this.what,
      done: c.done,
      missing: c.missing,
      message: c.message,
      elapsedSec: this.elapsedSec(),
      ...(left !== undefined ? { leftSec: Math.round(left / 1000) } : {}),
      ...(nextSec !== undefined ? { nextSec } : {}),
    };
  }

  timedOut(c: WaitCheck): EscaleError {
    return new EscaleError(
      "timeout",
      `timed out after ${formatDuration(this.opts.timeoutSec ?? 0)}: ${c.message}`,
    );
  }
}

function delivery(
  status: RepoStatus | null,
  pullerCount?: number,
): { missing: string[]; message: string } {
  if (!status) return { missing: [], message: "no round completed yet" };
  const unsent = status.unsent > 0 ? `${plural(status.unsent, "change")} not published yet` : "";
  if (status.unreleased === 0) return { missing: [], message: unsent };
  const missing = status.waitingOn.map((w) => w.client);
  let who: string;
  if (missing.length > 0) {
    who = `not yet received by ${
      status.waitingOn.map((w) => `${w.client} (${plural(w.commits, "commit")})`).join(", ")
    }`;
  } else if (status.pullers.length === 0) {
    who = "no puller has registered on the relay yet";
  } else {
    // Everyone registered has it, but `puller count` asks for more pullers than that.
    who = `waiting for more pullers (puller count ${pullerCount ?? "?"}; registered: ${
      status.pullers.join(", ")
    })`;
  }
  return { missing, message: [unsent, who].filter((s) => s).join("; ") };
}

export function formatDuration(sec: number): string {
  const s = Math.round(sec);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
}
