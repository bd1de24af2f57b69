import type { Hasher } from "./hasher.ts";
import type { ClientRecord, Commit } from "../protocol/format.ts";
import type { CommitRef, RelayStore } from "../protocol/relay_store.ts";
import type { StateDb } from "../state/state_db.ts";
import type { Logger } from "../log/logger.ts";
import type { ProgressEvent, RoundStats } from "../log/round_events.ts";
import type { Mode, ModeRules } from "./modes.ts";
import type { PathFilter } from "./scan.ts";

// The event and counter types live in log/ (beside every layer) so the presenters need not import
// the engine; re-exported here because they are the engine's vocabulary.
export { emptyStats, type ProgressEvent, type RoundStats } from "../log/round_events.ts";

export type ConflictStrategy = "keep-both" | "newest" | "local" | "remote";

/** Everything the engine needs to know about one repository; the CLI builds it from the config. */
export interface RepoOptions {
  name: string;
  localPath: string;
  clientName: string;
  mode: Mode;
  filter: PathFilter;
  hiddenFiles: boolean;
  modificationTime: boolean;
  chunkSize: number;
  maxPageSize: number;
  transfers: number;
  pullerCount?: number;
  /** a puller whose record was not refreshed for this long is no longer waited for */
  pullerTimeoutSec?: number;
  /** most bytes this client keeps on the relay (data and commits); it waits beyond */
  diskQuota?: number;
  conflict: ConflictStrategy;
  propagateDeletions: boolean;
  deleteThreshold: number;
  force: boolean;
  /** absolute folders inside the tree that are never synchronised (state, a file relay) */
  skip?: string[];
  /** paths (relative) of escale's own files inside the tree (its log, a key file): never synced */
  ownFiles?: string[];
}

export interface RoundContext {
  opts: RepoOptions;
  rules: ModeRules;
  root: string;
  state: StateDb;
  store: RelayStore;
  me: string;
  log: Logger;
  emit: (e: ProgressEvent) => void;
  stats: RoundStats;
  /** client records on the relay, by client id (this round's view) */
  clients: Map<string, ClientRecord>;
  commits: CommitRef[];
  /** commits of others read ahead (by key), while the round read records and scanned */
  commitReads: Map<string, Promise<Commit>>;
  /** hashes big files on a second thread (stopped when the round ends) */
  hasher: Hasher;
  /** paths in the state's list of remote versions that could not be written here */
  problems: Set<string>;
}

/** Clients this client must wait for: registered pullers, minus those silent for too long. */
export function expectedPullers(ctx: RoundContext): ClientRecord[] {
  const limit = ctx.opts.pullerTimeoutSec;
  return [...ctx.clients.values()].filter((c) =>
    c.pulls && c.id !== ctx.me &&
    (limit === undefined || Date.now() - Date.parse(c.seen) <= limit * 1000)
  );
}

/** A record is rewritten at least this often, so that `puller timeout` can tell who is alive. */
export const HEARTBEAT_MS = 12 * 3600 * 1000;

export function clientName(ctx: RoundContext, cid: string): string {
  if (cid === ctx.me) return ctx.opts.clientName;
  return ctx.clients.get(cid)?.name ?? cid;
}

/** What `escale ctl status` shows about a repository after a round. */
export interface RepoStatus {
  /** local changes not yet published (waiting for quota, access or a failed round) */
  pendingUploads: number;
  /** commits of other clients not applied yet */
  pendingDownloads: number;
  /** of those, changes this client will publish (the others are `r-` or deletions kept local) */
  unsent: number;
  /** this client's commits still on the relay (0: every expected puller has everything) */
  unreleased: number;
  /** names of the pullers this client waits for (see expectedPullers) */
  pullers: string[];
  /** per expected puller, how many of this client's commits it has not acknowledged */
  waitingOn: { client: string; commits: number }[];
  /** data bytes this client keeps on the relay */
  relayBytes: number;
  diskQuota?: number;
  /** files that could not be synchronised, and why (retried when the cause is gone) */
  problems: { path: string; direction: "down" | "up"; reason: string; since: string }[];
}
