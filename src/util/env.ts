/**
 * The named environment variables that are set. escale may read only the variables its
 * permission set lists (src/cli/permissions.json), so code that hands "the environment" on
 * (to the configuration loader, for HOME and the AWS fallbacks) asks for those by name.
 */
export function readEnv(names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of names) {
    const v = Deno.env.get(n);
    if (v !== undefined) out[n] = v;
  }
  return out;
}

/** What loading a configuration reads from the environment (find_config, resolve_relay). */
export const CONFIG_ENV = [
  "HOME",
  "ESCALE_CONFIG",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_REGION",
  "AWS_DEFAULT_REGION",
] as const;
