import { type Command, Option } from "@commander-js/extra-typings";

/**
 * Registers the relay maintenance commands (check, fix, backup, restore, migrate) on the
 * program. Each takes one section (`-r` when the configuration has several), prints progress on
 * a terminal or `--json` events, and ends with a one-line summary. Each command's implementation
 * is imported when it runs.
 */
export function registerMaintenance(
  program: Command,
  setCode: (n: number) => void,
  exitCodes: () => string,
): void {
  // deno-lint-ignore ban-types
  const common = <A extends unknown[]>(c: Command<A, {}>, configHelp = "configuration file") =>
    c
      .option("-c, --config <file>", configHelp, (v: string, prev?: string) =>
        // Given twice (migrate's "-c OTHER.conf" destination, as escalectl takes it): both kept.
        prev === undefined ? v : `${prev}\0${v}`)
      .option("-r, --repository <section>", "the section (needed when there are several)")
      .option("--json", "write one JSON event per line on stdout, the report last")
      .option("-v, --verbose", "log every step");

  common(
    program
      .command("check")
      .description(
        "verify the relay: header, client records and commits parse, every data object exists with its size; orphans listed",
      ),
  )
    .addOption(
      new Option("--read-data", "also read every file's content and verify its SHA-256"),
    )
    .addHelpText(
      "after",
      `
Clients may keep syncing meanwhile: commits released during the check are not damage.
Exit 0 when the relay is sound, 6 when something is damaged (each damaged object is named).

Examples:
  escale check -r photos                  structure and sizes (fast: reads commits only)
  escale check -r photos --read-data      also hash every file stored on the relay
  escale check --json | jq .report        the whole report for a script
${exitCodes()}`,
    )
    .action(async (o) => {
      const { checkCommand } = await import("./check_command.ts");
      setCode(await checkCommand(o));
    });

  common(
    program
      .command("fix")
      .description(
        "rebuild a lost relay from this client's state, and repair a damaged one (expired leases, leftovers of killed writers, unreferenced data)",
      ),
  )
    .option("--dry-run", "print what would be done, change nothing")
    .addHelpText(
      "after",
      `
When the relay was wiped or replaced by an empty folder, run it on the client that was last
in sync: it writes the header the clients know, their records and a full copy of its tree with
the existing versions. Other clients then download only what they lack, and files deleted
before the loss stay deleted. Changes other clients made that this one never received are sent
again by them.

Examples:
  escale fix -r photos --dry-run          show what would be repaired
  escale fix -r photos                    rebuild or repair the relay of "photos"
${exitCodes()}`,
    )
    .action(async (o) => {
      const { fixCommand } = await import("./fix_command.ts");
      setCode(await fixCommand(o));
    });

  common(
    program
      .command("backup")
      .description("save a consistent snapshot of the relay into a tar archive, with a manifest")
      .argument("<archive>", "file to write: .tar, .tar.gz (.tgz) or .tar.bz2 (.tbz2)"),
  )
    .addHelpText(
      "after",
      `
Clients may keep syncing meanwhile. Objects are saved as stored (encrypted ones stay
encrypted); the manifest escale-backup.json lists every key with its size and SHA-256.
The archive is written as ARCHIVE.part and renamed when complete.

Examples:
  escale backup -r photos ~/backups/photos-2026-12.tar.gz
  escale backup -r photos /mnt/usb/photos.tar.bz2      (needs the bzip2 program)
${exitCodes()}`,
    )
    .action(async (archive, o) => {
      const { backupCommand } = await import("./backup_command.ts");
      setCode(await backupCommand(o, archive));
    });

  common(
    program
      .command("restore")
      .description("put a backup back into the relay (empty, or replaced with --force)")
      .argument("<archive>", "an archive written by escale backup"),
  )
    .option("--force", "replace what the relay holds (objects not in the backup are removed)")
    .addHelpText(
      "after",
      `
The whole archive is verified against its manifest before anything is written; the relay
header is written last, so clients see the relay only once it is complete. An interrupted
restore resumes when run again, without copying again what is already there. Clients keep
their state: they download only what they do not already have. A relay holding other objects,
or objects that changed since the backup (clients still use it), is refused with exit 7
unless --force.

Examples:
  escale restore -r photos ~/backups/photos-2026-12.tar.gz
  escale restore -r photos --force photos.tar.bz2    replace a damaged relay
${exitCodes()}`,
    )
    .action(async (archive, o) => {
      const { restoreCommand } = await import("./restore_command.ts");
      setCode(await restoreCommand(o, archive));
    });

  common(
    program
      .command("migrate")
      .description(
        "move the relay to another place and point this configuration at it; other clients are told where it went",
      )
      .argument(
        "[destination]",
        "a folder, ftp://host/dir, ftps://…, http(s)://… (WebDAV), s3://bucket/prefix or rclone:REMOTE:PATH",
      ),
    "configuration file; given a second time, the destination is the same section of that file (as --to-config)",
  )
    .option(
      "--to-config <file>",
      "take the destination from the same section of this configuration",
    )
    .option("--user <name>", "user name at the destination (S3: the access key id)")
    .option("--password-file <file>", "file holding the destination's password (S3: secret key)")
    .option("--endpoint <url>", "S3: endpoint of a non-AWS service, e.g. http://127.0.0.1:9000")
    .option("--region <name>", "S3: region")
    .option(
      "--to-native",
      "convert an Escale 0.7 relay into the native format where it is (once every client runs escale)",
    )
    .addHelpText(
      "after",
      `
Every object is copied as stored (encrypted ones stay encrypted, no key is needed) and read back
to verify it. Then the old relay gets a record saying where the relay went: other clients stop
there with a one-line message naming the new address (exit 11) instead of publishing to the old
place; point their configurations at it. This section's relay settings are rewritten in place,
comments kept; a password goes to the credential file next to the configuration. An interrupted
migration resumes when run again, without copying again what already arrived. Run again after it
completed (on another client still configured for the old relay), it copies nothing and only
points this configuration at the new relay.

--to-native converts a relay that Python Escale 0.7 clients shared (placeholder layout) into the
native format where it is: stop every Python client first. What was still waiting on the relay is
taken into this client's folder, then the Escale objects are removed and the native header is
written; clients that already hold a file do not download it again.

Examples:
  escale migrate -r photos /mnt/nas/escale-photos
  escale migrate -r photos https://dav.example.org/photos --user me --password-file ~/dav.pw
  escale migrate -r photos s3://my-bucket/photos --endpoint http://127.0.0.1:9000 \
      --user AKIA… --password-file ~/s3.secret
  escale migrate -r photos rclone:gdrive:escale/photos
  escale migrate -r photos --to-config ~/new-relay.conf
  escale migrate -r photos --to-native
${exitCodes()}`,
    )
    .action(async (dest, o) => {
      const { migrateCommand } = await import("./migrate_command.ts");
      setCode(await migrateCommand(o, dest));
    });
}
