import type { Level, Logger } from "./logger.ts";

/**
 * Sends every line to several loggers (the console and the log file); each applies its own level
 * filter and format. Children fan out the same way.
 */
export class TeeLogger implements Logger {
  readonly loggers: readonly Logger[];

  constructor(...loggers: Logger[]) {
    this.loggers = loggers;
  }

  log(level: Level, message: string): void {
    for (const l of this.loggers) l.log(level, message);
  }

  child(prefix: string): Logger {
    return new TeeLogger(...this.loggers.map((l) => l.child(prefix)));
  }
}
