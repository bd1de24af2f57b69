import { findConfigFile } from "../config/find_config.ts";
import { loadConfig } from "../config/load_config.ts";
import type { LoadedConfig, SectionSettings } from "../config/settings.ts";
import { EscaleError } from "../errors/errors.ts";

/** The configuration and its one section, for commands about a single repository (`-r`). */
export async function loadOneSection(
  opts: { config?: string; repository?: string },
): Promise<{ cfg: LoadedConfig; section: SectionSettings }> {
  // Only migrate takes -c twice (its destination); it splits the pair before coming here.
  if (opts.config?.includes("\0")) throw new EscaleError("usage", "-c is given more than once");
  const cfg = await loadConfig(findConfigFile(opts.config), {
    sections: opts.repository ? [opts.repository] : undefined,
  });
  if (cfg.sections.length !== 1) {
    throw new EscaleError(
      "usage",
      `the configuration has ${cfg.sections.length} repositories (${
        cfg.sections.map((s) => s.name).join(", ")
      }); choose one with -r`,
    );
  }
  return { cfg, section: cfg.sections[0] };
}
