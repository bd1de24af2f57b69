import type { ValueType } from "./value_types.ts";

/**
 * One configuration key: its spellings, its type, its default as a user would write it, and its
 * help line. The common options live in options.ts, each backend's own beside its descriptor in
 * src/config/backends/; the loader, `escale init` and docs/configuration.md all read them.
 */
export interface OptionSpec {
  /** canonical key, the one `escale init` writes */
  key: string;
  aliases: readonly string[];
  type: ValueType<unknown>;
  /** "global" options are read only before the first section; "section" ones may be set in
   * either place, a global value being inherited by every section */
  scope: "global" | "section";
  /** default as a user would write it; undefined = unset */
  default?: string;
  help: string;
  /** never shown in messages */
  secret?: boolean;
  /** accepted without effect: the warning given when set ("" = accepted silently) */
  unused?: string;
  /** `default` describes a value computed at run time (the host name), rather than being one */
  described?: boolean;
  /** how this machine reaches the relay (a program's path), not where the relay is: moving the
   * relay (`escale migrate`) keeps it */
  local?: boolean;
}

export type Extra = Partial<
  Pick<OptionSpec, "secret" | "unused" | "scope" | "described" | "local">
>;

export function o(
  key: string,
  aliases: readonly string[],
  type: ValueType<unknown>,
  dflt: string | undefined,
  help: string,
  extra: Extra = {},
): OptionSpec {
  return { key, aliases, type, scope: "section", default: dflt, help, ...extra };
}

export const GLOBAL: Extra = { scope: "global" };
export const NONE = undefined;
