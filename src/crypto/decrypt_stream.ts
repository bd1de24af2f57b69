import { HEADER_SIZE, type SegmentCipher, TAG_SIZE } from "./segment_cipher.ts";
import { ReadAhead } from "./read_ahead.ts";

/** Segments opened per pull at most, so a huge source chunk does not flood the output queue. */
const SEGMENTS_PER_PULL = 16;

/** Which part of an object a decrypting read covers. */
export interface SegmentRange {
  /** index of the first segment in the source */
  first: number;
  /** index of the last segment wanted; undefined reads to the end and demands the final segment */
  last?: number;
  /** plaintext bytes to drop from the start of the first segment */
  skip: number;
  /** plaintext bytes to deliver at most */
  take?: number;
}

export interface DecryptOptions {
  segmentSize: number;
  /** builds the cipher from the object header; null when the header is unreadable */
  cipherFor: (header: Uint8Array) => SegmentCipher | null;
  /** the header when it was read separately; otherwise the source starts with it */
  header?: Uint8Array;
  range: SegmentRange;
  /** the error to raise for anything that fails authentication */
  failure: () => Error;
  /** decides what a source without a single segment means (a read past the end, or truncation) */
  onEmpty?: () => Promise<void>;
}

/**
 * Opens sealed segments from `source` and streams their plaintext. A segment's plaintext is
 * delivered only after its tag verified, so a consumer never sees a byte that failed
 * authentication; truncation after the last full segment is reported when the source ends.
 */
export function decryptStream(
  source: ReadableStream<Uint8Array>,
  opts: DecryptOptions,
): ReadableStream<Uint8Array> {
  const sealedSize = opts.segmentSize + TAG_SIZE;
  const reader = new ReadAhead(source);
  const pending = new Uint8Array(Math.max(sealedSize, HEADER_SIZE));
  let fill = 0;
  let cipher: SegmentCipher | null = null;
  let index = opts.range.first;
  let opened = 0;
  let skip = opts.range.skip;
  let left = opts.range.take ?? Infinity;
  let finished = false;
  // The chunk being worked on; a large one is opened over several pulls to bound the queue.
  let chunk: Uint8Array | null = null;
  let pos = 0;

  if (opts.header) {
    cipher = opts.cipherFor(opts.header);
  }

  const deliver = (ctl: ReadableStreamDefaultController<Uint8Array>, plain: Uint8Array) => {
    let p = plain;
    if (skip > 0) {
      const drop = Math.min(skip, p.length);
      skip -= drop;
      p = p.subarray(drop);
    }
    if (p.length > left) p = p.subarray(0, left);
    left -= p.length;
    if (p.length) ctl.enqueue(p);
  };

  const reject = (ctl: ReadableStreamDefaultController<Uint8Array>) => {
    finished = true;
    ctl.error(opts.failure());
    reader.cancel().catch(() => {});
  };

  /** Opens one full (never final) segment; false when it failed authentication. */
  const openFull = (ctl: ReadableStreamDefaultController<Uint8Array>, sealed: Uint8Array) => {
    const plain = cipher?.open(index, false, sealed) ?? null;
    if (plain === null) return false;
    index++;
    opened++;
    deliver(ctl, plain);
    return true;
  };

  const wantedAll = () => opts.range.last !== undefined && index > opts.range.last;

  return new ReadableStream<Uint8Array>({
    async pull(ctl) {
      if (finished) return;
      if (opts.header && cipher === null) return reject(ctl);
      for (;;) {
        if (chunk === null || pos >= chunk.length) {
          const r = await reader.read();
          if (r.done) {
            finished = true;
            if (cipher === null) return reject(ctl);
            if (fill === 0) {
              if (opened === 0 && opts.onEmpty) {
                try {
                  await opts.onEmpty();
                } catch (e) {
                  ctl.error(e);
                  return;
                }
                ctl.close();
                return;
              }
              // A sealed object always ends with a short final segment: its absence is truncation.
              return reject(ctl);
            }
            const plain = cipher.open(index, true, pending.subarray(0, fill));
            if (plain === null) return reject(ctl);
            deliver(ctl, plain);
            ctl.close();
            return;
          }
          chunk = r.value;
          pos = 0;
          reader.ahead();
        }
        const before = opened;
        while (pos < chunk.length && opened - before < SEGMENTS_PER_PULL) {
          if (cipher === null) {
            const n = Math.min(HEADER_SIZE - fill, chunk.length - pos);
            pending.set(chunk.subarray(pos, pos + n), fill);
            fill += n;
            pos += n;
            if (fill === HEADER_SIZE) {
              cipher = opts.cipherFor(pending.slice(0, HEADER_SIZE));
              if (cipher === null) return reject(ctl);
              fill = 0;
            }
            continue;
          }
          if (fill === 0 && chunk.length - pos >= sealedSize) {
            if (!openFull(ctl, chunk.subarray(pos, pos + sealedSize))) return reject(ctl);
            pos += sealedSize;
          } else {
            const n = Math.min(sealedSize - fill, chunk.length - pos);
            pending.set(chunk.subarray(pos, pos + n), fill);
            fill += n;
            pos += n;
            if (fill === sealedSize) {
              if (!openFull(ctl, pending.subarray(0, sealedSize))) return reject(ctl);
              fill = 0;
            }
          }
          if (wantedAll()) {
            finished = true;
            ctl.close();
            await reader.cancel().catch(() => {});
            return;
          }
        }
        if (opened > before) return;
      }
    },
    cancel(reason) {
      finished = true;
      return reader.cancel(reason);
    },
  });
}
