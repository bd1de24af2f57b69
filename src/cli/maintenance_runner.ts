import type { LoadedConfig, SectionSettings } from "../config/settings.ts";
import { describeError, exitCodeOf } from "../errors/errors.ts";
import { ConsoleLogger } from "../log/console_logger.ts";
import type { Logger } from "../log/logger.ts";
import { loadOneSection } from "./load_one_section.ts";
import { MaintenanceOutput } from "./maintenance_output.ts";

export interface MaintenanceFlags {
  config?: string;
  repository?: string;
  json?: boolean;
  verbose?: boolean;
}

export interface MaintenanceRun {
  cfg: LoadedConfig;
  section: SectionSettings;
  out: MaintenanceOutput;
  log: Logger;
  /** aborted by SIGINT or SIGTERM: every relay operation is interrupted */
  signal: AbortSignal;
}

/**
 * The frame every maintenance command runs in: one section of the configuration, output as
 * progress bars, plain lines or `--json` events, and SIGINT/SIGTERM interrupting the relay
 * operations (exit 130; what was done is left consistent, and a re-run resumes). A failure is
 * reported as a JSON `error` event too, then rethrown for main() to print as one line.
 */
export async function runMaintenance(
  flags: MaintenanceFlags,
  body: (run: MaintenanceRun) => Promise<number>,
): Promise<number> {
  const { cfg, section } = await loadOneSection(flags);
  const secrets = [section.relay.password, section.relay.sessionToken].filter((s): s is string =>
    typeof s === "string" && s !== ""
  );
  const out = await MaintenanceOutput.create(flags.json ?? false, secrets);
  const log = new ConsoleLogger(flags.verbose ? "debug" : flags.json ? "warn" : "info")
    .child(section.name);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  try {
    return await body({ cfg, section, out, log, signal: stop.signal });
  } catch (e) {
    out.error(describeError(e), exitCodeOf(e));
    throw e;
  } finally {
    out.close();
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
  }
}
