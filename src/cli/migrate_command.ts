import { dirname, join } from "node:path";
import { editSection, writeConfigSection, writeFileAtomic } from "../config/config_writer.ts";
import { loadConfig } from "../config/load_config.ts";
import type { RelaySettings } from "../config/settings.ts";
import { EscaleError, ExitCode, localIoError } from "../errors/errors.ts";
import {
  type Destination,
  destinationEdit,
  destinationFromSettings,
  destinationOf,
} from "../maintenance/destination.ts";
import { migrateRelay } from "../maintenance/migrate_relay.ts";
import { fileStem, readPasswordFile } from "./init_command.ts";
import { type MaintenanceFlags, runMaintenance } from "./maintenance_runner.ts";
import { openSectionRelay } from "./open_section_relay.ts";
import { openRepository } from "./open_repository.ts";
import { LegacyRepository } from "../legacy/legacy_repository.ts";
import { convertToNative } from "../legacy/convert_to_native.ts";
import type { EncryptionSetting } from "../protocol/open_store.ts";
import { readSecret } from "../crypto/secret_source.ts";
import { refuseEscaleData } from "../legacy/refuse_escale_data.ts";

export interface MigrateFlags extends MaintenanceFlags {
  /** convert this section's Escale 0.7 relay into the native format, in place */
  toNative?: boolean;
  /** take the destination from the same section of this configuration file */
  toConfig?: string;
  user?: string;
  passwordFile?: string;
  endpoint?: string;
  region?: string;
}

/**
 * `escale migrate DEST`: moves a section's relay to DEST (an address, or the same section of
 * `--to-config FILE`), then points the section at it: the relay keys are rewritten in place (the
 * rest of the file, comments included, stays as it was) and a password goes to the credential
 * file next to the configuration, as `escale init` does.
 */
export async function migrateCommand(
  flags: MigrateFlags,
  dest: string | undefined,
): Promise<number> {
  const configs = flags.config?.split("\0") ?? [];
  if (configs.length > 2) throw new EscaleError("usage", "-c is given more than twice");
  if (configs.length === 2) {
    // escalectl's form: the second configuration names the destination.
    if (flags.toConfig !== undefined) {
      throw new EscaleError("usage", "give the destination once: a second -c or --to-config");
    }
    flags = { ...flags, config: configs[0], toConfig: configs[1] };
  }
  if (flags.toNative) {
    if (dest !== undefined || flags.toConfig !== undefined) {
      throw new EscaleError(
        "usage",
        "--to-native converts the relay where it is: give no destination and no --to-config",
      );
    }
    return await toNative(flags);
  }
  if ((dest === undefined) === (flags.toConfig === undefined)) {
    throw new EscaleError("usage", "give the destination: an address, or --to-config FILE");
  }
  return await runMaintenance(flags, async ({ cfg, section, out, log, signal }) => {
    let d: Destination;
    if (dest !== undefined) {
      const password = flags.passwordFile ? await readPasswordFile(flags.passwordFile) : undefined;
      d = destinationOf(dest, { ...flags, password });
    } else {
      const other = await loadConfig(flags.toConfig!, { sections: [section.name] });
      d = destinationFromSettings(other.sections[0].relay);
    }
    await refuseEscaleData(
      () => openSectionRelay(section, log, signal),
      "section",
      "escale migrate",
    );
    const configDir = dirname(cfg.file);
    const secretFile = d.credential ? await credentialFile(configDir, section.name, d) : undefined;
    const edit = destinationEdit(d, secretFile);
    const folder = d.set.find(([k]) => k === "host directory")?.[1];
    if (d.set[0][1] === "file" && folder) {
      // A new folder is what a move to a folder means; the loader wants it to exist.
      await Deno.mkdir(folder, { recursive: true, mode: 0o700 }).catch((e) => {
        throw localIoError(e, `creating ${folder}`);
      });
    }
    const destSettings = await resolveDestination(cfg.file, section.name, edit);
    const source = await openSectionRelay(section, log, signal);
    try {
      const target = await openSectionRelay({ relay: destSettings }, log, signal);
      try {
        await refuseEscaleData(target, "destination", "escale migrate");
        if (target.name === source.name) {
          throw new EscaleError("usage", `${source.name} is already the relay of ${section.name}`);
        }
        const r = await migrateRelay(source, target, {
          to: d.shown,
          owner: `${section.clientName} migrating to ${d.shown}`,
          emit: out.emit,
        });
        const written = await writeConfigSection(cfg.file, section.name, edit);
        const done = { from: source.name, to: d.shown, copied: r.copied, kept: r.kept };
        if (r.completed) {
          out.result(
            `the relay of ${section.name} had already moved from ${source.name} to ${d.shown}: nothing copied; ${written.file} now points there`,
            { ...done, bytes: 0, alreadyMoved: true },
          );
          return ExitCode.ok;
        }
        out.result(
          `moved the relay of ${section.name} from ${source.name} to ${d.shown}: ${r.copied} objects copied (${r.bytes} bytes), ${r.kept} already there; ${written.file} now points there`,
          { ...done, bytes: r.bytes, alreadyMoved: false },
        );
        return ExitCode.ok;
      } finally {
        await target.close().catch(() => {});
      }
    } finally {
      await source.close().catch(() => {});
    }
  });
}

