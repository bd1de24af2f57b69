import { assert, failure } from "../assert.ts";
import { runConformance } from "../../src/relay/conformance.ts";
import type { Relay } from "../../src/relay/relay.ts";

/**
 * Registers the shared conformance suite as one Deno test step per check. `serverLimits` names
 * checks that the test server (not the backend) is known to fail, with the reason: such a check
 * is reported as skipped when it fails, and must fail the way the reason says (a detail matching
 * `detail`), so that a real regression of the backend still shows. `explain` adds the server's
 * own account (its error log) to a failure's message.
 */
export async function conformanceSteps(
  t: Deno.TestContext,
  relay: Relay,
  scratch = "conformance",
  serverLimits: Record<string, { reason: string; detail: RegExp }> = {},
  explain?: () => Promise<string[]>,
): Promise<void> {
  const results = await runConformance(relay, scratch);
  const failed = results.some((r) => !r.ok && !serverLimits[r.name]?.detail.test(r.detail ?? ""));
  const account = failed && explain ? (await explain()).join("\n") : "";
  for (const r of results) {
    const limit = serverLimits[r.name];
    const excused = !r.ok && limit !== undefined && limit.detail.test(r.detail ?? "");
    const skipped = r.skipped ?? (excused ? limit.reason : undefined);
    await t.step({
      name: skipped ? `${r.name} (skipped: ${skipped})` : r.name,
      fn: () => {
        if (!r.ok && !excused) {
          const server = account ? `\nthe server's error log:\n${account}` : "";
          throw new Error(`${relay.name}: ${r.name}: ${r.detail}${server}`);
        }
      },
    });
  }
}

/**
 * Writes a 16 MiB object "big", then aborts a read of it and a streamed write of "w" midway:
 * both must fail as "interrupted", and the unfinished write must not become visible.
 */
export async function abortsInterruptTransfers(r: Relay, label: string): Promise<void> {
  await r.write("big", new Uint8Array(16 * 1024 * 1024));
  const reading = new AbortController();
  const re = await failure((async () => {
    let n = 0;
    for await (const c of await r.read("big", { signal: reading.signal })) {
      n += c.length;
      if (n > 1_000_000) reading.abort();
    }
  })());
  assert(re.kind === "interrupted", `read (${label}): ${re.kind}: ${re.message}`);
  const writing = new AbortController();
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      if (sent > 2_000_000) writing.abort();
      if (sent > 64_000_000) return c.close();
      c.enqueue(new Uint8Array(65536));
      sent += 65536;
    },
  });
  const we = await failure(r.write("w", () => body, { signal: writing.signal }));
  assert(we.kind === "interrupted", `write (${label}): ${we.kind}: ${we.message}`);
  assert((await r.stat("w")) === null, "an interrupted write became visible");
}
