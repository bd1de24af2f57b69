import process from "node:process";
import { EscaleError } from "../errors/errors.ts";

type Pair = { writable: WritableStream<Uint8Array>; readable: ReadableStream<Uint8Array> };

/**
 * Input per bzip2 stream: one block at `-9` (900 kB). Each chunk becomes a complete bzip2
 * stream and the streams are concatenated, which bzip2 allows (`bzip2 -d`, Python's `bz2`
 * module and BZ2File, tarfile's `r:bz2` and escale's decoders all read every stream), so memory
 * stays at one chunk in, one out, and the library's work space, whatever the input's size.
 */
const CHUNK = 900_000;

interface Result {
  error: number;
  errorMsg: string;
  output: Uint8Array;
  delete?: () => void;
}
interface Module {
  calledRun?: boolean;
  onRuntimeInitialized?: () => void;
  compressBZ2(input: Uint8Array, blockSize: number, workFactor: number): Result;
}

let factory: Promise<() => Module> | null = null;

/**
 * A fresh instance of libbzip2 compiled to WebAssembly (npm `libbzip2-wasm`, CyberChef's). Its
 * Emscripten glue adds process-wide `uncaughtException` and `unhandledRejection` listeners (the
 * latter aborts the module and prints the reason); they are removed at once, so that escale's
 * own error handling stays the only one. Boxed: the module has a `then` that resolves with
 * itself, which a promise would follow forever.
 */
async function instance(): Promise<{ m: Module }> {
  factory ??= import("libbzip2-wasm").then((mod) => mod.default as unknown as () => Module);
  const make = await factory;
  const events = ["uncaughtException", "unhandledRejection"];
  const emitter = process as unknown as {
    listeners(e: string): unknown[];
    removeListener(e: string, l: unknown): void;
  };
  const before = events.map((e) => new Set(emitter.listeners(e)));
  const m = make();
  await new Promise<void>((resolve) => {
    if (m.calledRun) resolve();
    else m.onRuntimeInitialized = resolve;
  });
  events.forEach((e, i) => {
    for (const l of emitter.listeners(e)) if (!before[i].has(l)) emitter.removeListener(e, l);
  });
  return { m };
}

/**
 * The library never frees the buffers of a call (its memory grows by each call's input and
 * output, `delete()` or not): an instance is dropped, memory and all, after this much.
 */
const RECYCLE_AFTER = 32 * 1024 * 1024;

/**
 * A bzip2 encoder that needs nothing installed (the system's `bzip2` program is about twice as
 * fast: util/bzip2.ts prefers it). Streaming in 900 kB chunks, one bzip2 stream each.
 */
export function bzip2Wasm(): Pair {
  let pending = new Uint8Array(CHUNK);
  let filled = 0;
  let emitted = false;
  let current: Promise<{ m: Module }> | null = null;
  let since = 0;
  const compress = async (
    data: Uint8Array,
    out: TransformStreamDefaultController<Uint8Array>,
  ) => {
    if (since > RECYCLE_AFTER) [current, since] = [null, 0];
    current ??= instance();
    const { m } = await current;
    const r = m.compressBZ2(data, 9, 0);
    try {
      if (r.error) {
        throw new EscaleError("local-io", `bzip2 compression failed: ${r.errorMsg || r.error}`);
      }
      // A view into the module's memory, which the next call reuses: copied out.
      out.enqueue(r.output.slice());
      since += data.length + r.output.length;
      emitted = true;
    } finally {
      r.delete?.();
    }
  };
  const t = new TransformStream<Uint8Array, Uint8Array>({
    async transform(chunk, out) {
      let at = 0;
      while (at < chunk.length) {
        const n = Math.min(CHUNK - filled, chunk.length - at);
        pending.set(chunk.subarray(at, at + n), filled);
        filled += n;
        at += n;
        if (filled === CHUNK) {
          await compress(pending, out);
          pending = new Uint8Array(CHUNK);
          filled = 0;
        }
      }
    },
    async flush(out) {
      // An empty input still makes one (empty) stream, as the program writes.
      if (filled > 0 || !emitted) await compress(pending.subarray(0, filled), out);
    },
  });
  return { writable: t.writable, readable: t.readable };
}
