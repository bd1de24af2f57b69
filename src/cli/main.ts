import { Command, CommanderError, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { collectOverrides, SETTING_FLAGS, type SettingFlag } from "../config/setting_flags.ts";
import { parseDuration } from "../config/units.ts";
import { completionScript, SHELLS } from "./completions.ts";
import {
  describeError,
  EscaleError,
  EXIT_CODE_TABLE,
  ExitCode,
  exitCodeOf,
} from "../errors/errors.ts";
import { ConsoleLogger } from "../log/console_logger.ts";
import type { Level } from "../log/logger.ts";
import { withoutOptionValues, writeUsageSummary } from "./run_summary.ts";
import { registerInit } from "./init_register.ts";
import { registerMaintenance } from "./maintenance_commands.ts";
import type { ServiceOptions } from "./service_command.ts";
import { stopChildren } from "../util/child_processes.ts";
import denoJson from "../../deno.json" with { type: "json" };

export const VERSION = denoJson.version;

// Each command's implementation is imported when the command runs (`await import` with a literal
// specifier, so deno bundle and deno compile still include it): `--version`, `--help` and `run`
// do not load the code of init, the maintenance commands, ctl and the rest.

export function exitCodeHelp(): string {
  return "\nExit codes:\n" +
    EXIT_CODE_TABLE.map(([c, d]) => `  ${String(c).padStart(3)}  ${d}`).join("\n") + "\n";
}

function levelOf(o: { verbose?: boolean; quiet?: boolean }): Level {
  return o.verbose ? "debug" : o.quiet ? "warn" : "info";
}

/** The placeholder a setting flag shows in --help. */
function placeholder(f: SettingFlag): string {
  if (f.spec.secret) return "<file>";
  if (f.spec.key === "host address") return "<url>";
  const name = f.spec.type.name;
  if (name === "path") return "<path>";
  if (name === "seconds" || name === "integer" || name === "size" || name === "list") {
    return `<${name === "integer" ? "n" : name}>`;
  }
  return "<value>";
}

/** `run`'s flags for every configuration option (config/setting_flags.ts). */
function settingOptions(): { flag: SettingFlag; option: Option }[] {
  return SETTING_FLAGS.map((f) => {
    const arg = f.boolean ? "[yes|no]" : placeholder(f);
    const what = f.spec.secret
      ? `file holding '${f.spec.key}' (or $${f.env} / $${f.envFile}; never a flag value)`
      : `'${f.spec.key}': ${f.spec.help.replace(/\.$/, "")} ($${f.env})`;
    const option = new Option(`--${f.flag} ${arg}`, what);
    option.helpGroup(
      "Configuration options as flags (a flag beats its variable, which beats the file):",
    );
    return { flag: f, option };
  });
}

function durationArg(v: string): number {
  try {
    return parseDuration(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

export function buildProgram(setCode: (n: number) => void): Command {
  const program = new Command()
    .name("escale")
    .description(
      "Synchronise folders between machines that cannot reach each other, through a passive relay folder\n" +
        "(local or mounted directory, FTP/FTPS, WebDAV, S3 or any rclone remote).",
    )
    .version(VERSION, "-V, --version", "print the version and exit")
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({
      writeErr: (s) => Deno.stderr.writeSync(new TextEncoder().encode(s)),
      outputError: (s, write) => write(withoutOptionValues(s)),
    })
    .exitOverride()
    .addHelpText("after", exitCodeHelp());

  const settings = settingOptions();
  const run = program
    .command("run")
    .description(
      "synchronise every repository (section) of the configuration, or the ones named with -r;\n" +
        "without a configuration file, --local DIR and --relay URL (or their variables) define one",
    )
    .option(
      "-c, --config <file>",
      "configuration file (default: ~/.config/escale/escale.conf, ~/.escale/escale.conf, /etc/escale.conf)",
    )
    .option("--once", "run one round per repository and exit (for cron and CI)")
    .option(
      "--wait-delivered",
      "pusher: after publishing, keep checking until every expected puller has everything, so its data has left the relay, then exit 0",
    )
    .option(
      "--wait-for-changes",
      "puller: keep checking until something new has arrived and been applied, then exit 0",
    )
    .addOption(
      new Option(
        "--timeout <duration>",
        "give up waiting after this long (90, 30s, 10m, 2h): exit code 10, naming who is missing",
      ).argParser(durationArg),
    )
    .option("--summary <file>", "write a JSON summary of the run there when it ends")
    .addOption(
      new Option("-r, --repository <section>", "only this section (repeatable)").argParser((
        v: string,
        prev: string[] | undefined,
      ) => [...(prev ?? []), v]),
    )
    .option(
      "--force",
      "apply a round even if it deletes more than the configured share of the tree",
    )
    .option("-v, --verbose", "log every step")
    .option("-q, --quiet", "log only warnings and errors")
    .option(
      "--json",
      "write one JSON event per line on stdout (round start/end, files, progress, errors)",
    )
    .addOption(
      new Option("--pid-file <file>", "write this process's pid there while it runs").hideHelp(),
    )
    .addHelpText(
      "after",
      `
Examples:
  escale run --once -c ~/escale.conf          one round of every section, then exit
  escale run -r photos                        keep the "photos" section in sync until stopped
  escale run --once --force -r docs           accept a round that deletes many files

CI, without a configuration file (secrets come from variables or files, never flags):
  export ESCALE_PASSPHRASE_FILE=$RUNNER_TEMP/relay.key ESCALE_PASSWORD=...   # from the CI's secrets
  escale run --local dist --relay ftps://ci@relay.example.org/builds --mode upload \\
    --client-name ci --wait-delivered --timeout 30m --summary escale-summary.json
  escale run --local /srv/builds --relay ftps://ci@relay.example.org/builds \\
    --mode mirror-download --client-name lab --wait-for-changes --timeout 1h
See docs/ci.md.
${exitCodeHelp()}`,
    )
    .action(async (o) => {
      const { runCommand } = await import("./run_command.ts");
      const given = o as Record<string, unknown>;
      const overrides = collectOverrides((f) => {
        const option = settings.find((x) => x.flag === f)!.option;
        return given[option.attributeName()] as string | boolean | undefined;
      }, (name) => Deno.env.get(name));
      setCode(
        await runCommand({
          config: o.config,
          overrides,
          wait: {
            delivered: o.waitDelivered,
            changes: o.waitForChanges,
            timeoutSec: o.timeout,
          },
          summary: o.summary,
          once: o.once,
          repository: o.repository,
          force: o.force,
          json: o.json,
          level: levelOf(o),
          pidFile: o.pidFile,
        }, new ConsoleLogger(levelOf(o))),
      );
    });

  for (const { option } of settings) run.addOption(option);

  program
    .command("completions")
    .description("print a shell completion script for escale")
    .argument("<shell>", SHELLS.join(", "))
    .addHelpText(
      "after",
      `
Examples:
  escale completions bash > ~/.local/share/bash-completion/completions/escale
  escale completions zsh > ~/.zfunc/_escale        (with fpath+=(~/.zfunc) before compinit)
  escale completions fish > ~/.config/fish/completions/escale.fish`,
    )
    .action((shell) => {
      if (!(SHELLS as readonly string[]).includes(shell)) {
        throw new EscaleError("usage", `no completions for '${shell}' (use ${SHELLS.join(", ")})`);
      }
      Deno.stdout.writeSync(
        new TextEncoder().encode(completionScript(program, shell as typeof SHELLS[number])),
      );
    });

  const ctl = program
    .command("ctl")
    .description("inspect and manage repositories (access modifiers, ...)");
  const service = (name: string, description: string, fn: (o: ServiceOptions) => Promise<void>) =>
    ctl
      .command(name)
      .description(description)
      .option("-c, --config <file>", "configuration file")
      .addOption(
        new Option("-r, --repository <section>", "only this section (repeatable)").argParser(
          (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
        ),
      )
      .addOption(
        new Option("--timeout <seconds>", "how long to wait").argParser(Number).default(30),
      )
      .option("--json", "machine-readable output (status)")
      .action(async (o) => await fn(o));
  const print = (l: string) => console.log(l);
  const services = () => import("./service_command.ts");
  service(
    "start",
    "start escale in the background for this configuration (a pid file prevents a second instance)",
    async (o) => (await services()).startCommand(o, print),
  );
  service(
    "stop",
    "stop the background instance: SIGTERM interrupts its current step, SIGKILL after --timeout",
    async (o) => (await services()).stopCommand(o, print),
  );
  service("restart", "stop, then start the background instance", async (o) => {
    const { startCommand, stopCommand } = await services();
    await stopCommand(o, print);
    await startCommand(o, print);
  });
  service(
    "status",
    "show whether escale runs, and per repository its last round, pending work, relay usage, last error",
    async (o) => (await services()).statusCommand(o, print),
  );
  ctl
    .command("access")
    .description(
      "show or set the access modifiers of a file: r+/r- (may be uploaded), w+/w- (may be overwritten by downloads), ? = unset",
    )
    .argument(
      "<file>",
      "file inside the repository (absolute, or relative to the current folder or the repository)",
    )
    .argument("[modifiers]", "e.g. r-, w+, r-w+, w? (a bare letter means +)")
    .option("-c, --config <file>", "configuration file")
    .option(
      "-r, --repository <section>",
      "the section the file belongs to (needed when there are several)",
    )
    .addHelpText(
      "after",
      `
Examples:
  escale ctl access ~/reports/draft.txt r-     never upload draft.txt
  escale ctl access -r photos album/cover.jpg w-   never let downloads overwrite it
  escale ctl access notes.txt                  show the current modifiers, e.g. "notes.txt: r?w+"`,
    )
    .action(async (file, mods, o) => {
      const { accessCommand } = await import("./access_command.ts");
      await accessCommand(o, file, mods, (l) => console.log(l));
    });

  ctl
    .command("evict")
    .description("remove a client that will not come back, so pushers stop keeping data for it")
    .argument(
      "<client>",
      "its client name (or id, as shown in the error when the name is ambiguous)",
    )
    .option("-c, --config <file>", "configuration file")
    .option(
      "-r, --repository <section>",
      "the section whose relay to clean (needed when there are several)",
    )
    .option("-v, --verbose", "log every step")
    .addHelpText(
      "after",
      `
Example:
  escale ctl evict -r photos old-laptop     pushers of "photos" no longer wait for old-laptop
A client that is evicted and comes back later joins again and gets a full copy.
With "puller timeout" set, silent pullers are no longer waited for, without eviction.`,
    )
    .action(async (client, o) => {
      const { evictCommand } = await import("./evict_command.ts");
      await evictCommand(o, client, new ConsoleLogger(levelOf(o)), (l) => console.log(l));
    });
  ctl
    .command("test-relay")
    .description(
      "check that the configured relay behaves as escale needs (atomic writes, listings, ranges, ...)",
    )
    .option("-c, --config <file>", "configuration file")
    .addOption(
      new Option("-r, --repository <section>", "only this section (repeatable)").argParser(
        (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
      ),
    )
    .addHelpText(
      "after",
      `
Works in a scratch folder "escale-test-relay-<random>" inside the relay folder, removed at the end.
Example:
  escale ctl test-relay -r photos`,
    )
    .action(async (o) => {
      const { testRelayCommand } = await import("./test_relay_command.ts");
      await testRelayCommand(o, (l) => console.log(l));
    });
  ctl
    .command("keygen")
    .description(
      "write a new random key file (mode 0600) to use as 'passphrase = FILE' on every client",
    )
    .argument("<file>", "where to write the key; an existing file is never overwritten")
    .addHelpText(
      "after",
      `
Example:
  escale ctl keygen ~/.config/escale/photos.key
  then in the configuration:  passphrase = ~/.config/escale/photos.key
  and copy the file to every other client over a channel you trust.`,
    )
    .action(async (file) => {
      const { generateKeyFile } = await import("../crypto/secret_source.ts");
      await generateKeyFile(file);
      console.log(`wrote a new key to ${file} (mode 0600); copy it to every client of the relay`);
    });

  registerInit(program);
  registerMaintenance(program, setCode, exitCodeHelp);
  return program;
}

/** Runs the CLI and returns the process exit code; never throws, never prints a stack trace. */
export async function main(argv: string[]): Promise<number> {
  let code: number = ExitCode.ok;
  const program = buildProgram((n) => (code = n));
  try {
    await program.parseAsync(argv, { from: "user" });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (
        e.code === "commander.helpDisplayed" || e.code === "commander.version" ||
        e.code === "commander.help"
      ) return ExitCode.ok;
      writeUsageSummary(argv, ExitCode.usage, e.message);
      return ExitCode.usage;
    }
    console.error(`escale: ${describeError(e)}`);
    if (Deno.env.get("ESCALE_DEBUG")) console.error(e);
    return exitCodeOf(e);
  } finally {
    // main.ts ends the process with Deno.exit, which would leave a child (rclone, a hook)
    // running: whatever a command did not stop itself is stopped here, on every path.
    await stopChildren();
  }
}
