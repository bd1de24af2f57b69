import type { ProgressEvent, RoundStats } from "./round_events.ts";

/** What is known before a round starts transferring; both fields are optional hints. */
export interface RoundTotals {
  files?: number;
  bytes?: number;
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
}
