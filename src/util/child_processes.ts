/**
 * The child processes this process started and has not seen exit (rclone, the failure hook,
 * find, bzip2).
 * Whoever starts one registers it, so that a run that has to end at once (a signal, a step that
 * will not finish) can stop them all: `Deno.exit` leaves children running, and an `rclone rcd`
 * left behind would serve the relay, with its credentials, until the machine restarts.
 */
const live = new Set<Deno.ChildProcess>();

/** Registers `child` until it exits; returns it. */
export function trackChild(child: Deno.ChildProcess): Deno.ChildProcess {
  live.add(child);
  child.status.then(() => live.delete(child), () => live.delete(child));
  return child;
}

/** How many registered children have not exited yet. */
export function liveChildren(): number {
  return live.size;
}

/**
 * Sends SIGTERM to every registered child, waits up to `graceMs` for them to exit, then kills
 * what is left with SIGKILL.
 */
export async function stopChildren(graceMs = 2000): Promise<void> {
  if (live.size === 0) return;
  const children = [...live];
  const send = (c: Deno.ChildProcess, s: Deno.Signal) => {
    try {
      c.kill(s);
    } catch { /* exited meanwhile */ }
  };
  for (const c of children) send(c, "SIGTERM");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
  await Promise.race([Promise.all(children.map((c) => c.status.catch(() => {}))), late]);
  clearTimeout(timer);
  for (const c of live) send(c, "SIGKILL");
}
