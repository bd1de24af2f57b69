// Every child escale starts is registered, so that stopChildren (a signal, the end of main) stops
// it: here the two that are not rclone or the failure hook, GNU find for the scan and the bzip2
// filter of Escale's index layout.
import { scanLocal } from "../../src/engine/scan.ts";
import { StateDb } from "../../src/state/state_db.ts";
import { bzip2Program } from "../../src/util/bzip2_program.ts";
import { liveChildren, stopChildren } from "../../src/util/child_processes.ts";
import { assert, assertEquals } from "../assert.ts";

Deno.test("stopChildren stops a bzip2 filter that waits for its input", async () => {
  const before = liveChildren();
  const bz = bzip2Program("decompress", "the test needs", "install bzip2");
  assertEquals(liveChildren(), before + 1, "bzip2 is registered");
  const reading = new Response(bz.readable).text().then(() => "ended", (e) => e as Error);
  await stopChildren();
  // Killed by SIGTERM, not a clean end: the reader is told that decompression failed.
  const outcome = await reading;
  assert(
    outcome instanceof Error && /bzip2 decompression failed/.test(outcome.message),
    String(outcome),
  );
  assertEquals(liveChildren(), before, "nothing left");
  await bz.writable.abort().catch(() => {});
});

Deno.test("the scan's find is registered while it runs, and stopping it changes no result", async () => {
  const dir = await Deno.makeTempDir({ prefix: "escale-children-" });
  const state = StateDb.open(`${dir}/state.db`);
  try {
    await Deno.mkdir(`${dir}/tree/sub`, { recursive: true });
    for (const f of ["a", "b", "sub/c"]) await Deno.writeTextFile(`${dir}/tree/${f}`, f);
    const before = liveChildren();
    const scanning = scanLocal({
      root: `${dir}/tree`,
      state,
      filter: { acceptFile: () => true, acceptDir: () => true },
      hiddenFiles: false,
      me: "me",
    });
    // scanLocal starts find before its first await.
    assertEquals(liveChildren(), before + 1, "find is registered");
    // A stopped find makes the scan walk the tree itself.
    await stopChildren();
    const r = await scanning;
    assertEquals([r.files, r.changed.sort()], [3, ["a", "b", "sub/c"]]);
    assertEquals(liveChildren(), before, "nothing left");
  } finally {
    state.close();
    await Deno.remove(dir, { recursive: true });
  }
});
