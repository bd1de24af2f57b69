import { expectedPullers, type RoundContext } from "./context.ts";
import { forEachLimit } from "./pool.ts";

/**
 * Space release: this client deletes its own commits (data first, then the commit) once every
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
  // Every delete of a release goes out together, so that it costs two round trips whatever
  // the number of commits: first the data of all of them, then, once all the data is gone, the
  // commits. A commit must outlive its data, or a crash in between would leave data that no
  // commit names and that nobody would ever delete; a commit whose data is gone is harmless
  // (every puller it is meant for has it) and is deleted again by the next round.
  const limit = Math.max(1, ctx.store.relay.capabilities.parallel);
  await forEachLimit(releasable.flatMap((r) => r.objects), limit, (key) => ctx.store.delete(key));
  let released = 0;
  const releasedKeys: string[] = [];
  await forEachLimit(releasable, limit, async ({ ref }) => {
    await ctx.store.delete(ref.key);
    releasedKeys.push(ref.key);
    ctx.state.tx(() => {
      ctx.state.forgetPublished(ref.seq);
      if (ref.seq > ctx.state.gcFloor()) {
        ctx.state.setGcFloor(ref.seq);
      }
    });
    released++;
  });
  if (released) {
    const left = new Set(ctx.commits.map((c) => c.key));
    for (const key of releasedKeys) left.delete(key);
    ctx.commits = ctx.commits.filter((c) => left.has(c.key));
  }
  ctx.stats.garbageCollected += released;
  return released;
}
