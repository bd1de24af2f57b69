/**
 * The logging interface the engine writes to. The CLI provides the implementation (console,
 * rotating file, JSON events); tests use `collectingLogger`.
 */
export type Level = "debug" | "info" | "warn" | "error";

export interface Logger {
  log(level: Level, message: string): void;
  child(prefix: string): Logger;
}

export const LEVELS: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function collectingLogger(lines: string[] = [], prefix = ""): Logger & { lines: string[] } {
  return {
    lines,
    log(level, message) {
      lines.push(`${level.toUpperCase()} ${prefix}${message}`);
    },
    child(p) {
      return collectingLogger(lines, `${prefix}${p}: `);
    },
  };
}
