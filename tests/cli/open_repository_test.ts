import { assertEquals } from "../assert.ts";
import { detectWhileOpening } from "../../src/cli/open_repository.ts";
import { readOpening } from "../../src/protocol/open_store.ts";
import { HEADER_KEY } from "../../src/protocol/format.ts";
import { MOVED_KEY } from "../../src/protocol/moved_record.ts";
import { utf8 } from "../../src/util/streams.ts";
import { OverlapRelay } from "../relay/overlap_relay.ts";

const HEADER = JSON.stringify({
  format: "escale-relay",
  version: 1,
  created: "2026-12-03T00:00:00.000Z",
  encryption: null,
});

Deno.test("opening reads the moved record and the header together", async () => {
  const relay = new OverlapRelay([`read ${MOVED_KEY}`, `read ${HEADER_KEY}`]);
  await relay.write(HEADER_KEY, utf8.encode(HEADER));
  assertEquals((await readOpening(relay))?.created, "2026-12-03T00:00:00.000Z");
  assertEquals(relay.apart, [], "requests sent one after another");
});

Deno.test("opening a native relay: detection, moved record and header in one round trip", async () => {
  const relay = new OverlapRelay([
    "list ",
    "folders ",
    `read ${MOVED_KEY}`,
    `read ${HEADER_KEY}`,
  ]);
  await relay.write(HEADER_KEY, utf8.encode(HEADER));
  await relay.write("clients/a", utf8.encode("{}"));
  const { layout, opening } = await detectWhileOpening(relay);
  assertEquals(layout.kind, "native");
  assertEquals((await opening)?.created, "2026-12-03T00:00:00.000Z");
  assertEquals(relay.apart, [], "requests sent one after another");
});