/**
 * `escale migrate --to-native`: once every client of an Escale 0.7 relay runs escale, converts
 * the relay into the native format where it is (legacy/convert_to_native.ts: what was pending is
 * taken into this client's folder first, and no client downloads again a file it holds), then
 * makes a section that named the legacy layout say `relay format = native`.
 */
async function toNative(flags: MigrateFlags): Promise<number> {
  return await runMaintenance(flags, async ({ cfg, section, out, log, signal }) => {
    const { repo, relay } = await openRepository(cfg, section, { signal }, log);
    try {
      if (!(repo instanceof LegacyRepository)) {
        throw new EscaleError(
          "usage",
          `the relay of ${section.name} (${relay.name}) holds no Escale 0.7 data: nothing to convert`,
        );
      }
      const enc: EncryptionSetting = section.encryption === "aead"
        ? { mode: "aead", secret: await readSecret(section.passphrase!) }
        : { mode: "none" };
      const r = await convertToNative(repo, enc);
      if (section.options["relay format"] === "escale-0.7") {
        await writeConfigSection(cfg.file, section.name, {
          set: [["relay format", "native"]],
          remove: [],
        });
      }
      out.result(
        `converted the relay of ${section.name} (${relay.name}) to the native format: ${r.pending} waiting files taken here first, ${r.removed} Escale objects removed; from now on only escale clients can use it`,
        { relay: relay.name, pending: r.pending, removed: r.removed, created: r.created },
      );
      return ExitCode.ok;
    } finally {
      await repo.close().catch(() => {});
      await relay.close().catch(() => {});
    }
  });
}

/**
 * Where the destination's `user:password` goes: `<section>.credential` next to the
 * configuration, as `escale init` names it, unless that file holds other credentials (the old
 * relay's, still in use until the move completes); then `<section>-2.credential`, and so on.
 */
async function credentialFile(dir: string, section: string, d: Destination): Promise<string> {
  const text = `${d.credential!.user}:${d.credential!.password}\n`;
  for (let i = 1;; i++) {
    const name = `${fileStem(section)}${i === 1 ? "" : `-${i}`}.credential`;
    const path = join(dir, name);
    const existing = await Deno.readTextFile(path).catch(() => null);
    if (existing !== null && existing !== text) continue;
    if (existing === null) await writeFileAtomic(path, text, 0o600);
    return name;
  }
}

/**
 * The destination's relay settings, read exactly as `escale run` will read the section once it
 * is rewritten: the edited text goes to a private temporary file next to the configuration
 * (relative paths resolve alike) and is loaded, then removed.
 */
async function resolveDestination(
  file: string,
  section: string,
  edit: ReturnType<typeof destinationEdit>,
): Promise<RelaySettings> {
  const text = await Deno.readTextFile(file).catch((e) => {
    throw localIoError(e, `reading ${file}`);
  });
  const edited = editSection(text, section, edit, file).text;
  const rand = crypto.randomUUID().slice(0, 8);
  const tmp = join(dirname(file), `.escale-migrate-${rand}.conf`);
  await writeFileAtomic(tmp, edited, 0o600);
  try {
    return (await loadConfig(tmp, { sections: [section] })).sections[0].relay;
  } catch (e) {
    if (!(e instanceof EscaleError)) throw e;
    const msg = e.message.replace(/^\S*\.escale-migrate-[0-9a-f]+\.conf(:\d+)?: /, "");
    throw new EscaleError(e.kind, `the destination: ${msg}`);
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
}
