import type { Command } from "@commander-js/extra-typings";
import { BACKENDS } from "../config/backends/registry.ts";
import { MODES } from "../config/modes.ts";
import type { InitDeps } from "./init_command.ts";

// The options and help of `escale init`, apart from its implementation (init_command.ts, imported
// when the command runs), so that the other commands do not load it.

/** Adds `escale init` to the program; errors propagate to main, which prints and exits. */
export function registerInit(program: Command, deps: InitDeps = {}): void {
  program
    .command("init")
    .description(
      "set up a repository (one section of the configuration) by answering questions, or with flags in scripts",
    )
    .option(
      "-c, --config <file>",
      "configuration file to add to or edit (default: the one `escale run` finds, else ~/.config/escale/escale.conf)",
    )
    .option("--section <name>", "section name; an existing one is edited")
    .option("--local-path <dir>", "local folder to synchronise")
    .option(
      "--service <service>",
      `relay service: ${BACKENDS.map((b) => b.id).join(", ").replace(/, (\w+)$/, " or $1")}`,
    )
    .option("--address <address>", "relay server, URL, s3://bucket or rclone remote:")
    .option("--relay-path <path>", "relay folder (file service), or folder on the relay server")
    .option("--user <name>", "user name on the relay (S3: access key id)")
    .option(
      "--password-file <file>",
      "file holding the password (S3: secret key); it is copied to <section>.credential",
    )
    .option("--encryption <yes|no>", "encrypt everything on the relay")
    .option("--key-file <file>", "existing key file (the one the other clients use)")
    .option("--generate-key", "generate a new key into <section>.key next to the configuration")
    .option("--mode <mode>", `synchronisation mode: ${MODES.join(", ")}`)
    .option("--pullers <n>", "clients that must receive each change before it leaves the relay")
    .option("--refresh <seconds>", "seconds between rounds")
    .option("--client-name <name>", "name of this client on the relay (default: host name)")
    .option("-y, --yes", "accept the default of every question that no flag answers")
    .addHelpText(
      "after",
      `
Without a terminal, every answer must come from a flag (or --yes for the ones that have a
default); a missing one stops with the name of its flag and nothing is written. The relay is
checked (a scratch object is written and deleted) before anything is written. Passwords are
never passed on the command line: use --password-file, or answer the hidden prompt.

Examples:
  escale init                                   ask everything on the terminal
  escale init -c ~/escale.conf --section docs --local-path ~/Documents \\
    --service file --relay-path /mnt/nas/escale --generate-key --yes
  escale init --section photos --local-path ~/Pictures --service webdav \\
    --address https://dav.example.org/remote.php/dav/files/me --relay-path escale \\
    --user me --password-file ~/.dav-password --key-file ~/photos.key --yes`,
    )
    .action(async (o) => {
      const { initCommand } = await import("./init_command.ts");
      await initCommand(o, deps);
    });
}
