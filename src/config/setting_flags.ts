import { OPTIONS, type OptionSpec } from "./options.ts";
import { bool } from "./value_types.ts";

/**
 * Every option of a configuration as a command-line flag and an environment variable, for runs
 * without a configuration file (CI) and for overriding one. The names derive from the option
 * table, so a new option gets its flag and variable with its table line. The values are handed
 * to loadConfig as settings (see SettingOverride), which parses and checks them exactly as it
 * does the lines of a file: there is one loader.
 *
 * Secrets never come from a flag (process arguments are visible to every local user): a secret
 * option has a `--NAME-file FILE` flag, and the variables `ESCALE_NAME` (the secret itself) and
 * `ESCALE_NAME_FILE`.
 */

export interface SettingFlag {
  spec: OptionSpec;
  /** the long flag without its dashes, e.g. "client-name", or "passphrase-file" for a secret */
  flag: string;
  /** the variable holding the value (for a secret: the secret itself) */
  env: string;
  /** a secret's `_FILE` variable */
  envFile?: string;
  /** yes/no options: the bare flag means yes */
  boolean: boolean;
}

/** A flag or variable turned into a configuration setting. */
export interface SettingOverride {
  /** canonical option key, as in the table */
  key: string;
  value: string;
  /** where it came from, for messages: "--mode" or "ESCALE_MODE" */
  source: string;
  /** `--X-file` / `ESCALE_X_FILE`: the value is a path that must name a file */
  isFile?: boolean;
}

/** Shorter names where the option's own would read badly as a flag or clash with another. */
const RENAMED: Readonly<Record<string, string>> = {
  "host address": "relay",
  "local path": "local",
  // `--timeout` is how long --wait-delivered and --wait-for-changes wait.
  "timeout": "relay-timeout",
};

/** Escale's options that do nothing in escale get no flag. */
export const SETTING_FLAGS: readonly SettingFlag[] = OPTIONS.filter((o) => !o.unused).map(
  (spec) => {
    const name = RENAMED[spec.key] ?? spec.key.replace(/ /g, "-");
    const env = `ESCALE_${name.replace(/-/g, "_").toUpperCase()}`;
    return spec.secret
      ? { spec, flag: `${name}-file`, env, envFile: `${env}_FILE`, boolean: false }
      : { spec, flag: name, env, boolean: spec.type === bool };
  },
);

/** Variables escale reads for itself, which no option may take. */
export const RESERVED_ENV = ["ESCALE_CONFIG", "ESCALE_DEBUG", "ESCALE_FAULTS"];

/**
 * The overrides given by flags (parsed by commander: string, or true for a bare boolean flag)
 * and by the environment; a flag beats its variable.
 */
export function collectOverrides(
  flagValue: (f: SettingFlag) => string | boolean | undefined,
  envOf: (name: string) => string | undefined,
): SettingOverride[] {
  const out: SettingOverride[] = [];
  for (const f of SETTING_FLAGS) {
    const given = flagValue(f);
    if (given !== undefined) {
      out.push({
        key: f.spec.key,
        value: given === true ? "yes" : String(given),
        source: `--${f.flag}`,
        isFile: f.spec.secret,
      });
      continue;
    }
    const v = envOf(f.env);
    if (v !== undefined && v !== "") {
      out.push({ key: f.spec.key, value: v, source: f.env });
      continue;
    }
    const file = f.envFile ? envOf(f.envFile) : undefined;
    if (f.envFile && file !== undefined && file !== "") {
      out.push({ key: f.spec.key, value: file, source: f.envFile, isFile: true });
    }
  }
  return out;
}

/** Every variable collectOverrides may read (the permission set lists them). */
export function settingEnvNames(): string[] {
  return SETTING_FLAGS.flatMap((f) => (f.envFile ? [f.env, f.envFile] : [f.env]));
}
