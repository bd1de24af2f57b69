import { EscaleError, ExitCode, localIoError } from "../errors/errors.ts";
import { archiveKind, codec } from "../maintenance/archive_codec.ts";
import { restoreRelay } from "../maintenance/restore_relay.ts";
import { type MaintenanceFlags, runMaintenance } from "./maintenance_runner.ts";
import { openSectionRelay } from "./open_section_relay.ts";
import { refuseEscaleData } from "../legacy/refuse_escale_data.ts";

/**
 * `escale restore ARCHIVE [--force]`: puts a backup back into a section's relay (empty, or
 * replaced with --force), verifying the whole archive first. No key is needed: objects are
 * restored as they were stored.
 */
export async function restoreCommand(
  flags: MaintenanceFlags & { force?: boolean },
  archive: string,
): Promise<number> {
  const kind = archiveKind(archive);
  return await runMaintenance(flags, async ({ section, out, log, signal }) => {
    const source = async () => {
      let file: Deno.FsFile;
      try {
        file = await Deno.open(archive, { read: true });
      } catch (e) {
        throw localIoError(e, `opening ${archive}`);
      }
      return file.readable.pipeThrough(codec(kind, "decompress"));
    };
    await source().then((s) => s.cancel()).catch((e) => {
      throw e instanceof EscaleError ? e : localIoError(e, archive);
    });
    const relay = await openSectionRelay(section, log, signal);
    try {
      await refuseEscaleData(relay, "destination", "escale restore");
      const r = await restoreRelay(relay, source, {
        force: flags.force,
        owner: `${section.clientName} restore`,
        emit: out.emit,
      });
      out.result(
        `restored ${archive} (taken ${r.manifest.taken}) into ${relay.name}: ${r.written} objects written, ${r.kept} already there${
          r.removed ? `, ${r.removed} removed` : ""
        }`,
        { archive, written: r.written, kept: r.kept, removed: r.removed, taken: r.manifest.taken },
      );
      return ExitCode.ok;
    } finally {
      await relay.close().catch(() => {});
    }
  });
}
