/**
 * What maintenance operations report while they work. The command line turns these into a
 * progress bar on a terminal, `--json` lines for scripts, or nothing; the operations themselves
 * never print.
 */
export type MaintenanceEvent =
  /** a new phase starts; `total` objects (or bytes, with `unit`) are expected when known */
  | { type: "phase"; phase: string; total?: number; unit?: "objects" | "bytes" }
  /** progress within the current phase */
  | { type: "progress"; done: number; total?: number }
  /** something worth a line of its own (a repair made, a problem found) */
  | { type: "note"; message: string; key?: string };

export type Emit = (e: MaintenanceEvent) => void;

export const silent: Emit = () => {};
