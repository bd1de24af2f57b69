import { emptyStats, type RoundStats } from "../engine/context.ts";
import { localIoError } from "../errors/errors.ts";
import { redactSecrets } from "../log/redact.ts";

/**
 * `run --summary FILE`: one JSON document about the run, for a pipeline to archive or read
 * (jq). Written when the run ends, whatever the outcome, through a temporary file and a rename,
 * so a reader never sees half of it. Fields:
 *
 * - `version` (1), `exitCode` (the process's), `started`, `ended` (ISO 8601 UTC), `seconds`
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

  toJSON(exitCode: number): Record<string, unknown> {
    const ended = new Date();
    return {
      version: 1,
      exitCode,
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
  write(path: string, exitCode: number): void {
    const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
    try {
      Deno.writeTextFileSync(tmp, JSON.stringify(this.toJSON(exitCode), null, 2) + "\n");
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
