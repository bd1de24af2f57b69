import { compileFilters } from "../config/filters.ts";
import { ExitCode } from "../errors/errors.ts";
import { Repository } from "../engine/repository.ts";
import { fixRelay, type LocalView } from "../maintenance/fix_relay.ts";
import { StateDb } from "../state/state_db.ts";
import { StateLock } from "../state/state_lock.ts";
import { someKeys } from "./maintenance_output.ts";
import { type MaintenanceFlags, runMaintenance } from "./maintenance_runner.ts";
import { encryptionOf, openSectionRelay } from "./open_section_relay.ts";
import { ownFilesOf, repoOptions } from "./open_repository.ts";
import { ensureStateDir, lockPath } from "./state_location.ts";
import { refuseEscaleData } from "../legacy/refuse_escale_data.ts";

/**
 * `escale fix [--dry-run]`: rebuilds a lost relay from this client's state and repairs a damaged
 * one (see src/maintenance/fix_relay.ts). Holds the repository's state lock like a round: the
 * full copy is published from this client's state.
 */
export async function fixCommand(flags: MaintenanceFlags & { dryRun?: boolean }): Promise<number> {
  return await runMaintenance(flags, async ({ cfg, section, out, log, signal }) => {
    const enc = await encryptionOf(section);
    const statePath = await ensureStateDir(cfg, section);
    StateLock.acquire(lockPath(cfg, section), section.name);
    const state = StateDb.open(statePath);
    let local: LocalView;
    try {
      local = {
        relayId: state.relayId(),
        me: state.clientId() ?? "",
        registered: state.registered(),
        records: state.cachedRecords(),
        pendingSeq: state.getPending()?.seq,
      };
    } finally {
      state.close();
    }
    const relay = await openSectionRelay(section, log, signal);
    let repo: Repository | null = null;
    try {
      await refuseEscaleData(relay, "section", "escale fix");
      const { plan, entries } = await fixRelay({
        relay,
        enc,
        local,
        owner: `${section.clientName} (${local.me || "new client"}) fix`,
        dryRun: flags.dryRun,
        emit: out.emit,
        openRepository: (store, relayId) => {
          const stateDir = statePath.slice(0, statePath.lastIndexOf("/"));
          const opts = repoOptions(
            section,
            {},
            relay,
            compileFilters(section.filters),
            stateDir,
            ownFilesOf(cfg, section),
          );
          repo = Repository.open(opts, store, relayId, statePath, log);
          return repo;
        },
      });
      const did = [
        plan.writeHeader ? "header rewritten" : "",
        plan.rebuild
          ? `${plan.restoreRecords.length} client records restored, full copy of ${
            flags.dryRun ? "this client's tree" : `${entries} files and deletions`
          } published`
          : "",
        removed(plan.staleLeases, "expired leases removed"),
        removed(plan.temporary.map((t) => t.key), "temporary objects removed"),
        removed(plan.uploads.map((u) => u.key), "unfinished uploads aborted"),
        removed(plan.orphans.map((t) => t.key), "orphan data objects removed"),
      ].filter((s) => s);
      const summary = did.length === 0
        ? `relay ${relay.name}: nothing to repair`
        : `relay ${relay.name}: ${flags.dryRun ? "would have: " : ""}${did.join(", ")}`;
      out.result(summary, { dryRun: flags.dryRun ?? false, plan, entries });
      return ExitCode.ok;
    } finally {
      (repo as Repository | null)?.state.close();
      await relay.close().catch(() => {});
    }
  });
}

/** "3 expired leases removed (leases/a, …)": what fix removes, named (bounded), or "". */
function removed(keys: string[], what: string): string {
  return keys.length ? `${keys.length} ${what} (${someKeys(keys)})` : "";
}
