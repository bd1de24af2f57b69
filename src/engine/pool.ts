/** Runs `fn` over `items` with at most `limit` in flight; the first failure rejects (others finish). */
export async function forEachLimit<T>(
  items: T[],
  limit: number,
  fn: (item: T, i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed: unknown = undefined;
  let hasFailed = false;
  const worker = async () => {
    while (!hasFailed && next < items.length) {
      const i = next++;
      try {
        await fn(items[i], i);
      } catch (e) {
        if (!hasFailed) {
          hasFailed = true;
          failed = e;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (hasFailed) throw failed;
}

/**
 * A gate that runs the tasks given to it with at most `limit` in flight, in the order given:
 * for work started at different moments that shares one bound.
 */
export function limiter(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    // A finishing task hands its place to the next waiting one, so none can slip in between.
    if (running >= Math.max(1, limit)) await new Promise<void>((go) => waiting.push(go));
    else running++;
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
}
