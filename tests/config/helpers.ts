import { loadConfig, type LoadConfigOptions } from "../../src/config/load_config.ts";
import type { LoadedConfig } from "../../src/config/settings.ts";

/** A scratch folder with `local/` and `relay/` folders and a config writer, removed afterwards. */
export interface Scratch {
  dir: string;
  local: string;
  relay: string;
  /** writes `name` (default escale.conf) with mode 0600 and returns its path */
  write(text: string, name?: string, mode?: number): Promise<string>;
  /** writes then loads, with HOME = dir, host name "testhost" and no AWS variables */
  load(text: string, opts?: LoadConfigOptions): Promise<LoadedConfig>;
}

export async function withScratch(fn: (s: Scratch) => Promise<void>): Promise<void> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "escale-config-" }));
  const local = `${dir}/local`;
  const relay = `${dir}/relay`;
  await Deno.mkdir(local);
  await Deno.mkdir(relay);
  const write = async (text: string, name = "escale.conf", mode = 0o600) => {
    const path = `${dir}/${name}`;
    await Deno.writeTextFile(path, text);
    await Deno.chmod(path, mode);
    return path;
  };
  const s: Scratch = {
    dir,
    local,
    relay,
    write,
    load: async (text, opts = {}) =>
      loadConfig(await write(text), { env: { HOME: dir }, hostname: "testhost", ...opts }),
  };
  try {
    await fn(s);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A config text from lines, so that tests can name line numbers by position. */
export function lines(...ls: string[]): string {
  return ls.join("\n") + "\n";
}
