import { runConformance } from "../../src/relay/conformance.ts";
import type { Relay } from "../../src/relay/relay.ts";

/** Registers the shared conformance suite as one Deno test step per check. */
export async function conformanceSteps(
  t: Deno.TestContext,
  relay: Relay,
  scratch = "conformance",
): Promise<void> {
  const results = await runConformance(relay, scratch);
  for (const r of results) {
    await t.step(r.name, () => {
      if (!r.ok) throw new Error(`${relay.name}: ${r.name}: ${r.detail}`);
    });
  }
}
