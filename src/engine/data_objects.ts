import { localIoError } from "../errors/errors.ts";
import { concat } from "../util/streams.ts";
import type { Extent } from "../protocol/format.ts";

/** One slice of a local file placed into a data object. */
export interface Part {
  abs: string;
  offset: number;
  length: number;
}

export interface PackPlan {
  /** per data object, the file slices it holds, in order */
  objects: { parts: Part[]; size: number }[];
  /** per input file (same order as given), its extents */
  extents: Extent[][];
}

/** Objects of a commit spread over its transfers are at least this large. */
export const SPREAD_MIN = 256 * 1024;

/**
 * Lays the new contents of a commit end to end and cuts the stream into data objects of
 * `capacity` bytes: many small files share one object (a pack), a big file spans several
 * (chunks), and every object but the last is exactly full. A commit smaller than `spread` full
 * objects is cut into up to `spread` equal ones instead (none below SPREAD_MIN): they travel side
 * by side, each through its own TCP slow start, where one object would climb it alone.
 */
export function planPacks(
  files: { abs: string; size: number }[],
  chunkSize: number,
  spread = 1,
): PackPlan {
  const total = files.reduce((n, f) => n + f.size, 0);
  const capacity = total < spread * chunkSize
    ? Math.min(chunkSize, Math.max(SPREAD_MIN, Math.ceil(total / spread)))
    : chunkSize;
  const objects: PackPlan["objects"] = [];
  const extents: Extent[][] = [];
  let cur: { parts: Part[]; size: number } | null = null;
  for (const f of files) {
    const ext: Extent[] = [];
    let done = 0;
    while (done < f.size) {
      if (!cur || cur.size >= capacity) {
        cur = { parts: [], size: 0 };
        objects.push(cur);
      }
      const take = Math.min(f.size - done, capacity - cur.size);
      cur.parts.push({ abs: f.abs, offset: done, length: take });
      ext.push([objects.length - 1, cur.size, take]);
      cur.size += take;
      done += take;
    }
    extents.push(ext);
  }
  return { objects, extents };
}

const BUF = 256 * 1024;
const SMALL_PART = 64 * 1024;

/** The bytes of one planned object, read from the local files as the relay consumes them. */
export function partsStream(parts: Part[]): ReadableStream<Uint8Array> {
  let i = 0;
  let file: Deno.FsFile | null = null;
  let left = 0;
  return new ReadableStream({
    pull(c) {
      try {
        while (true) {
          if (!file) {
            if (i >= parts.length) return c.close();
            const p = parts[i];
            if (p.offset === 0 && p.length <= SMALL_PART) {
              // Whole small files: one synchronous read each instead of open/seek/read/close,
              // gathered into one chunk of up to BUF bytes (one write downstream, not one each).
              const batch: Uint8Array[] = [];
              let size = 0;
              while (i < parts.length && size < BUF) {
                const q = parts[i];
                if (q.offset !== 0 || q.length > SMALL_PART) break;
                const data = Deno.readFileSync(q.abs);
                if (data.length < q.length) {
                  throw new Error(`${q.abs} became shorter while it was being sent`);
                }
                batch.push(data.length === q.length ? data : data.subarray(0, q.length));
                size += q.length;
                i++;
              }
              c.enqueue(concat(batch, size));
              return;
            }
            // Synchronous file ops: Deno's async ones cost a thread hop and an fd dup each.
            file = Deno.openSync(p.abs, { read: true });
            if (p.offset) file.seekSync(p.offset, Deno.SeekMode.Start);
            left = p.length;
          }
          if (left === 0) {
            file.close();
            file = null;
            i++;
            continue;
          }
          const buf = new Uint8Array(Math.min(BUF, left));
          const n = file.readSync(buf);
          if (n === null) throw new Error(`${parts[i].abs} became shorter while it was being sent`);
          left -= n;
          c.enqueue(buf.subarray(0, n));
          return;
        }
      } catch (e) {
        file?.close();
        file = null;
        throw localIoError(e, "reading local data");
      }
    },
    cancel() {
      file?.close();
    },
  });
}
