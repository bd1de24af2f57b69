import { type CompiledFilters, compileFilters } from "../config/filters.ts";
import type { LoadedConfig, SectionSettings } from "../config/settings.ts";
import { readSecret } from "../crypto/secret_source.ts";
import type { RepoOptions } from "../engine/context.ts";
import { Repository } from "../engine/repository.ts";
import type { Logger } from "../log/logger.ts";
import { type EncryptionSetting, openStore, readOpening } from "../protocol/open_store.ts";
import type { Relay } from "../relay/relay.ts";
import { ensureStateDir, lockPath, logFileOf } from "./state_location.ts";
import { StateLock } from "../state/state_lock.ts";
import { StateDb } from "../state/state_db.ts";
import { openRelayStackWith } from "./open_relay.ts";
import { detectLayout, type RelayLayout } from "../legacy/detect_layout.ts";
import { CLIENTS_DIR, COMMITS_DIR, type Header } from "../protocol/format.ts";
import { EarlyListingsRelay } from "../relay/early_listings_relay.ts";
import { chooseFormat, type RelayFormat } from "../legacy/choose_format.ts";
import type { LegacyRepository } from "../legacy/legacy_repository.ts";
import { ConfigError, EscaleError } from "../errors/errors.ts";

export interface RunFlags {
  force?: boolean;
  /** aborting it interrupts every relay operation, opening included (SIGINT/SIGTERM) */
  signal?: AbortSignal;
}

export function repoOptions(
  s: SectionSettings,
  flags: RunFlags,
  relay: Relay,
  filter: CompiledFilters,
  stateDir?: string,
  ownFiles: string[] = [],
): RepoOptions {
  const skip = [stateDir, s.relay.protocol === "file" ? s.relay.directory : undefined]
    .filter((d): d is string => d !== undefined)
    .map((d) => d.replace(/\/+$/, ""));
  const root = s.localPath.replace(/\/+$/, "") + "/";
  return {
    skip,
    ownFiles: ownFiles.filter((f) => f.startsWith(root)).map((f) => f.slice(root.length)),
    name: s.name,
    localPath: s.localPath,
    clientName: s.clientName,
    mode: s.mode,
    filter,
    hiddenFiles: s.hiddenFiles,
    modificationTime: s.modificationTime,
    chunkSize: s.chunkSize,
    maxPageSize: s.maxPageSize,
    // Each transfer holds up to a chunk in memory (more on S3): 4 keeps RSS well under 200 MB.
    transfers: s.transfers ?? Math.min(4, relay.capabilities.parallel),
    pullerCount: s.pullerCount,
    pullerTimeoutSec: s.pullerTimeoutSec,
    diskQuota: s.diskQuota,
    conflict: s.conflict,
    propagateDeletions: s.propagateDeletions,
    deleteThreshold: s.deleteThreshold,
    force: flags.force ?? false,
  };
}

/**
 * Connects a configured section: filters, secret, state folder and the state's one-process lock
 * first, then the relay (openRelayStack), header and key check, state. Everything local is
 * checked before the relay is touched, so that a configuration or local problem leaves the relay
 * as it was (no header, no record).
 */
