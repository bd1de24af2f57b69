import { ExitCode } from "../errors/errors.ts";
import { checkRelay } from "../maintenance/check_relay.ts";
import { openExistingStore } from "../maintenance/open_existing_store.ts";
import { someKeys } from "./maintenance_output.ts";
import { type MaintenanceFlags, runMaintenance } from "./maintenance_runner.ts";
import { encryptionOf, openSectionRelay } from "./open_section_relay.ts";

/**
 * `escale check [--read-data]`: verifies a section's relay and prints a one-line summary (or a
 * JSON `result` event with the whole report). Exit 0 when the relay is sound, 6 when damaged.
 */
export async function checkCommand(
  flags: MaintenanceFlags & { readData?: boolean },
): Promise<number> {
  return await runMaintenance(flags, async ({ section, out, log, signal }) => {
    const enc = await encryptionOf(section);
    const relay = await openSectionRelay(section, log, signal);
    try {
      const opened = await openExistingStore(relay, enc);
      const report = await checkRelay(relay, opened?.store ?? null, {
        readData: flags.readData,
        emit: out.emit,
      });
      const counts =
        `${report.clients} clients, ${report.commits} commits, ${report.dataObjects} data objects (${report.dataBytes} bytes)` +
        (flags.readData ? `, ${report.filesVerified} files read and verified` : "") +
        (report.orphans.length
          ? `, ${report.orphans.length} orphan data objects (${
            someKeys(report.orphans.map((o) => o.key))
          })`
          : "");
      const summary = report.ok
        ? `relay ${relay.name} is sound: ${counts}`
        : `relay ${relay.name} is damaged: ${report.damaged.length} problems (${
          report.damaged.slice(0, 3).map((d) => `${d.key}: ${d.problem}`).join("; ")
        }${report.damaged.length > 3 ? "; …" : ""}); ${counts}`;
      out.result(summary, { report });
      return report.ok ? ExitCode.ok : ExitCode.integrity;
    } finally {
      await relay.close().catch(() => {});
    }
  });
}
