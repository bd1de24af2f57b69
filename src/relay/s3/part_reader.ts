/**
 * Cuts an upload into parts of exactly `partSize` bytes (the last one shorter), each a fresh
 * Uint8Array: S3 needs a length per request, which Deno's fetch sends only for in-memory bodies.
 * It reads one chunk ahead so that it can tell whether a full part is also the last one.
 */
export class PartReader {
  readonly partSize: number;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #pending: Uint8Array | null = null;
  #ended = false;

  constructor(source: ReadableStream<Uint8Array>, partSize: number) {
    this.#reader = source.getReader();
    this.partSize = partSize;
  }

  /** The next part, `last` telling whether the source is exhausted after it. */
  async next(): Promise<{ data: Uint8Array; last: boolean }> {
    let buf: Uint8Array | null = null;
    let filled = 0;
    while (filled < this.partSize) {
      const chunk = await this.#take();
      if (!chunk) break;
      const room = this.partSize - filled;
      if (!buf && chunk.length === this.partSize) {
        // A source that already produces whole parts needs no copy.
        buf = chunk;
        filled = chunk.length;
        break;
      }
      buf ??= new Uint8Array(this.partSize);
      const n = Math.min(room, chunk.length);
      buf.set(chunk.subarray(0, n), filled);
      filled += n;
      if (n < chunk.length) this.#pending = chunk.subarray(n);
    }
    const data = buf ? (filled === buf.length ? buf : buf.subarray(0, filled)) : new Uint8Array(0);
    return { data, last: await this.#atEnd() };
  }

  /** Stops reading the source (after a failed upload). */
  async cancel(reason?: unknown): Promise<void> {
    await this.#reader.cancel(reason).catch(() => {});
  }

  async #atEnd(): Promise<boolean> {
    if (this.#pending) return false;
    const chunk = await this.#take();
    if (!chunk) return true;
    this.#pending = chunk;
    return false;
  }

  async #take(): Promise<Uint8Array | null> {
    if (this.#pending) {
      const p = this.#pending;
      this.#pending = null;
      return p;
    }
    while (!this.#ended) {
      const r = await this.#reader.read();
      if (r.done) {
        this.#ended = true;
        return null;
      }
      if (r.value.length) return r.value;
    }
    return null;
  }
}
