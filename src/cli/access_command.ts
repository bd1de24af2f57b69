import type { SectionSettings } from "../config/settings.ts";
import { EscaleError } from "../errors/errors.ts";
import { loadOneSection } from "./load_one_section.ts";
import { StateDb } from "../state/state_db.ts";
import { StateLock } from "../state/state_lock.ts";
import { ensureStateDir, lockPath } from "./state_location.ts";

/**
 * Parses access modifiers as Escale writes them: `r` and/or `w`, each optionally followed by
 * `+`, `-` or `?`; a bare letter means `+`. Unlike Escale, `rw-` reads as r+ w- (a letter right
 * after a letter is bare).
 */
export function parseModifiers(mods: string): { r?: string; w?: string } {
  const out: { r?: string; w?: string } = {};
  const m = mods.trim();
  if (!/^([rw][+\-?]?)+$/.test(m)) {
    throw new EscaleError(
      "usage",
      `invalid access modifiers ${
        JSON.stringify(mods)
      }: use r and/or w, each followed by +, - or ?`,
    );
  }
  for (const [, letter, mod] of m.matchAll(/([rw])([+\-?]?)/g)) {
    out[letter as "r" | "w"] = mod || "+";
  }
  return out;
}

/** The repository-relative path of FILE (absolute, relative to the cwd, or already relative). */
export function resourcePath(section: SectionSettings, file: string): string {
  const root = section.localPath.replace(/\/+$/, "");
  let abs = file.startsWith("/") ? file : `${Deno.cwd()}/${file}`;
  abs = abs.split("/").reduce<string[]>((acc, seg) => {
    if (seg === "..") acc.pop();
    else if (seg !== "." && seg !== "") acc.push(seg);
    return acc;
  }, []).join("/");
  abs = "/" + abs;
  if (abs.startsWith(root + "/")) return abs.slice(root.length + 1);
  if (!file.startsWith("/") && !file.startsWith("./") && !file.startsWith("../")) return file;
  throw new EscaleError("usage", `${file} is not inside the repository ${root}`);
}

export async function accessCommand(
  opts: { config?: string; repository?: string },
  file: string,
  mods: string | undefined,
  print: (line: string) => void,
): Promise<void> {
  const { cfg, section } = await loadOneSection(opts);
  const rel = resourcePath(section, file);
  const m = mods === undefined ? null : parseModifiers(mods);
  const statePath = await ensureStateDir(cfg, section);
  // Changing modifiers needs the repository to itself: a running instance caches them and would
  // not see the change. Only reading them does not.
  const lock = m === null ? null : StateLock.acquire(lockPath(cfg, section), section.name);
  try {
    const state = StateDb.open(statePath);
    try {
      const cur = state.getAccess(rel);
      if (m) state.setAccess(rel, m.r ?? cur.r, m.w ?? cur.w);
      const now = state.getAccess(rel);
      print(`${rel}: r${now.r}w${now.w}`);
    } finally {
      state.close();
    }
  } finally {
    lock?.release();
  }
}
