import { EscaleError } from "../errors/errors.ts";
import { trackChild } from "./child_processes.ts";
import { command } from "./spawn.ts";

type Pair = { writable: WritableStream<Uint8Array>; readable: ReadableStream<Uint8Array> };

/**
 * The system's `bzip2` program as a streaming filter: 2 to 4 times faster than the WebAssembly
 * encoder (util/bzip2_wasm.ts, which util/bzip2.ts falls back to for Escale's index layout), and
 * it allocates nothing in this process. `.tar.bz2` backups still need it. `needs` says in the
 * messages what wanted it ("publishing to Escale's index layout needs", ".tar.bz2 archives need")
 * and `otherwise` what the user can do instead, since the single escale binary may run on a
 * machine without it. The child's exit is checked when its output ends: a corrupt stream fails there, not silently.
 */
export function bzip2Program(
  direction: "compress" | "decompress",
  needs: string,
  otherwise: string,
): Pair {
  const missing = `${needs} the "bzip2" program`;
  let child: Deno.ChildProcess;
  try {
    // Through util/spawn: escale may start only a few programs by name (src/cli/permissions.json).
    child = trackChild(
      command("bzip2", {
        args: direction === "compress" ? ["-c"] : ["-dc"],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn(),
    );
  } catch (e) {
    throw new EscaleError(
      "usage",
      `${missing}, which could not be started (${(e as Error).message}); ${otherwise}`,
    );
  }
  const errText = new Response(child.stderr).text();
  const failure = async (): Promise<EscaleError | null> => {
    const status = await child.status;
    if (status.code === 127) {
      return new EscaleError("usage", `${missing}, which is not installed; ${otherwise}`);
    }
    if (status.success) return null;
    return new EscaleError(
      "integrity",
      `bzip2 ${direction === "compress" ? "compression" : "decompression"} failed: ${
        (await errText).trim().split("\n")[0] || `exit ${status.code}`
      }`,
    );
  };
  const out = child.stdout.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      async flush() {
        const e = await failure();
        if (e) throw e;
      },
    }),
  );
  // A child that is missing (env's exit 127) or dies breaks the pipe under the writer: the
  // writer gets the child's reason, not a bare "Broken pipe".
  const stdin = child.stdin.getWriter();
  const broken = async (e: unknown): Promise<never> => {
    throw (await failure()) ?? e;
  };
  const writable = new WritableStream<Uint8Array>({
    write: (chunk) => stdin.write(chunk).catch(broken),
    close: () => stdin.close().catch(broken),
    abort: (reason) => stdin.abort(reason),
  });
  return { writable, readable: out };
}

let available: Promise<boolean> | null = null;

/** Whether the `bzip2` program can be started here (asked once per process). */
export function bzip2Available(): Promise<boolean> {
  available ??= command("bzip2", { args: ["-V"], stdin: "null", stdout: "null", stderr: "null" })
    .output()
    .then((o) => o.success, () => false);
  return available;
}
