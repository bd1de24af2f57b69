import { expectedPullers, type RoundContext } from "./context.ts";
import { forEachLimit } from "./pool.ts";
import { parseCommitKey } from "../protocol/format.ts";

/**
 * Space release: this client deletes its own commits (with their data, together) once every
 * expected puller has acknowledged them, so deletes stay single-writer. Expected pullers are the
 * registered pulling clients, or `puller count` of them when that is configured; a commit
 * addressed to some clients only needs those (or their disappearance).
 */
export async function gcPhase(ctx: RoundContext): Promise<number> {
  const pullers = expectedPullers(ctx);
  const alive = new Set(pullers.map((p) => p.id));
  const registered = [...ctx.clients.values()].filter((c) => c.pulls && c.id !== ctx.me).length;
  const releasable: { ref: typeof ctx.commits[number]; objects: string[] }[] = [];
  for (const ref of ctx.commits) {
    if (ref.cid !== ctx.me) continue;
    let meta = ctx.state.getPublished(ref.seq);
    if (!meta) {
      // State lost or restored: the commit itself says what it holds.
      const c = await ctx.store.readCommit(ref);
      meta = { targets: c.for, objects: c.objects.map((o) => o.key) };
    }
    const acked = (cid: string) => (ctx.clients.get(cid)?.acks[ctx.me] ?? 0) >= ref.seq;
    let done: boolean;
    if (meta.targets) done = meta.targets.every((t) => !alive.has(t) || acked(t));
    else if (ctx.opts.pullerCount) {
      done = pullers.filter((p) => acked(p.id)).length >= ctx.opts.pullerCount;
    } else {
      // Someone must have registered to pull (a lone pusher keeps its commits for the first
      // puller); pullers silent beyond `puller timeout` are not waited for.
      done = registered > 0 && pullers.every((p) => acked(p.id));
    }
    if (done) releasable.push({ ref, objects: meta.objects });
  }
  // Every delete of a release goes out together, the commits with their data, so that it costs
  // one round trip whatever the number of commits. The keys are written to the state first: a
  // release cut short (a crash, a failed delete) is finished by the next round, even where the
  // commit went first and nothing on the relay names its data any more. A reader meanwhile may
  // find a commit whose data is gone: it was acknowledged by everyone it is for, and a late
  // reader asks for a full copy instead (relay-format §6, rule 4).
  const unfinished = ctx.state.releasing();
  const keys = [
    ...new Set([...unfinished, ...releasable.flatMap((r) => [...r.objects, r.ref.key])]),
  ];
  if (!keys.length) return 0;
  ctx.state.setReleasing(keys);
  const limit = Math.max(1, ctx.store.relay.capabilities.parallel);
  // Commits are only ever written create-if-absent (random temporary names): nothing to clean
  // under their derived temporary names, one request fewer per commit on WebDAV and rclone.
  await forEachLimit(
    keys,
    limit,
    (key) => ctx.store.delete(key, { onlyCreated: parseCommitKey(key) !== null }),
  );
  ctx.state.tx(() => {
    for (const { ref } of releasable) {
      ctx.state.forgetPublished(ref.seq);
      if (ref.seq > ctx.state.gcFloor()) ctx.state.setGcFloor(ref.seq);
    }
    ctx.state.setReleasing([]);
  });
  const gone = new Set(releasable.map((r) => r.ref.key));
  ctx.commits = ctx.commits.filter((c) => !gone.has(c.key));
  const released = releasable.length;
  ctx.stats.garbageCollected += released;
  return released;
}
