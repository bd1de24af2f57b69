import type { LoadedConfig, SectionSettings } from "../config/settings.ts";
import type { RoundStats } from "../engine/context.ts";
import type { RepoStatus } from "../engine/context.ts";
import { stateDir, statePath } from "./state_location.ts";

/**
 * The files through which `escale ctl` talks to a background `escale run`: a pid file for the
 * instance, and one status file per repository rewritten after every round. Both live in the
 * configuration's state folder (mode 0700) and are written atomically.
 */
export interface PidRecord {
  pid: number;
  started: string;
  config: string;
}

export interface SectionStatus {
  section: string;
  lastRound: string;
  ok: boolean;
  lastError?: string;
  lastErrorAt?: string;
  lastStats?: RoundStats;
  repo?: RepoStatus;
}

export function pidFile(cfg: LoadedConfig): string {
  return `${stateDir(cfg)}/escale.pid`;
}

export function statusFile(cfg: LoadedConfig, s: SectionSettings): string {
  return statePath(cfg, s).replace(/\.state\.db$/, ".status.json");
}

export function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  Deno.mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true, mode: 0o700 });
  Deno.writeTextFileSync(tmp, JSON.stringify(value, null, 2) + "\n", { mode: 0o600 });
  Deno.renameSync(tmp, path);
}

export function readJson<T>(path: string): T | null {
  try {
    return JSON.parse(Deno.readTextFileSync(path)) as T;
  } catch {
    return null;
  }
}

/**
 * Whether `pid` is a live escale process (not a recycled pid of something else). Asked of `ps`:
 * Deno lets a program read /proc/<pid> only with --allow-all.
 */
export function isEscale(pid: number): boolean {
  try {
    const out = new Deno.Command("ps", {
      args: ["-o", "stat=,args=", "-p", String(pid)],
      stderr: "null",
    })
      .outputSync();
    const line = new TextDecoder().decode(out.stdout).trim();
    return out.success && !line.startsWith("Z") && /escale|main\.ts/.test(line);
  } catch {
    // No ps: fall back to "some process has that pid".
    try {
      return new Deno.Command("kill", { args: ["-0", String(pid)], stderr: "null" }).outputSync()
        .success;
    } catch {
      return false;
    }
  }
}

/** The running instance of this configuration, cleaning a stale pid file on the way. */
export function runningInstance(cfg: LoadedConfig): PidRecord | null {
  const file = pidFile(cfg);
  const rec = readJson<PidRecord>(file);
  if (!rec) return null;
  if (isEscale(rec.pid)) return rec;
  try {
    Deno.removeSync(file);
  } catch { /* already gone */ }
  return null;
}
