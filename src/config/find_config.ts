import { resolve } from "node:path";
import { ConfigError } from "../errors/errors.ts";

/**
 * Which configuration file to use: `-c FILE`, then `$ESCALE_CONFIG`, then the first existing one
 * of `~/.config/escale/escale.conf`, `~/.escale/escale.conf`, `/etc/escale.conf` (Escale's order
 * in code). Looking never creates anything: Escale probed /etc/escale.conf by opening it for
 * appending, which left an empty file there when run as root.
 */

export interface FindConfigOptions {
  /** environment to read HOME and ESCALE_CONFIG from (tests pass their own) */
  env?: Record<string, string | undefined>;
  /** the system-wide file, /etc/escale.conf unless a test points elsewhere */
  systemFile?: string;
}

function envOf(opts: FindConfigOptions): Record<string, string | undefined> {
  return opts.env ?? { HOME: Deno.env.get("HOME"), ESCALE_CONFIG: Deno.env.get("ESCALE_CONFIG") };
}

/** The per-user candidates, in search order. */
export function userConfigCandidates(home: string): string[] {
  return [`${home}/.config/escale/escale.conf`, `${home}/.escale/escale.conf`];
}

/** Where `escale init` should create a configuration when none exists yet. */
export function defaultConfigPath(opts: FindConfigOptions = {}): string {
  const env = envOf(opts);
  if (env.ESCALE_CONFIG) return resolve(env.ESCALE_CONFIG);
  if (!env.HOME) throw new ConfigError("HOME is not set, so there is no default configuration");
  return userConfigCandidates(env.HOME)[0];
}

function kindOf(path: string): "file" | "other" | "missing" {
  try {
    return Deno.statSync(path).isFile ? "file" : "other";
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) {
      return "missing";
    }
    throw new ConfigError(`cannot look at ${path}: ${e instanceof Error ? e.message : e}`);
  }
}

function mustExist(path: string, from: string): string {
  const abs = resolve(path);
  const kind = kindOf(abs);
  if (kind === "missing") {
    throw new ConfigError(
      `configuration file ${abs} (from ${from}) does not exist; run \`escale init\` to create it`,
    );
  }
  if (kind === "other") throw new ConfigError(`configuration file ${abs} is not a regular file`);
  return abs;
}

export function findConfigFile(explicit?: string, opts: FindConfigOptions = {}): string {
  if (explicit !== undefined && explicit !== "") return mustExist(explicit, "-c");
  const env = envOf(opts);
  if (env.ESCALE_CONFIG) return mustExist(env.ESCALE_CONFIG, "$ESCALE_CONFIG");
  const candidates = [
    ...(env.HOME ? userConfigCandidates(env.HOME) : []),
    opts.systemFile ?? "/etc/escale.conf",
  ];
  for (const c of candidates) if (kindOf(c) === "file") return c;
  throw new ConfigError(
    `no configuration file found (looked for ${candidates.join(", ")}); ` +
      "run `escale init` to create one, or pass -c FILE",
  );
}
