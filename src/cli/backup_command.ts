import { EscaleError, ExitCode, localIoError } from "../errors/errors.ts";
import { archiveKind, codec } from "../maintenance/archive_codec.ts";
import { backupRelay } from "../maintenance/backup_relay.ts";
import { openExistingStore } from "../maintenance/open_existing_store.ts";
import { type MaintenanceFlags, runMaintenance } from "./maintenance_runner.ts";
import { encryptionOf, openSectionRelay } from "./open_section_relay.ts";

/**
 * `escale backup ARCHIVE`: a consistent snapshot of a section's relay into a .tar, .tar.gz or
 * .tar.bz2 file. The archive is written under `ARCHIVE.part` (mode 0600) and renamed when
 * complete, so a name that exists is always a whole backup.
 */
export async function backupCommand(flags: MaintenanceFlags, archive: string): Promise<number> {
  const kind = archiveKind(archive);
  return await runMaintenance(flags, async ({ section, out, log, signal }) => {
    if (await exists(archive)) {
      throw new EscaleError("usage", `${archive} already exists; choose another name`);
    }
    const enc = await encryptionOf(section);
    const relay = await openSectionRelay(section, log, signal);
    const part = `${archive}.part`;
    try {
      const opened = await openExistingStore(relay, enc);
      if (!opened) {
        throw new EscaleError(
          "usage",
          `${relay.name} holds no relay (no escale.json); nothing to back up`,
        );
      }
      let file: Deno.FsFile;
      try {
        file = await Deno.open(part, { write: true, create: true, truncate: true, mode: 0o600 });
      } catch (e) {
        throw localIoError(e, `creating ${part}`);
      }
      const c = codec(kind, "compress");
      const writing = c.readable.pipeTo(file.writable);
      writing.catch(() => {});
      const manifest = await backupRelay(relay, opened.store, c.writable, out.emit);
      await writing;
      await Deno.rename(part, archive);
      const bytes = manifest.objects.reduce((n, o) => n + o.size, 0);
      out.result(
        `backed up ${relay.name} to ${archive}: ${manifest.objects.length} objects, ${bytes} bytes`,
        { archive, objects: manifest.objects.length, bytes, relayCreated: manifest.relayCreated },
      );
      return ExitCode.ok;
    } catch (e) {
      await Deno.remove(part).catch(() => {});
      throw e;
    } finally {
      await relay.close().catch(() => {});
    }
  });
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}
