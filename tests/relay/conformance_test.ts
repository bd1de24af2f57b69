import { assert, assertEquals } from "../assert.ts";
import { conformanceCheckNames, runConformance } from "../../src/relay/conformance.ts";
import { MemoryRelay } from "../../src/relay/memory_relay.ts";
import type { ReadOptions } from "../../src/relay/relay.ts";
import { RetryRelay } from "../../src/relay/retry_relay.ts";
import { bytesStream, collect } from "../../src/util/streams.ts";

const ATOMIC = "create-if-absent is atomic: of concurrent creators exactly one wins";
const RANGE = "a range read transfers the range, not the bytes it skips";

/** A memory relay that claims less than it can do. */
class Modest extends MemoryRelay {
  override readonly capabilities = {
    ...new MemoryRelay().capabilities,
    createIfAbsent: false,
    rangeRead: false,
  };
}

/** A relay claiming range reads that fetches the whole object and cuts the range out of it. */
class WholeReads extends MemoryRelay {
  #got = 0;
  override received(): number {
    return this.#got;
  }
  override async read(key: string, opts: ReadOptions = {}): Promise<ReadableStream<Uint8Array>> {
    const whole = await collect(await super.read(key), Number.MAX_SAFE_INTEGER);
    this.#got += whole.length;
    const start = opts.offset ?? 0;
    const end = opts.length === undefined ? whole.length : start + opts.length;
    return bytesStream(whole.slice(start, end));
  }
}

Deno.test("conformance: a check of a capability the backend does not claim says skipped", async () => {
  const results = await runConformance(new Modest(), "scratch");
  assertEquals(results.map((r) => r.name), conformanceCheckNames);
  const skipped = Object.fromEntries(results.filter((r) => r.skipped).map((r) => [r.name, r]));
  assertEquals(
    Object.keys(skipped).sort(),
    [
      ATOMIC,
      RANGE,
      "an upload left unfinished by a killed process is replaced, then removed",
    ].sort(),
  );
  assert(skipped[ATOMIC].skipped!.includes("does not claim atomic create-if-absent"));
  assert(skipped[RANGE].skipped!.includes("does not claim range reads"));
  assert(results.every((r) => r.ok), JSON.stringify(results.filter((r) => !r.ok)));
  // Claimed, the same checks run (and pass on the memory relay, through a wrapper too).
  const full = await runConformance(new RetryRelay(new MemoryRelay(), { retries: 0 }), "scratch");
  for (const name of [ATOMIC, RANGE]) {
    const r = full.find((x) => x.name === name)!;
    assert(r.ok && r.skipped === undefined, `${name}: ${JSON.stringify(r)}`);
  }
});

Deno.test("conformance: a backend that claims range reads but transfers whole objects fails", async () => {
  const results = await runConformance(new WholeReads(), "scratch");
  const range = results.find((r) => r.name === RANGE)!;
  assert(!range.ok, JSON.stringify(range));
  assert(range.detail!.includes("the skipped bytes were transferred"), range.detail);
  // The ranges it returns are right: only the traffic gives it away.
  assert(results.find((r) => r.name === "read a byte range")!.ok);
});
