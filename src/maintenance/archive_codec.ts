import { EscaleError } from "../errors/errors.ts";
import { bzip2Program } from "../util/bzip2_program.ts";

export type ArchiveKind = "tar" | "tar.gz" | "tar.bz2";

/** The archive kind a file name asks for: `.tar`, `.tar.gz`/`.tgz`, `.tar.bz2`/`.tbz2`. */
export function archiveKind(path: string): ArchiveKind {
  const p = path.toLowerCase();
  if (p.endsWith(".tar")) return "tar";
  if (p.endsWith(".tar.gz") || p.endsWith(".tgz")) return "tar.gz";
  if (p.endsWith(".tar.bz2") || p.endsWith(".tbz2") || p.endsWith(".tbz")) return "tar.bz2";
  throw new EscaleError(
    "usage",
    `${path}: unknown archive type; name it .tar, .tar.gz (.tgz) or .tar.bz2 (.tbz2)`,
  );
}

type Pair = { writable: WritableStream<Uint8Array>; readable: ReadableStream<Uint8Array> };

/**
 * A streaming (de)compressor for the archive kind. gzip is built in; there is no maintained
 * bzip2 encoder in JavaScript, so bzip2 runs the system's `bzip2` program as a filter (Escale's
 * default backup format; util/bzip2_program.ts).
 */
export function codec(kind: ArchiveKind, direction: "compress" | "decompress"): Pair {
  if (kind === "tar") return new TransformStream<Uint8Array, Uint8Array>();
  if (kind === "tar.gz") {
    const t = direction === "compress"
      ? new CompressionStream("gzip")
      : new DecompressionStream("gzip");
    return t as unknown as Pair;
  }
  return bzip2Program(direction, ".tar.bz2 archives need", "install it or use .tar.gz");
}
