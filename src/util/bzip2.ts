import { bzip2Available, bzip2Program } from "./bzip2_program.ts";
import { bzip2Wasm } from "./bzip2_wasm.ts";

type Pair = { writable: WritableStream<Uint8Array>; readable: ReadableStream<Uint8Array> };

/**
 * A bzip2 encoder: the system's `bzip2` program where there is one (about twice as fast, and
 * it allocates nothing in this process), else libbzip2 compiled to WebAssembly, so that writing
 * Escale's index layout or a `.tar.bz2` backup needs nothing installed.
 */
export async function bzip2(): Promise<Pair> {
  if (await bzip2Available()) {
    return bzip2Program("compress", "bzip2 compression needs", "reinstall it");
  }
  return bzip2Wasm();
}
