/** How long the listing `open()` took of the relay folder answers the listings that follow. */
export const OPENING_LISTING_MS = 5_000;

/**
 * Listings of relay folders, shared between the callers of one backend. A listing of files and
 * one of sub-folders asked at the same moment (detecting the layout does) share one request. A
 * listing joins another only when no write or delete ended since that one began, so that it
 * still shows everything that was complete when it was asked for.
 *
 * The listing a backend's `open()` takes of the relay folder (to check the folder, the
 * credentials or the data connection) is kept the same way for OPENING_LISTING_MS: the layout
 * detection that follows opening then needs no request of its own. Nothing else is kept once
 * answered, so a listing asked after reading something never predates what it read (the engine
 * relies on that for its commits).
 */
export class SharedListings<T> {
  #changes = 0;
  readonly #shared = new Map<string, { since: number; until: number; answer: Promise<T> }>();

  /** Counts a write or a delete that ended (successful or not: it may have happened). */
  changed(): void {
    this.#changes++;
  }

  /** The listing of `dir`: one in flight (or kept) if it can be joined, else `fetch()`. */
  get(dir: string, fetch: () => Promise<T>): Promise<T> {
    const found = this.#shared.get(dir);
    if (found && found.since === this.#changes && Date.now() <= found.until) return found.answer;
    const mine = {
      since: this.#changes,
      until: Infinity,
      answer: fetch().finally(() => {
        if (this.#shared.get(dir) === mine) this.#shared.delete(dir);
      }),
    };
    this.#shared.set(dir, mine);
    return mine.answer;
  }

  /** Keeps what `open()` listed of `dir` for the listings asked in the next moments. */
  keep(dir: string, answer: T): void {
    this.#shared.set(dir, {
      since: this.#changes,
      until: Date.now() + OPENING_LISTING_MS,
      answer: Promise.resolve(answer),
    });
  }
}
