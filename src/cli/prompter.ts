import { EscaleError } from "../errors/errors.ts";

/**
 * The questions `escale init` asks, behind a small interface so that the wizard's logic does not
 * depend on how a terminal is driven. The one implementation talks to @clack/prompts, loaded only
 * when a wizard actually runs: the library reads environment variables as soon as it is imported,
 * which other commands have no reason to pay for or be allowed to do.
 */

export interface Choice<T extends string> {
  value: T;
  label: string;
  hint?: string;
}

/** Returns a one-line problem to show under the answer, or undefined to accept it. */
export type Check = (answer: string) => string | undefined;

export interface Prompter {
  intro(title: string): void;
  /** a line of information between questions */
  info(message: string): void;
  warn(message: string): void;
  /** a framed block, for the summary before writing */
  note(message: string, title: string): void;
  outro(message: string): void;
  /** free text; an empty answer means `defaultValue` when one is given */
  text(q: { message: string; defaultValue?: string; check?: Check }): Promise<string>;
  /** hidden input */
  password(q: { message: string; check?: Check }): Promise<string>;
  select<T extends string>(q: { message: string; options: Choice<T>[]; initial?: T }): Promise<T>;
  confirm(q: { message: string; initial?: boolean }): Promise<boolean>;
}

/** What a cancelled prompt (Ctrl-C, Escape) becomes: exit 130, and the caller undoes its work. */
export function cancelled(): EscaleError {
  return new EscaleError("interrupted", "setup cancelled; nothing was written");
}

/** A prompter on the process's terminal. Call only when `Deno.stdin.isTerminal()` is true. */
export async function terminalPrompter(): Promise<Prompter> {
  const p = await import("@clack/prompts");
  const answer = <T>(v: T): Exclude<T, symbol> => {
    if (p.isCancel(v) || typeof v === "symbol") throw cancelled();
    return v as Exclude<T, symbol>;
  };
  return {
    intro: (title) => p.intro(title),
    info: (message) => p.log.info(message),
    warn: (message) => p.log.warn(message),
    note: (message, title) => p.note(message, title),
    outro: (message) => p.outro(message),
    async text(q) {
      const value = answer(
        await p.text({
          message: q.message,
          placeholder: q.defaultValue === "" ? undefined : q.defaultValue,
          defaultValue: q.defaultValue,
          validate: (v) => q.check?.((v ?? "") === "" ? q.defaultValue ?? "" : v ?? ""),
        }),
      );
      return value === "" ? q.defaultValue ?? "" : value;
    },
    async password(q) {
      return answer(
        await p.password({ message: q.message, validate: (v) => q.check?.(v ?? "") }),
      );
    },
    async select<T extends string>(
      q: { message: string; options: Choice<T>[]; initial?: T },
    ): Promise<T> {
      // clack's option type is conditional on T; the shape is the same for string values.
      const options = q.options.map((o) => ({ value: o.value, label: o.label, hint: o.hint }));
      return answer(
        await p.select<T>({
          message: q.message,
          options: options as Parameters<typeof p.select<T>>[0]["options"],
          initialValue: q.initial,
        }),
      );
    },
    async confirm(q) {
      return answer(await p.confirm({ message: q.message, initialValue: q.initial ?? true }));
    },
  };
}
