import { loadConfig } from "../config/load_config.ts";
import { findConfigFile } from "../config/find_config.ts";
import type { SettingOverride } from "../config/setting_flags.ts";
import { modeRules } from "../engine/modes.ts";
import { isTransient } from "../errors/errors.ts";
import { type RepoTally, RunSummary } from "./run_summary.ts";
import { optionDefault } from "../config/options.ts";
import { formatDuration, RunWait, type WaitOptions } from "./run_waits.ts";
import { logFileOf } from "./state_location.ts";
import type { LoadedConfig, SectionSettings } from "../config/settings.ts";
import { describeError, EscaleError, ExitCode, exitCodeOf } from "../errors/errors.ts";
import { emptyStats, type RoundStats } from "../engine/context.ts";
import { RefreshSchedule } from "../engine/refresh_schedule.ts";
import type { Repository } from "../engine/repository.ts";
import type { LegacyRepository } from "../legacy/legacy_repository.ts";
import { ConsoleLogger } from "../log/console_logger.ts";
import { ErrorLog } from "../log/error_log.ts";
import { FailureReporter } from "../log/failure_reporter.ts";
import { JsonEventWriter } from "../log/json_events.ts";
import type { Level, Logger } from "../log/logger.ts";
import { Notifier } from "../log/notifier.ts";
import { ProgressBars } from "../log/progress_bar.ts";
import type { ProgressSink } from "../log/progress_sink.ts";
import { RedactingLogger, redactSecrets } from "../log/redact.ts";
import { RotatingLog } from "../log/rotating_log.ts";
import { TeeLogger } from "../log/tee_logger.ts";
import { stopChildren } from "../util/child_processes.ts";
import { rcloneRemoteSecrets } from "../relay/rclone/rclone_remote.ts";
import { openRepository } from "./open_repository.ts";
import { readJson, type SectionStatus, statusFile, writeJsonAtomic } from "./service_files.ts";

