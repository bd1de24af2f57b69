import type { RelayKeys } from "./relay_keys.ts";
import { HEADER_SIZE, SegmentCipher, TAG_SIZE } from "./segment_cipher.ts";
import { ReadAhead } from "./read_ahead.ts";

/** Full segments per output chunk: few enough to bound memory, enough to keep writes large. */
const SEGMENTS_PER_CHUNK = 16;

/**
 * Seals a plaintext stream into the object format of segment_cipher.ts, bound to `objectKey`.
 * Memory stays at one segment plus one output chunk, whatever the size of the source's chunks:
 * a large source chunk is consumed over several pulls.
 */
export function encryptStream(
  keys: RelayKeys,
  objectKey: string,
  source: ReadableStream<Uint8Array>,
): ReadableStream<Uint8Array> {
  const size = keys.segmentSize;
  const cipher = SegmentCipher.create(keys, objectKey);
  const reader = new ReadAhead(source);
  const partial = new Uint8Array(size);
  let fill = 0;
  let index = 0;
  let headerSent = false;
  let input: Uint8Array | null = null;
  let inputPos = 0;

  const frame = (sealedBytes: number): { out: Uint8Array; pos: number } => {
    const extra = headerSent ? 0 : HEADER_SIZE;
    const out = new Uint8Array(extra + sealedBytes);
    if (!headerSent) out.set(cipher.header, 0);
    headerSent = true;
    return { out, pos: extra };
  };

  return new ReadableStream<Uint8Array>({
    async pull(ctl) {
      for (;;) {
        if (input === null || inputPos >= input.length) {
          const r = await reader.read();
          if (r.done) {
            const { out, pos } = frame(fill + TAG_SIZE);
            cipher.sealInto(index, true, partial.subarray(0, fill), out, pos);
            ctl.enqueue(out);
            ctl.close();
            return;
          }
          input = r.value;
          inputPos = 0;
          reader.ahead();
        }
        // Whole segments straight from the input, without copying them into `partial` first.
        const direct = fill === 0
          ? Math.min(SEGMENTS_PER_CHUNK, Math.floor((input.length - inputPos) / size))
          : 0;
        if (direct > 0) {
          const { out, pos } = frame(direct * (size + TAG_SIZE));
          for (let i = 0; i < direct; i++) {
            const seg = input.subarray(inputPos, inputPos + size);
            cipher.sealInto(index++, false, seg, out, pos + i * (size + TAG_SIZE));
            inputPos += size;
          }
          ctl.enqueue(out);
          return;
        }
        const n = Math.min(size - fill, input.length - inputPos);
        partial.set(input.subarray(inputPos, inputPos + n), fill);
        fill += n;
        inputPos += n;
        if (fill === size) {
          const { out, pos } = frame(size + TAG_SIZE);
          cipher.sealInto(index++, false, partial, out, pos);
          fill = 0;
          ctl.enqueue(out);
          return;
        }
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}
