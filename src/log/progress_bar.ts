// @ts-types="@types/cli-progress"
import type cliProgress from "cli-progress";
import process from "node:process";
import type { ProgressEvent, RoundStats } from "./round_events.ts";
import type { ProgressSink, RoundTotals } from "./progress_sink.ts";

/** The part of a Node stream cli-progress draws on. */
export type BarStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

export interface ProgressBarsOptions {
  /** where the bars are drawn; default the process's stderr */
  stream?: BarStream;
  /** default: true only when both stdout and stderr are terminals */
  enabled?: boolean;
  /** milliseconds clock for the speed and ETA */
  now?: () => number;
}

type CliProgress = typeof cliProgress;

/** Speed is measured over this recent window, so that it follows changes within seconds. */
const SPEED_WINDOW_MS = 5000;

function human(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
}

function clock(sec: number): string {
  if (!Number.isFinite(sec)) return "--:--";
  const s = Math.max(0, Math.round(sec));
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, "0");
  const ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/**
 * Terminal progress: one bar per repository that is transferring, with files done/total, bytes,
 * speed and ETA, drawn on stderr with cli-progress. When stdout or stderr is not a terminal it is
 * disabled (`enabled` is false) and prints nothing at all; the caller then logs plain lines.
 * While bars are drawn, console lines must go through `logLine`, which prints them above the
 * bars instead of through them. A bar appears with a round's first transfer (rounds with nothing
 * to move draw nothing) and disappears when the round ends.
 */
export class ProgressBars {
  readonly enabled: boolean;
  readonly #stream: BarStream;
  readonly #now: () => number;
  readonly #lib: CliProgress | null;
  #multi: cliProgress.MultiBar | null = null;
  #bars = 0;

  /**
   * cli-progress is loaded only when the bars are drawn: cron and scripts, which have no
   * terminal, do not pay its start-up time.
   */
  static async create(opts: ProgressBarsOptions = {}): Promise<ProgressBars> {
    const enabled = opts.enabled ?? (Deno.stdout.isTerminal() && Deno.stderr.isTerminal());
    const lib = enabled ? (await import("cli-progress")).default : null;
    return new ProgressBars({ ...opts, enabled }, lib);
  }

  private constructor(opts: ProgressBarsOptions, lib: CliProgress | null) {
    this.#stream = opts.stream ?? (process.stderr as unknown as BarStream);
    this.enabled = opts.enabled === true && lib !== null;
    this.#lib = lib;
    this.#now = opts.now ?? Date.now;
  }

  /** A sink for one repository; a no-op when the bars are disabled. */
  sink(): ProgressSink {
    return new RepoBar(this);
  }

  /** A console line (without its newline), printed above the bars while they are drawn. */
  logLine = (line: string): void => {
    if (this.#multi?.isActive) this.#multi.log(line + "\n");
    else this.#stream.write(line + "\n");
  };

  /** Flushes pending lines and removes every bar; call before the process exits. */
  stop(): void {
    if (!this.#multi) return;
    if (this.#multi.isActive) {
      this.#multi.update();
      this.#multi.stop();
    }
    this.#multi = null;
    this.#bars = 0;
  }

  /** @internal */
  now(): number {
    return this.#now();
  }

  /** @internal */
  addBar(payload: Record<string, string>): cliProgress.SingleBar {
    this.#multi ??= new this.#lib!.MultiBar({
      stream: this.#stream,
      format: "{repo} [{bar}] {percentage}% | {files} files | {amount} | {speed} | ETA {etaText}",
      barCompleteChar: "#",
      barIncompleteChar: "-",
      barsize: 30,
      clearOnComplete: true,
      hideCursor: false,
      fps: 10,
      // Log lines printed above the bars overwrite them; an unchanged bar must still be redrawn.
      forceRedraw: true,
    });
    this.#bars++;
    return this.#multi.create(0, 0, payload);
  }

  /** @internal */
  removeBar(bar: cliProgress.SingleBar): void {
    const multi = this.#multi;
    if (!multi) return;
    this.#bars--;
    if (this.#bars > 0) {
      multi.remove(bar);
      return;
    }
    multi.update();
    multi.stop();
    this.#multi = null;
  }
}

class RepoBar implements ProgressSink {
  #repo = "";
  #planned: RoundTotals = {};
  #bar: cliProgress.SingleBar | null = null;
  #filesStarted = 0;
  #filesDone = 0;
  #bytesStarted = 0;
  #bytes = 0;
  #samples: [number, number][] = [];

  constructor(readonly owner: ProgressBars) {}

  begin(repo: string, totals?: RoundTotals): void {
    this.#close();
    this.#repo = repo;
    this.#planned = totals ?? {};
    this.#filesStarted =
      this.#filesDone =
      this.#bytesStarted =
      this.#bytes =
        0;
    this.#samples = [];
  }

  event(e: ProgressEvent): void {
    if (!this.owner.enabled) return;
    switch (e.type) {
      case "file-start":
        this.#filesStarted++;
        this.#bytesStarted += e.size;
        break;
      case "file-done":
        this.#filesDone++;
        break;
      case "bytes":
        this.#bytes += e.bytes;
        break;
      default:
        return;
    }
    this.#draw();
  }

  end(_stats: RoundStats): void {
    this.#close();
  }

  fail(_message: string, _exitCode: number): void {
    this.#close();
  }

  #draw(): void {
    const now = this.owner.now();
    this.#samples.push([now, this.#bytes]);
    while (this.#samples.length > 2 && now - this.#samples[1][0] >= SPEED_WINDOW_MS) {
      this.#samples.shift();
    }
    const [t0, b0] = this.#samples[0];
    const speed = now > t0 ? ((this.#bytes - b0) * 1000) / (now - t0) : 0;
    const filesTotal = Math.max(this.#planned.files ?? 0, this.#filesStarted);
    const bytesTotal = Math.max(this.#planned.bytes ?? 0, this.#bytesStarted, this.#bytes);
    const left = bytesTotal - this.#bytes;
    const payload = {
      repo: this.#repo,
      files: `${this.#filesDone}/${filesTotal}`,
      amount: `${human(this.#bytes)}/${human(bytesTotal)}`,
      speed: `${human(Math.round(speed))}/s`,
      etaText: left <= 0 ? "00:00" : speed > 0 ? clock(left / speed) : "--:--",
    };
    this.#bar ??= this.owner.addBar(payload);
    this.#bar.setTotal(bytesTotal);
    this.#bar.update(this.#bytes, payload);
  }

  #close(): void {
    if (this.#bar) this.owner.removeBar(this.#bar);
    this.#bar = null;
  }
}
