/**
 * A stream reader that keeps the next read in flight while the caller works on the current
 * chunk. Sealing and opening run on the main thread; asking for the next chunk first lets the
 * source's I/O (a file read, a socket) proceed meanwhile instead of strictly taking turns.
 */
export class ReadAhead {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #next: Promise<ReadableStreamReadResult<Uint8Array>> | null = null;

  constructor(source: ReadableStream<Uint8Array>) {
    this.#reader = source.getReader();
  }

  read(): Promise<ReadableStreamReadResult<Uint8Array>> {
    const p = this.#next ?? this.#reader.read();
    this.#next = null;
    return p;
  }

  /** Starts the next read now; its result (or error) is what the next `read` returns. */
  ahead(): void {
    if (this.#next) return;
    this.#next = this.#reader.read();
    // Observed later by `read`; without this an error nobody waits for would be "unhandled".
    this.#next.catch(() => {});
  }

  cancel(reason?: unknown): Promise<void> {
    this.#next = null;
    return this.#reader.cancel(reason);
  }
}
