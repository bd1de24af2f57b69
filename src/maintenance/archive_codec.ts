import { EscaleError } from "../errors/errors.ts";
import { command } from "../util/spawn.ts";

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
 * default backup format; Debian and every Linux distribution ship it).
 */
export function codec(kind: ArchiveKind, direction: "compress" | "decompress"): Pair {
  if (kind === "tar") return new TransformStream<Uint8Array, Uint8Array>();
  if (kind === "tar.gz") {
    const t = direction === "compress"
      ? new CompressionStream("gzip")
      : new DecompressionStream("gzip");
    return t as unknown as Pair;
  }
  let child: Deno.ChildProcess;
  try {
    // Through util/spawn: escale may start only a few programs by name (src/cli/permissions.json).
    child = command("bzip2", {
      args: direction === "compress" ? ["-c"] : ["-dc"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    throw new EscaleError(
      "usage",
      `.tar.bz2 archives need the "bzip2" program, which could not be started (${
        (e as Error).message
      }); install it or use .tar.gz`,
    );
  }
  const errText = new Response(child.stderr).text();
  // The child's end is checked when its output ends: a corrupt .bz2 fails there, not silently.
  const out = child.stdout.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      async flush() {
        const status = await child.status;
        if (status.code === 127) {
          throw new EscaleError(
            "usage",
            '.tar.bz2 archives need the "bzip2" program, which is not installed; install it or use .tar.gz',
          );
        }
        if (!status.success) {
          throw new EscaleError(
            "integrity",
            `bzip2 ${direction === "compress" ? "compression" : "decompression"} failed: ${
              (await errText).trim().split("\n")[0] || `exit ${status.code}`
            }`,
          );
        }
      },
    }),
  );
  return { writable: child.stdin, readable: out };
}
