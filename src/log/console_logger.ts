import { type Level, LEVELS, type Logger } from "./logger.ts";

/** Plain lines on stderr, for people and for cron mail: `escale[section]: message`. */
export class ConsoleLogger implements Logger {
  constructor(
    readonly minLevel: Level = "info",
    readonly prefix = "escale",
    readonly sink = (line: string) => console.error(line),
  ) {}

  log(level: Level, message: string): void {
    if (LEVELS[level] < LEVELS[this.minLevel]) return;
    const tag = level === "warn" ? "warning: " : level === "error" ? "error: " : "";
    this.sink(`${this.prefix}: ${tag}${message}`);
  }

  child(name: string): Logger {
    return new ConsoleLogger(this.minLevel, `${this.prefix}[${name}]`, this.sink);
  }
}
