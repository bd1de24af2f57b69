import unbzip2 from "unbzip2-stream";
import { EscaleError } from "../errors/errors.ts";

/** The part of unbzip2-stream's through-stream used here. */
interface Through {
  on(event: "data", f: (chunk: Uint8Array) => void): void;
  on(event: "error", f: (e: unknown) => void): void;
  write(chunk: Uint8Array): void;
  end(): void;
}

/**
 * A streaming bzip2 decoder in pure JavaScript (unbzip2-stream), so that reading Escale's
 * index layout needs no program on the machine. It decodes one 900 kB block at a time, so memory
 * stays bounded whatever the stream's size. The library throws from inside `write`/`end` on a
 * damaged or cut stream; it is driven by hand here (never piped) so that those errors reach the
 * caller as one "integrity" error naming `where` instead of escaping as uncaught exceptions.
 */
export function bunzip2Stream(where: string): TransformStream<Uint8Array, Uint8Array> {
  const dec = (unbzip2 as unknown as () => Through)();
  let out: Uint8Array[] = [];
  let failure: unknown = null;
  dec.on("data", (c) => out.push(new Uint8Array(c.buffer, c.byteOffset, c.byteLength)));
  dec.on("error", (e) => failure ??= e);
  const bad = (e: unknown) =>
    new EscaleError("integrity", `${where}: not a valid bzip2 stream (${(e as Error).message})`);
  const pass = (ctl: TransformStreamDefaultController<Uint8Array>, step: () => void) => {
    try {
      step();
    } catch (e) {
      failure ??= e;
    }
    if (failure) throw bad(failure);
    for (const c of out) ctl.enqueue(c);
    out = [];
  };
  let any = false;
  return new TransformStream({
    transform(chunk, ctl) {
      if (chunk.length > 0) any = true;
      pass(ctl, () => dec.write(chunk));
    },
    flush(ctl) {
      // An empty object decodes to nothing (Escale reads an empty index as an empty page).
      if (any) pass(ctl, () => dec.end());
    },
  });
}
