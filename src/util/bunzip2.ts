import { bunzip2Stream } from "./bunzip2_stream.ts";
import { bzip2Available, bzip2Program } from "./bzip2_program.ts";

type Pair = { writable: WritableStream<Uint8Array>; readable: ReadableStream<Uint8Array> };

/**
 * A bzip2 decoder: the system's `bzip2` program where there is one (ten times faster than
 * JavaScript on incompressible data, and it allocates nothing in this process), else the
 * JavaScript decoder, so that reading needs nothing installed. `where` names the stream in the
 * errors.
 */
export async function bunzip2(where: string): Promise<Pair> {
  if (await bzip2Available()) {
    return bzip2Program("decompress", `${where} needs`, "install bzip2");
  }
  return bunzip2Stream(where);
}
