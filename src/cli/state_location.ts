import type { LoadedConfig, SectionSettings } from "../config/settings.ts";

function home(): string {
  return Deno.env.get("HOME") ?? "/root";
}

/**
 * Where a configuration keeps its local state, after Escale's layout: next to a configuration in
 * ~/.config/escale → ~/.cache/escale/<stem>/; in ~/.escale → ~/.escale/cache/<stem>/; in /etc →
 * /var/cache/escale/<stem>/; anywhere else → <config dir>/.escale/<stem>/ (Escale used <config dir>/<stem>/,
 * which is often the synchronised folder itself). `cache dir` overrides the base.
 */
export function stateDir(cfg: LoadedConfig, section?: SectionSettings): string {
  const file = cfg.file;
  const dir = file.slice(0, file.lastIndexOf("/")) || "/";
  const base = file.slice(file.lastIndexOf("/") + 1);
  const stem = base.includes(".") ? base.slice(0, base.lastIndexOf(".")) : base;
  const override = section?.cacheDir ?? cfg.global.cacheDir;
  if (override) return `${override}/${stem}`;
  const h = home();
  if (dir === `${h}/.config/escale`) return `${h}/.cache/escale/${stem}`;
  if (dir === `${h}/.escale`) return `${h}/.escale/cache/${stem}`;
  if (dir === "/etc") return `/var/cache/escale/${stem}`;
  return `${dir}/.escale/${stem}`;
}

export function statePath(cfg: LoadedConfig, section: SectionSettings): string {
  const safe = section.name.replace(/[^A-Za-z0-9_.-]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
  return `${stateDir(cfg, section)}/${safe}.state.db`;
}

export async function ensureStateDir(cfg: LoadedConfig, section: SectionSettings): Promise<string> {
  const dir = stateDir(cfg, section);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  return statePath(cfg, section);
}
