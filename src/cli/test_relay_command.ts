import { loadConfig } from "../config/load_config.ts";
import { findConfigFile } from "../config/find_config.ts";
import { EscaleError } from "../errors/errors.ts";
import { runConformance } from "../relay/conformance.ts";
import { openRelayStack } from "./open_relay.ts";

/**
 * `escale ctl test-relay`: runs the backend conformance suite against the configured relay, in a
 * scratch folder beside the relay's objects that it removes afterwards, and reports each check.
 * Returns whether everything passed.
 */
export async function testRelayCommand(
  opts: { config?: string; repository?: string[] },
  print: (line: string) => void,
): Promise<boolean> {
  const cfg = await loadConfig(findConfigFile(opts.config), { sections: opts.repository });
  let allOk = true;
  for (const s of cfg.sections) {
    // Through the same retries as a sync round: a transient failure that a round would ride out
    // is reported as retried, not as a failed check.
    let retried = 0;
    const relay = await openRelayStack(s.relay, { onRetry: () => retried++ });
    try {
      print(`${s.name}: testing ${relay.name}`);
      const scratch = `escale-test-relay-${crypto.randomUUID().slice(0, 8)}`;
      const results = await runConformance(relay, scratch);
      for (const r of results) {
        if (r.skipped) print(`  skip ${r.name}: ${r.skipped}`);
        else {
          print(
            `  ${r.ok ? "ok  " : "FAIL"} ${r.name} (${Math.round(r.ms)} ms)${
              r.ok ? "" : `: ${r.detail}`
            }`,
          );
        }
      }
      const failed = results.filter((r) => !r.ok).length;
      const skipped = results.filter((r) => r.skipped).length;
      const caps = relay.capabilities;
      print(
        `  capabilities: atomic create-if-absent ${
          caps.createIfAbsent ? "yes" : "no"
        }, range reads ${
          caps.rangeRead ? "yes" : "no"
        }, ${caps.parallel} parallel requests, keys up to ${caps.maxKeyLength} characters`,
      );
      if (retried) print(`  ${retried} transient failures were retried`);
      print(
        `  ${results.length - failed - skipped} passed, ${failed} failed` +
          (skipped ? `, ${skipped} skipped` : ""),
      );
      if (failed) allOk = false;
    } finally {
      await relay.close().catch(() => {});
    }
  }
  if (!allOk) {
    throw new EscaleError("permanent", "the relay failed some conformance checks (see above)");
  }
  return allOk;
}