export interface RunOptions {
  config?: string;
  /** settings given as flags and environment variables (config/setting_flags.ts) */
  overrides?: SettingOverride[];
  once?: boolean;
  /** --wait-delivered, --wait-for-changes, --timeout */
  wait?: WaitOptions;
  /** --summary FILE */
  summary?: string;
  repository?: string[];
  force?: boolean;
  json?: boolean;
  level?: Level;
  /** written while this process runs (by `escale ctl start`), removed at exit */
  pidFile?: string;
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

const plural = (n: number, word: string) => `${n} ${word}${n > 1 ? "s" : ""}`;

export function summarize(s: RoundStats): string {
  const parts: string[] = [];
  if (s.uploaded) {
    parts.push(`sent ${plural(s.uploaded, "file")} (${formatBytes(s.uploadedBytes)})`);
  }
  if (s.published > s.uploaded) {
    parts.push(`published ${plural(s.published - s.uploaded, "deletion/rename")}`);
  }
  if (s.downloaded) {
    parts.push(`received ${plural(s.downloaded, "file")} (${formatBytes(s.downloadedBytes)})`);
  }
  if (s.deletedLocal) parts.push(`deleted ${plural(s.deletedLocal, "local file")}`);
  if (s.movedLocal) parts.push(`moved ${plural(s.movedLocal, "local file")}`);
  if (s.conflicts) parts.push(`${plural(s.conflicts, "conflict")} resolved`);
  if (s.garbageCollected) {
    parts.push(`released ${plural(s.garbageCollected, "commit")} on the relay`);
  }
  if (s.problems) {
    parts.push(`${plural(s.problems, "file")} not synchronised (see escale ctl status)`);
  }
  return parts.length ? parts.join(", ") : "up to date";
}

const active = (s: RoundStats) =>
  s.uploaded + s.downloaded + s.published + s.deletedLocal + s.movedLocal + s.problems > 0;

/** How long a run may take to unwind after SIGINT or SIGTERM before it is ended at once. */
const STOP_GRACE_MS = 5000;

/** Every secret of a configuration: what redaction must remove from any output. */
export function secretsOf(cfg: LoadedConfig): string[] {
  const out = new Set<string>();
  for (const s of cfg.sections) {
    const remote = s.relay.rcloneRemote ? rcloneRemoteSecrets(s.relay.rcloneRemote) : [];
    for (const v of [s.relay.password, s.relay.sessionToken, s.passphrase?.value, ...remote]) {
      if (v && v.length >= 3) out.add(v);
    }
  }
  return [...out];
}

/** What a run writes to: console (or progress bars), the log file, JSON events, error.log. */
interface Outputs {
  log: Logger;
  sink(section: string): ProgressSink | null;
  reporter: FailureReporter;
  secrets: string[];
  close(): void;
}

async function openOutputs(
  cfg: LoadedConfig,
  opts: RunOptions,
  console: Logger,
): Promise<Outputs> {
  const secrets = secretsOf(cfg);
  const logPath = logFileOf(cfg);
  let file: RotatingLog | null = null;
  try {
    file = RotatingLog.open({
      path: logPath,
      level: cfg.global.logLevel,
      rotate: cfg.global.logRotate,
    });
  } catch (e) {
    console.log("warn", `no log file: ${describeError(e)}`);
  }
  const bars = opts.json ? null : await ProgressBars.create();
  const consoleLog = bars?.enabled
    ? new ConsoleLogger(opts.level ?? "info", "escale", bars.logLine)
    : console;
  const log = new RedactingLogger(file ? new TeeLogger(consoleLog, file) : consoleLog, secrets);
  let errorLog: ErrorLog | null = null;
  try {
    errorLog = file ? ErrorLog.beside(logPath, { secrets }) : null;
  } catch { /* reported by the log file already */ }
  return {
    log,
    secrets,
    reporter: new FailureReporter(errorLog),
    sink: (section) =>
      opts.json
        ? new JsonEventWriter(Deno.stdout, { secrets })
        : bars?.enabled
        ? bars.sink()
        : (void section, null),
    close() {
      bars?.stop();
      file?.close();
    },
  };
}

/**
 * The configuration of a run: the file (`-c`, $ESCALE_CONFIG or the usual places) with the
 * flags and variables on top, or, when those name a local folder or a relay and no file was
 * asked for, the flags and variables alone.
 */
export async function loadRunConfig(opts: RunOptions): Promise<LoadedConfig> {
  const overrides = opts.overrides ?? [];
  const definesRepo = overrides.some((o) => o.key === "local path" || o.key === "host address");
  const askedForFile = Boolean(opts.config) || Boolean(Deno.env.get("ESCALE_CONFIG"));
  if (definesRepo && !askedForFile) {
    if ((opts.repository?.length ?? 0) > 1) {
      throw new EscaleError("usage", "without a configuration file, -r names the one repository");
    }
    return await loadConfig(null, { overrides, sectionName: opts.repository?.[0] });
  }
  return await loadConfig(findConfigFile(opts.config), { sections: opts.repository, overrides });
}

function checkWaitFlags(cfg: LoadedConfig, wait: WaitOptions | undefined): void {
  if (wait?.timeoutSec !== undefined && !wait.delivered && !wait.changes) {
    throw new EscaleError("usage", "--timeout needs --wait-delivered or --wait-for-changes");
  }
  for (const s of cfg.sections) {
    const rules = modeRules(s.mode, s.propagateDeletions);
    if (wait?.delivered && !rules.pushes) {
      throw new EscaleError(
        "usage",
        `--wait-delivered: [${s.name}] does not upload (mode ${s.mode}); use it on the pusher`,
      );
    }
    if (wait?.changes && !rules.pulls) {
      throw new EscaleError(
        "usage",
        `--wait-for-changes: [${s.name}] does not download (mode ${s.mode}); use it on a puller`,
      );
    }
  }
}

/** `escale run`: every selected section, concurrently; one round each or forever. */
export async function runCommand(opts: RunOptions, consoleLog: Logger): Promise<number> {
  // The pipeline still gets its summary when the run fails before any round.
  const failedEarly = (e: unknown) => {
    try {
      if (opts.summary) new RunSummary().write(opts.summary, exitCodeOf(e), describeError(e));
    } catch { /* the error that stopped the run matters more */ }
    return e;
  };
  let cfg: LoadedConfig;
  try {
    cfg = await loadRunConfig(opts);
    checkWaitFlags(cfg, opts.wait);
  } catch (e) {
    throw failedEarly(e);
  }
  const out = await openOutputs(cfg, opts, consoleLog);
  const tally = opts.summary ? new RunSummary(out.secrets) : null;
  const log = out.log;
  for (const w of cfg.warnings) log.log("warn", w);
  if (cfg.sections.length === 0) {
    out.close();
    throw failedEarly(new EscaleError("config", `${cfg.file}: no repository section to run`));
  }
  // A signal interrupts every relay operation at once (InterruptibleRelay), so the run unwinds
  // through its own cleanup and ends with 130. What does not listen (a hash of a big file, a
  // hook, an open(2) blocked on a FIFO) gets STOP_GRACE_MS, then the process ends anyway: the
  // relay and the state survive that like a crash. A second signal ends it at once.
  const stop = new AbortController();
  let grace: ReturnType<typeof setTimeout> | undefined;
  let ending = false;
  const removePidFile = () => {
    // Only our own pid file: a newer instance may have replaced it meanwhile.
    if (opts.pidFile && readJson<{ pid: number }>(opts.pidFile)?.pid === Deno.pid) {
      try {
        Deno.removeSync(opts.pidFile);
      } catch { /* already gone */ }
    }
  };
  const writeSummary = (code: number) => {
    if (!tally || !opts.summary) return;
    try {
      tally.write(opts.summary, code);
    } catch (e) {
      log.log("error", describeError(e));
    }
  };
  const endNow = async () => {
    if (ending) return;
    ending = true;
    await stopChildren(1000);
    removePidFile();
    writeSummary(ExitCode.interrupted);
    out.close();
    Deno.exit(ExitCode.interrupted);
  };
  const onSignal = () => {
    if (stop.signal.aborted) {
      log.log("info", "stopping at once");
      return void endNow();
    }
    log.log("info", "stopping (press Ctrl-C again to stop at once)");
    stop.abort();
    grace = setTimeout(() => {
      log.log("warn", `still busy ${STOP_GRACE_MS / 1000} s after the signal; stopping at once`);
      void endNow();
    }, STOP_GRACE_MS);
  };
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  if (opts.pidFile) {
    writeJsonAtomic(opts.pidFile, {
      pid: Deno.pid,
      started: new Date().toISOString(),
      config: cfg.file,
    });
  }
  let code: number = ExitCode.failure;
  try {
    const codes = await Promise.all(
      cfg.sections.map((s) =>
        runSection(
          cfg,
          s,
          opts,
          log.child(s.name),
          out,
          stop.signal,
          tally?.repo(s.name, s.clientName, s.mode),
        )
      ),
    );
    const failed = codes.filter((c) => c !== 0);
    if (failed.length === 0) {
      code = stop.signal.aborted && finiteRun(opts) ? ExitCode.interrupted : ExitCode.ok;
    } else code = failed.every((c) => c === failed[0]) ? failed[0] : ExitCode.failure;
    return code;
  } finally {
    writeSummary(code);
    // Every relay is closed by now; anything still running (a hook cut short) goes too.
    await stopChildren();
    clearTimeout(grace);
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
    removePidFile();
    out.close();
  }
}

/** A run that ends by itself: --once, a wait, or `refresh = no` in every section. */
function finiteRun(opts: RunOptions): boolean {
  return Boolean(opts.once || opts.wait?.delivered || opts.wait?.changes);
}

async function runSection(
  cfg: LoadedConfig,
  s: SectionSettings,
  opts: RunOptions,
  log: Logger,
  out: Outputs,
  signal: AbortSignal,
  tally?: RepoTally,
): Promise<number> {
  const code = await runSectionRounds(cfg, s, opts, log, out, signal, tally);
  tally?.ended(code);
  return code;
}

async function runSectionRounds(
  cfg: LoadedConfig,
  s: SectionSettings,
  opts: RunOptions,
  log: Logger,
  out: Outputs,
  signal: AbortSignal,
  tally?: RepoTally,
): Promise<number> {
  let repo: Repository | LegacyRepository | null = null;
  const schedule = new RefreshSchedule(s.refreshSec);
  const wait = new RunWait(opts.wait ?? {}, s.pullerCount);
  const once = (opts.once || s.oneRound) && !wait.active;
  const total = tally?.total ?? emptyStats();
  let rounds = 0;
  const notifier = new Notifier({
    maintainer: s.maintainer,
    smtpHost: (s.options["smtp host"] as string | undefined) ?? optionDefault("smtp host"),
    smtpPort: (s.options["smtp port"] as number | undefined) ?? optionDefault("smtp port"),
    onFailure: s.options["on failure"] as string | undefined,
    secrets: out.secrets,
    log,
  });
  let failures = 0;
  // One sink for all the rounds of this repository: its events number the rounds 1, 2, …
  const sink = out.sink(s.name);
  try {
    while (!signal.aborted) {
      try {
        sink?.begin(s.name);
        repo ??= (await openRepository(cfg, s, { force: opts.force, signal }, log)).repo;
        repo.emit = (e) => sink?.event(e);
        const stats = await repo.round();
        sink?.end(stats);
        rounds++;
        if (tally) tally.round(stats);
        else for (const k of Object.keys(stats) as (keyof RoundStats)[]) total[k] += stats[k];
        saveStatus(cfg, s, { ok: true, lastStats: stats, repo: repo.status ?? undefined });
        // While waiting, the "waiting: …" line is the news; an idle round says nothing more.
        const news = active(stats) || once || (wait.active && rounds === 1);
        log.log(news ? "info" : "debug", summarize(stats));
        out.reporter.succeeded(s.name);
        failures = 0;
        if (once) return ExitCode.ok;
        let pause = schedule.next(active(stats));
        if (wait.active) {
          const c = wait.check(repo.status, total);
          tally?.waited({ for: wait.what, done: c.done, missing: c.missing, message: c.message });
          if (c.done) {
            sink?.waiting?.(wait.progress(c));
            log.log("info", c.message);
            return ExitCode.ok;
          }
          const left = wait.leftMs();
          if (left === 0) {
            const err = wait.timedOut(c);
            sink?.waiting?.(wait.progress(c));
            throw err;
          }
          if (left !== undefined) pause = Math.min(pause, Math.ceil(left / 1000));
          sink?.waiting?.(wait.progress(c, pause));
          log.log(
            "info",
            `waiting: ${c.message}; next check in ${formatDuration(pause)}` +
              (left !== undefined ? ` (${formatDuration(left / 1000)} left)` : ""),
          );
        }
        await sleep(pause * 1000, signal);
      } catch (e) {
        if (signal.aborted) {
          // Stopped by a signal: not a failure to record, retry or tell anyone about.
          sink?.fail("interrupted", ExitCode.interrupted);
          log.log("info", "interrupted");
          return ExitCode.interrupted;
        }
        const message = describeError(e);
        const code = exitCodeOf(e);
        sink?.fail(message, code);
        saveStatus(cfg, s, {
          ok: false,
          lastError: redactSecrets(message, out.secrets),
          lastErrorAt: new Date().toISOString(),
        });
        log.log("error", message);
        if (!(e instanceof EscaleError)) log.log("debug", (e as Error).stack ?? String(e));
        // Configuration, key and safety problems do not heal by waiting; a run that waits for
        // its peers rides out network trouble until its --timeout.
        const left = wait.leftMs();
        const final = once || (wait.active && (!isTransient(e) || left === 0)) ||
          (e instanceof EscaleError &&
            ["config", "usage", "key", "safety", "timeout", "moved"].includes(e.kind));
        await repo?.close();
        repo = null;
        failures++;
        let backoff = Math.min(s.refreshSec * 10, 5 * 2 ** Math.min(failures, 8));
        if (left !== undefined) backoff = Math.max(1, Math.min(backoff, Math.ceil(left / 1000)));
        await out.reporter.failed(
          {
            section: s.name,
            message,
            exitCode: code,
            detail: final ? undefined : `retrying in ${backoff} s`,
          },
          notifier,
        );
        if (final) {
          tally?.ended(code, message);
          return code;
        }
        log.log("info", `retrying in ${backoff} s`);
        await sleep(backoff * 1000, signal);
      }
    }
    return ExitCode.ok;
  } finally {
    await repo?.close();
  }
}

/** Rewrites the section's status file; a failed round keeps the figures of the last good one. */
function saveStatus(cfg: LoadedConfig, s: SectionSettings, update: Partial<SectionStatus>): void {
  const file = statusFile(cfg, s);
  const prev = readJson<SectionStatus>(file);
  try {
    writeJsonAtomic(file, {
      ...prev,
      ...(update.ok ? { lastError: undefined, lastErrorAt: undefined } : {}),
      ...update,
      section: s.name,
      lastRound: new Date().toISOString(),
    });
  } catch { /* status is informative only */ }
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