export async function openRepository(
  cfg: LoadedConfig,
  s: SectionSettings,
  flags: RunFlags,
  log: Logger,
): Promise<{ repo: Repository | LegacyRepository; relay: Relay }> {
  const filter = compileFilters(s.filters);
  const enc: EncryptionSetting = s.encryption === "aead"
    ? { mode: "aead", secret: await readSecret(s.passphrase!) }
    : { mode: "none" };
  const statePath = await ensureStateDir(cfg, s);
  // Held until the process ends: a daemon stays this repository's process between its rounds.
  StateLock.acquire(lockPath(cfg, s), s.name);
  // A native relay's moved record and header are read while the relay is opened, and the
  // folders a round lists first are listed alongside (wasted only on an Escale 0.7 relay).
  const { relay, first } = await openRelayStackWith(s.relay, {
    signal: flags.signal,
    onRetry: (what, attempt, err) =>
      log.log("debug", `retrying ${what} (attempt ${attempt}): ${(err as Error).message}`),
  }, (r) => {
    const opening = readOpening(r);
    opening.catch(() => {}); // awaited below, or left for a legacy relay
    const early = EarlyListingsRelay.start(r, [COMMITS_DIR, CLIENTS_DIR]);
    return Promise.resolve({ opening, early });
  });
  const { opening, early } = await first;
  try {
    const stateDir = statePath.slice(0, statePath.lastIndexOf("/"));
    const opts = repoOptions(s, flags, relay, filter, stateDir, ownFilesOf(cfg, s));
    const setting = (s.options["relay format"] as RelayFormat | undefined) ?? "auto";
    const { layout } = await detectWhileOpening(relay, opening);
    const index = s.options["index"] as string | undefined;
    if (chooseFormat(setting, layout, relay.name, index) === "escale-0.7") {
      checkLegacyClientName(s.clientName);
      // The Escale 0.7 code (and the bzip2 and tar libraries it uses) loads only for such a relay.
      const [{ Fernet }, { chooseIndex }, { LegacyRepository }] = await Promise.all([
        import("../legacy/fernet.ts"),
        import("../legacy/choose_index.ts"),
        import("../legacy/legacy_repository.ts"),
      ]);
      const fernet = enc.mode === "aead" ? Fernet.fromKeyText(enc.secret) : undefined;
      const legacyOpts = {
        ...opts,
        fernet,
        lockTimeoutSec: s.lockTimeoutSec,
        index: await chooseIndex(relay, layout, index),
      };
      const repo = LegacyRepository.open(legacyOpts, relay, `${statePath}.escale-0.7`, log);
      return { repo, relay };
    }
    if (!flags.force && !(await opening)) refuseLostRelay(relay.name, statePath);
    const { store, header } = await openStore(new EarlyListingsRelay(relay, early), enc, opening);
    const repo = Repository.open(opts, store, header.created, statePath, log, early.until);
    return { repo, relay };
  } catch (e) {
    await relay.close().catch(() => {});
    throw e;
  }
}

/**
 * Detects what the relay holds while a native relay's moved record and header are read (reading
 * changes nothing): on a native relay, opening costs the detection's round trip and no more.
 * `opening` is not awaited at all when the relay turns out to hold Escale 0.7 data.
 */
export async function detectWhileOpening(
  relay: Relay,
  started?: Promise<Header | null>,
): Promise<{ layout: RelayLayout; opening: Promise<Header | null> }> {
  const opening = started ?? readOpening(relay);
  opening.catch(() => {}); // awaited by the caller, or left for a legacy relay
  return { layout: await detectLayout(relay), opening };
}

/**
 * Files escale writes or reads for itself, which must never travel even when they sit inside a
 * synchronised folder: the log (each round would change it) with its backups and error.log, and
 * the key file (a secret).
 */
export function ownFilesOf(cfg: LoadedConfig, s: SectionSettings): string[] {
  const log = logFileOf(cfg);
  const backups = Array.from({ length: cfg.global.logRotate }, (_, i) => `${log}.${i + 1}`);
  const errorLog = `${log.slice(0, log.lastIndexOf("/") + 1)}error.log`;
  return [log, ...backups, errorLog, ...(s.passphrase?.file ? [s.passphrase.file] : [])];
}

/**
 * Python Escale splits `pusher: <name>` on colons and reads names line by line: a client name
 * with a colon, a line break or surrounding blanks would make every placeholder it signs
 * unreadable to the Python clients.
 */
function checkLegacyClientName(name: string): void {
  // deno-lint-ignore no-control-regex
  if (name === "" || name.trim() !== name || /[:\u0000-\u001f\u007f]/.test(name)) {
    throw new ConfigError(
      `client name ${
        JSON.stringify(name)
      } cannot be written on an Escale 0.7 relay (no ':', control characters or surrounding spaces); set another "client name"`,
    );
  }
}

/**
 * A relay without a header that this client synchronised with before was wiped or lost: creating
 * a new one would make every client publish its whole tree again and bring back what was deleted
 * before the loss. `escale fix` on an up-to-date client rebuilds it as it was; `--force` starts a
 * new relay anyway.
 */
function refuseLostRelay(name: string, statePath: string): void {
  try {
    Deno.statSync(statePath);
  } catch {
    return; // never synchronised here
  }
  const state = StateDb.open(statePath);
  let known: string | undefined;
  try {
    known = state.relayId();
  } finally {
    state.close();
  }
  if (known === undefined) return;
  throw new EscaleError(
    "safety",
    `${name} holds no relay, but this client synchronised with it (relay created ${known}): it was wiped or lost; run "escale fix" on the most up-to-date client to rebuild it, or "escale run --force" to start a new relay`,
  );
}
