// What --wait-delivered and --wait-for-changes decide after a round, and how they say it.
import { assertEquals } from "../assert.ts";
import { RunWait } from "../../src/cli/run_waits.ts";
import { emptyStats, type RepoStatus } from "../../src/engine/context.ts";

const status = (over: Partial<RepoStatus>): RepoStatus => ({
  pendingUploads: 0,
  pendingDownloads: 0,
  unsent: 0,
  unreleased: 0,
  pullers: [],
  waitingOn: [],
  relayBytes: 0,
  problems: [],
  ...over,
});

Deno.test("wait: delivery is done when nothing is unsent and nothing unreleased", () => {
  const w = new RunWait({ delivered: true });
  const t = emptyStats();
  assertEquals(w.check(status({}), t).done, true);
  assertEquals(w.check(status({ unsent: 2 }), t), {
    done: false,
    missing: [],
    message: "2 changes not published yet",
  });
  assertEquals(
    w.check(
      status({ unreleased: 3, pullers: ["lab", "qa"], waitingOn: [{ client: "lab", commits: 3 }] }),
      t,
    ),
    { done: false, missing: ["lab"], message: "not yet received by lab (3 commits)" },
  );
  assertEquals(
    w.check(status({ unreleased: 1 }), t).message,
    "no puller has registered on the relay yet",
  );
  assertEquals(
    new RunWait({ delivered: true }, 2).check(status({ unreleased: 1, pullers: ["lab"] }), t)
      .message,
    "waiting for more pullers (puller count 2; registered: lab)",
  );
});

Deno.test("wait: changes are done once a round of this run applied something", () => {
  const w = new RunWait({ changes: true, timeoutSec: 90 }, undefined, 0);
  const t = emptyStats();
  assertEquals(w.check(null, t).message, "nothing new has arrived yet");
  t.commitsApplied = 1;
  assertEquals(w.check(null, t).done, true);
  assertEquals(w.timedOut(w.check(null, emptyStats())).exitCode, 10);
  assertEquals(
    w.timedOut(w.check(null, emptyStats())).message,
    "timed out after 1 min 30 s: nothing new has arrived yet",
  );
});
