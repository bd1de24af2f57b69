import type { ProgressEvent, RoundStats } from "./round_events.ts";

/** What is known before a round starts transferring; both fields are optional hints. */
export interface RoundTotals {
  files?: number;
  bytes?: number;
}

/** One check of `--wait-delivered` / `--wait-for-changes` (see cli/run_waits.ts). */
export interface WaitProgress {
  /** "delivery": own changes acknowledged by every expected puller; "changes": something arrived */
  for: ("delivery" | "changes")[];
  /** true once the wait is over because what it waited for happened */
  done: boolean;
  /** pullers that have not acknowledged everything yet (delivery) */
  missing: string[];
  /** the reason in words, as the log says it */
  message: string;
  elapsedSec: number;
  /** seconds until --timeout, when one is set */
  leftSec?: number;
  /** seconds until the next round, while waiting */
  nextSec?: number;
}

/**
 * Receives the progress of one repository's rounds: `begin` before each round, every
 * ProgressEvent the engine emits (`repo.emit = (e) => sink.event(e)`), then exactly one of `end`
 * (the round completed) or `fail` (it stopped on an error). One sink per repository: events
 * carry no repository name. A sink never throws.
 */
export interface ProgressSink {
  begin(repo: string, totals?: RoundTotals): void;
  event(e: ProgressEvent): void;
  end(stats: RoundStats): void;
  fail(message: string, exitCode: number): void;
  /** after a round of a run that waits: still waiting, or done (optional: bars use the log) */
  waiting?(w: WaitProgress): void;
}
