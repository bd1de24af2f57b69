import { loadConfig } from "../config/load_config.ts";
import { findConfigFile } from "../config/find_config.ts";
import type { LoadedConfig, SectionSettings } from "../config/settings.ts";
import { describeError, EscaleError, ExitCode, exitCodeOf } from "../errors/errors.ts";
import type { RoundStats } from "../engine/context.ts";
import { RefreshSchedule } from "../engine/refresh_schedule.ts";
import type { Logger } from "../log/logger.ts";
import { openRepository } from "./open_repository.ts";
import type { Repository } from "../engine/repository.ts";

export interface RunOptions {
  config?: string;
  once?: boolean;
  repository?: string[];
  force?: boolean;
}

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

export function summarize(s: RoundStats): string {
  const parts: string[] = [];
  if (s.uploaded) {
    parts.push(
      `sent ${s.uploaded} file${s.uploaded > 1 ? "s" : ""} (${formatBytes(s.uploadedBytes)})`,
    );
  }
  if (s.published > s.uploaded) {
    parts.push(
      `published ${s.published - s.uploaded} deletion/rename${
        s.published - s.uploaded > 1 ? "s" : ""
      }`,
    );
  }
  if (s.downloaded) {
    parts.push(
      `received ${s.downloaded} file${s.downloaded > 1 ? "s" : ""} (${
        formatBytes(s.downloadedBytes)
      })`,
    );
  }
  if (s.deletedLocal) {
    parts.push(`deleted ${s.deletedLocal} local file${s.deletedLocal > 1 ? "s" : ""}`);
  }
  if (s.movedLocal) parts.push(`moved ${s.movedLocal} local file${s.movedLocal > 1 ? "s" : ""}`);
  if (s.conflicts) parts.push(`${s.conflicts} conflict${s.conflicts > 1 ? "s" : ""} resolved`);
  if (s.garbageCollected) {
    parts.push(
      `released ${s.garbageCollected} commit${s.garbageCollected > 1 ? "s" : ""} on the relay`,
    );
  }
  return parts.length ? parts.join(", ") : "up to date";
}

const active = (s: RoundStats) =>
  s.uploaded + s.downloaded + s.published + s.deletedLocal + s.movedLocal > 0;

/** `escale run`: every selected section, concurrently; one round each or forever. */
export async function runCommand(opts: RunOptions, log: Logger): Promise<number> {
  const cfg = await loadConfig(findConfigFile(opts.config), { sections: opts.repository });
  for (const w of cfg.warnings) log.log("warn", w);
  if (cfg.sections.length === 0) {
    throw new EscaleError("config", `${cfg.file}: no repository section to run`);
  }
  const stop = new AbortController();
  const onSignal = () => {
    if (stop.signal.aborted) Deno.exit(ExitCode.interrupted);
    log.log("info", "stopping after the current step (press Ctrl-C again to stop at once)");
    stop.abort();
  };
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  try {
    const codes = await Promise.all(
      cfg.sections.map((s) => runSection(cfg, s, opts, log.child(s.name), stop.signal)),
    );
    const failed = codes.filter((c) => c !== 0);
    if (failed.length === 0) {
      return stop.signal.aborted && opts.once ? ExitCode.interrupted : ExitCode.ok;
    }
    return failed.every((c) => c === failed[0]) ? failed[0] : ExitCode.failure;
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
  }
}

async function runSection(
  cfg: LoadedConfig,
  s: SectionSettings,
  opts: RunOptions,
  log: Logger,
  signal: AbortSignal,
): Promise<number> {
  let repo: Repository | null = null;
  const schedule = new RefreshSchedule(s.refreshSec);
  let failures = 0;
  try {
    while (!signal.aborted) {
      try {
        repo ??= (await openRepository(cfg, s, { force: opts.force }, log)).repo;
        const stats = await repo.round();
        log.log(active(stats) || opts.once ? "info" : "debug", summarize(stats));
        failures = 0;
        if (opts.once) return ExitCode.ok;
        await sleep(schedule.next(active(stats)) * 1000, signal);
      } catch (e) {
        log.log("error", describeError(e));
        if (!(e instanceof EscaleError)) log.log("debug", (e as Error).stack ?? String(e));
        if (opts.once) return exitCodeOf(e);
        // Configuration, key and safety problems do not heal by waiting.
        if (e instanceof EscaleError && ["config", "usage", "key", "safety"].includes(e.kind)) {
          return exitCodeOf(e);
        }
        repo?.close();
        repo = null;
        failures++;
        const wait = Math.min(s.refreshSec * 10, 5 * 2 ** Math.min(failures, 8));
        log.log("info", `retrying in ${wait} s`);
        await sleep(wait * 1000, signal);
      }
    }
    return ExitCode.ok;
  } finally {
    repo?.close();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}
