/**
 * A value that does not fit its option. Parsers throw it with a message that reads after the
 * option name ("must be > 0"); loadConfig turns it into a ConfigError at the option's file:line.
 * Kept apart from ConfigError so that parsers stay free of locations and can be unit-tested on
 * their own.
 */
export class ValueProblem extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ValueProblem";
  }
}

/** A value quoted for a message: one line, bounded, so a stray paste cannot flood the terminal. */
export function shown(raw: string): string {
  const flat = raw.replace(/\n/g, "\\n");
  return `'${flat.length > 60 ? flat.slice(0, 57) + "..." : flat}'`;
}
