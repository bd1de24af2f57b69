import { emptyStats, type RoundStats } from "../engine/context.ts";
import { localIoError, oneLine } from "../errors/errors.ts";
import { redactSecrets } from "../log/redact.ts";

/**
 * `run --summary FILE`: one JSON document about the run, for a pipeline to archive or read
 * (jq). Written when the run ends, whatever the outcome, through a temporary file and a rename,
 * so a reader never sees half of it. Fields:
 *
 * - `version` (1), `exitCode` (the process's), `started`, `ended` (ISO 8601 UTC), `seconds`
 * - `error` (one line), when the run stopped before any repository ran: a wrong flag, a refused
 *   configuration
 * - `repositories`: per repository `name`, `client`, `mode`, `exitCode`, `error` (one line, when
 *   it failed), `rounds` (completed), the sums over those rounds: `sent` / `received`
 *   ({files, bytes}), `deleted` and `moved` (local files), `conflicts`, `published` (files and
 *   deletions), `released` (own commits removed from the relay once delivered), `problems`
 *   (files not synchronised), and `wait` ({for, done, missing, message}) for a run that waited.
 */
export interface RepoSummary {
  name: string;
  client: string;
  mode: string;
  exitCode: number;
  error?: string;
  rounds: number;
  sent: { files: number; bytes: number };
  received: { files: number; bytes: number };
  deleted: number;
  moved: number;
  conflicts: number;
  published: number;
  released: number;
  problems: number;
  wait?: { for: string[]; done: boolean; missing: string[]; message: string };
}

export class RunSummary {
  readonly #started = new Date();
  readonly #repos = new Map<string, { base: RepoSummary; total: RoundStats }>();

  constructor(readonly secrets: readonly string[] = []) {}

  /** The summary entry of one repository, created on first use. */
  repo(name: string, client: string, mode: string): RepoTally {
    let r = this.#repos.get(name);
    if (!r) {
      r = {
        base: {
          name,
          client,
          mode,
          exitCode: 0,
          rounds: 0,
          sent: { files: 0, bytes: 0 },
          received: { files: 0, bytes: 0 },
          deleted: 0,
          moved: 0,
          conflicts: 0,
          published: 0,
          released: 0,
          problems: 0,
        },
        total: emptyStats(),
      };
      this.#repos.set(name, r);
    }
    const entry = r;
    const secrets = this.secrets;
    return {
      total: entry.total,
      round(s: RoundStats) {
        entry.base.rounds++;
        for (const k of Object.keys(s) as (keyof RoundStats)[]) entry.total[k] += s[k];
      },
      ended(code: number, error?: string) {
        entry.base.exitCode = code;
        if (error) entry.base.error = redactSecrets(error, secrets);
      },
      waited(w: RepoSummary["wait"]) {
        entry.base.wait = w && { ...w, message: redactSecrets(w.message, secrets) };
      },
    };
  }

  toJSON(exitCode: number, error?: string): Record<string, unknown> {
    const ended = new Date();
    return {
      version: 1,
      exitCode,
      ...(error ? { error: redactSecrets(oneLine(error), this.secrets) } : {}),
      started: this.#started.toISOString(),
      ended: ended.toISOString(),
      seconds: Math.round(ended.getTime() - this.#started.getTime()) / 1000,
      repositories: [...this.#repos.values()].map(({ base, total: t }) => ({
        ...base,
        sent: { files: t.uploaded, bytes: t.uploadedBytes },
        received: { files: t.downloaded, bytes: t.downloadedBytes },
        deleted: t.deletedLocal,
        moved: t.movedLocal,
        conflicts: t.conflicts,
        published: t.published,
        released: t.garbageCollected,
        problems: t.problems,
      })),
    };
  }

  /** Writes the summary to `path` (mode 0644: it holds no secret), atomically. */
  write(path: string, exitCode: number, error?: string): void {
    const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
    try {
      Deno.writeTextFileSync(tmp, JSON.stringify(this.toJSON(exitCode, error), null, 2) + "\n");
      Deno.renameSync(tmp, path);
    } catch (e) {
      try {
        Deno.removeSync(tmp);
      } catch { /* never written */ }
      throw localIoError(e, `cannot write the summary ${path}`);
    }
  }
}

export interface RepoTally {
  /** this run's rounds added up (read by --wait-for-changes) */
  readonly total: RoundStats;
  round(s: RoundStats): void;
  ended(code: number, error?: string): void;
  waited(w: RepoSummary["wait"]): void;
}

/**
 * The `--summary FILE` of a `run` command line, found without the parser, for when parsing
 * failed: the last `--summary FILE` or `--summary=FILE` before `--`, as commander takes it. A
 * value that looks like a flag is not taken as a file name.
 */
export function summaryPathOf(argv: readonly string[]): string | undefined {
  if (argv[0] !== "run") return undefined;
  let path: string | undefined;
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") break;
    if (a === "--summary") {
      const next = argv[++i];
      if (next !== undefined && !next.startsWith("-")) path = next;
    } else if (a.startsWith("--summary=")) path = a.slice("--summary=".length) || path;
  }
  return path;
}

/**
 * A parser message without the values of unknown options: `--passwd=hunter2` is shown as
 * `--passwd=…`, since a mistyped secret flag is still a secret.
 */
export function withoutOptionValues(message: string): string {
  return message.replace(/(unknown option '[^'=]*)=[^']*'/g, "$1=…'");
}

/**
 * `run` stopped on its command line (commander's error): the pipeline still gets the summary it
 * asked for, with the exit code and the parser's message. Never throws: the usage error matters
 * more than a summary that cannot be written.
 */
export function writeUsageSummary(argv: readonly string[], exitCode: number, message: string) {
  const path = summaryPathOf(argv);
  if (!path) return;
  try {
    new RunSummary().write(path, exitCode, withoutOptionValues(message.replace(/^error: /, "")));
  } catch { /* see above */ }
}
