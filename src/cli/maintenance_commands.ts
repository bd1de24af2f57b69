import { type Command, Option } from "@commander-js/extra-typings";
import { checkCommand } from "./check_command.ts";
import type { MaintenanceFlags as Flags } from "./maintenance_runner.ts";

/**
 * Registers the relay maintenance commands (check, fix, backup, restore, migrate) on the
 * program. Each takes one section (`-r` when the configuration has several), prints progress on
 * a terminal or `--json` events, and ends with a one-line summary.
 */
export function registerMaintenance(
  program: Command,
  setCode: (n: number) => void,
  exitCodes: () => string,
): void {
  const common = (c: Command) =>
    c
      .option("-c, --config <file>", "configuration file")
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
    .action(async (o) => setCode(await checkCommand(o as Flags & { readData?: boolean })));
}
