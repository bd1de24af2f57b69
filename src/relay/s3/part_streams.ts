import { RelayError } from "../../errors/errors.ts";

/** One part cut from a stream: its bytes stream straight from the source, so it goes once. */
export interface StreamPart {
  stream: ReadableStream<Uint8Array>;
  size: number;
  last: boolean;
}

/**
 * Cuts a stream of known length into consecutive parts of `partSize` bytes (the last one
 * shorter), each a stream of its own that reads from the source as the upload consumes it:
 * nothing is held but the chunk in hand, whatever the part size. Part n + 1 must be taken only
 * once part n has been read to its end. A source that turns out shorter or longer than `size`
 * fails the part that notices it.
 */
export class PartStreams {
  readonly partSize: number;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #size: number;
  readonly #what: string;
  #pending: Uint8Array | null = null;
  /** bytes of the source not yet handed to a part */
  #left: number;

  constructor(source: ReadableStream<Uint8Array>, size: number, partSize: number, what: string) {
    this.#reader = source.getReader();
    this.#size = size;
    this.#left = size;
    this.partSize = partSize;
    this.#what = what;
  }

  next(): StreamPart {
    const size = Math.min(this.partSize, this.#left);
    this.#left -= size;
    const last = this.#left === 0;
    return { stream: this.#part(size, last), size, last };
  }

  /** Stops reading the source (after a failed upload). */
  async cancel(reason?: unknown): Promise<void> {
    await this.#reader.cancel(reason).catch(() => {});
  }

  #part(size: number, last: boolean): ReadableStream<Uint8Array> {
    let left = size;
    return new ReadableStream<Uint8Array>({
      pull: async (c) => {
        if (left === 0) {
          // The last part also makes sure that the source has nothing more.
          if (last && (this.#pending || !(await this.#reader.read()).done)) {
            throw this.#wrongLength("is longer than");
          }
          return c.close();
        }
        let chunk = this.#pending;
        this.#pending = null;
        while (!chunk?.length) {
          const r = await this.#reader.read();
          if (r.done) throw this.#wrongLength("ended before");
          chunk = r.value;
        }
        if (chunk.length > left) {
          this.#pending = chunk.subarray(left);
          chunk = chunk.subarray(0, left);
        }
        left -= chunk.length;
        c.enqueue(chunk);
      },
    }, { highWaterMark: 0 });
  }

  #wrongLength(how: string): RelayError {
    return new RelayError(
      "permanent",
      `${this.#what}: the data to send ${how} the ${this.#size} bytes announced`,
    );
  }
}
