import { createHash } from "node:crypto";
import { basename, dirname } from "node:path";
import type { LoadedConfig, SectionSettings } from "../config/settings.ts";
import { EscaleError, localIoError } from "../errors/errors.ts";
import { defaultLogFile } from "../log/log_location.ts";

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
  if (cfg.fileless) return filelessStateDir(cfg, section ?? cfg.sections[0]);
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

/**
 * A run without a configuration file (CI) keeps its state under `cache dir` (default
 * ~/.cache/escale) in a folder named after the local folder, so that the same command run again
 * finds its state, and two such repositories on one machine never share one.
 */
function filelessStateDir(cfg: LoadedConfig, s: SectionSettings | undefined): string {
  const base = s?.cacheDir ?? cfg.global.cacheDir ?? `${home()}/.cache/escale`;
  const local = s?.localPath ?? "";
  const tag = createHash("sha256").update(local).digest("hex").slice(0, 12);
  const name = basename(local).replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 40) || "root";
  return `${base}/cli-${name}-${tag}`;
}

/** The log file: `log file`, else beside the configuration, else (without one) in its state. */
export function logFileOf(cfg: LoadedConfig): string {
  if (cfg.global.logFile) return cfg.global.logFile;
  return cfg.fileless ? `${stateDir(cfg)}/escale.log` : defaultLogFile(cfg.file);
}

export function statePath(cfg: LoadedConfig, section: SectionSettings): string {
  const safe = section.name.replace(/[^A-Za-z0-9_.-]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
  return `${stateDir(cfg, section)}/${safe}.state.db`;
}

/** The lock that makes one process at a time use the section's state (src/state/state_lock.ts). */
export function lockPath(cfg: LoadedConfig, section: SectionSettings): string {
  return statePath(cfg, section).replace(/\.state\.db$/, ".lock");
}

/** Creates the state folder if needed and returns the path of the section's state database. */
export async function ensureStateDir(cfg: LoadedConfig, section: SectionSettings): Promise<string> {
  const dir = stateDir(cfg, section);
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw stateDirError(dir, e);
  }
  return statePath(cfg, section);
}

/**
 * mkdir names no culprit when a part of the path is a file: find it, so the user knows what to
 * move.
 */
function stateDirError(dir: string, e: unknown): EscaleError {
  for (let p = dir; p.length > 1; p = dirname(p)) {
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(p);
    } catch {
      continue;
    }
    if (info.isDirectory) break;
    return new EscaleError(
      "local-io",
      `cannot create the state folder ${dir}: ${p} is a file, not a folder (see 'cache dir')`,
      { cause: e },
    );
  }
  return localIoError(e, `cannot create the state folder ${dir}`);
}
