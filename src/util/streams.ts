import { EscaleError } from "../errors/errors.ts";

export function bytesStream(data: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      if (data.length) c.enqueue(data);
      c.close();
    },
  });
}

/** Reads a whole stream into memory, refusing more than `limit` bytes (hostile relays). */
export async function collect(
  stream: ReadableStream<Uint8Array>,
  limit = 64 * 1024 * 1024,
  what = "object",
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += chunk.length;
    if (total > limit) {
      await stream.cancel().catch(() => {});
      throw new EscaleError("integrity", `${what} is larger than the ${limit}-byte limit`);
    }
    parts.push(chunk);
  }
  return concat(parts, total);
}

export function concat(parts: Uint8Array[], total?: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(total ?? parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export async function drain(stream: ReadableStream<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const c of stream) n += c.length;
  return n;
}

/** Collects an async iterable into an array. */
export async function toArray<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Wraps a stream so that `onChunk` sees every chunk that passes (counting, hashing). */
export function tap(
  stream: ReadableStream<Uint8Array>,
  onChunk: (c: Uint8Array) => void,
): ReadableStream<Uint8Array> {
  return stream.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(c, ctl) {
        onChunk(c);
        ctl.enqueue(c);
      },
    }),
  );
}

export const utf8 = new TextEncoder();
export const fromUtf8 = new TextDecoder("utf-8", { fatal: true });
