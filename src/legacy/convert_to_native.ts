import { EscaleError } from "../errors/errors.ts";
import { modeRules } from "../engine/modes.ts";
import { type EncryptionSetting, openStore } from "../protocol/open_store.ts";
import { convertIndexToNative } from "./convert_index_to_native.ts";
import { lockKey, placeholderKey } from "./names.ts";
import type { LegacyRepository } from "./legacy_repository.ts";

export interface ConversionReport {
  /** versions that were still waiting on the relay; this client holds all of them now */
  pending: number;
  /** Escale 0.7 objects removed (data, placeholders, locks) */
  removed: number;
  /** creation stamp of the native header written */
  created: string;
}

/**
 * Turns the Escale 0.7 relay of `repo` into an empty native relay, once every client runs
 * escale (for `escale migrate --to-native`); an index-layout relay is converted by
 * convert_index_to_native.ts the same way. What was pending is carried over through this
 * client: every version still waiting on the relay is taken into its folder first (as a pull,
 * keep-both on a conflict), and its next native round publishes its tree (so the converting
 * client must be one that sends: others are refused). Other clients then
 * compare by content, so those that already hold a file do not download it again; the price is
 * that each client sends its tree once.
 *
 * Safe to run again after a crash: data and locks go before placeholders, the header comes last,
 * so an interrupted conversion leaves either an Escale relay (convert again) or an empty one.
 * Nothing is removed while another client's lock exists or a version could not be taken.
 */
export async function convertToNative(
  repo: LegacyRepository,
  enc: EncryptionSetting,
): Promise<ConversionReport> {
  // The pending versions leave the relay and reach the others only through this client's next
  // native round: a client that never sends would drop them.
  if (!modeRules(repo.opts.mode, repo.opts.propagateDeletions).pushes) {
    throw new EscaleError(
      "config",
      `${repo.store.relay.name}: "mode = ${repo.opts.mode}" never sends, so the versions still waiting on the relay would be lost; convert from a client whose mode sends (shared, conservative, upload, mirror-upload or backup-upload)`,
    );
  }
  if (repo.index) return await convertIndexToNative(repo.index, enc);
  const relay = repo.store.relay;
  const me = repo.opts.clientName;
  const before = await repo.store.walk();
  for (const e of before.values()) {
    if (!e.lock) continue;
    const lock = await repo.store.readLock(e.path);
    if (lock && lock.owner !== me) {
      throw new EscaleError(
        "busy",
        `${relay.name}: ${e.path} is locked by ${
          lock.owner ?? "an unknown client"
        }; stop every Escale client before converting the relay`,
      );
    }
  }
  const pendingBefore = [...before.values()].filter((e) => e.data && e.placeholder).length;
  const { remote, due } = await repo.takeEverything();
  if (due.length > 0) {
    throw new EscaleError(
      "busy",
      `${relay.name}: ${due.length} file(s) still waiting on the relay could not be taken (first: ${
        due[0]
      }); nothing was converted`,
    );
  }
  let removed = 0;
  for (const e of remote.values()) {
    // A data file no placeholder describes is nobody's version (or not Escale's): it stays.
    const data = e.data !== undefined && e.placeholder !== undefined;
    if (data) await relay.delete(e.path);
    if (e.lock) await relay.delete(lockKey(e.path));
    removed += (data ? 1 : 0) + (e.lock ? 1 : 0);
  }
  for (const e of remote.values()) {
    if (!e.placeholder) continue;
    await relay.delete(placeholderKey(e.path));
    removed++;
  }
  const { header } = await openStore(relay, enc);
  repo.log.log(
    "info",
    `converted ${relay.name} to the native format (${pendingBefore} pending file(s) carried over, ${removed} Escale object(s) removed)`,
  );
  return { pending: pendingBefore, removed, created: header.created };
}
