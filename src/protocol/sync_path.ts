import { EscaleError } from "../errors/errors.ts";

/**
 * Paths of synchronised files as they travel on the relay: relative, `/`-separated, NFC as the
 * pusher wrote them. Anything that comes from the relay passes through here before it touches
 * the local disk, so a hostile relay cannot name `..`, an absolute path, a NUL or a drive.
 */
export function checkSyncPath(path: unknown, where: string): string {
  const bad = (why: string) =>
    new EscaleError("hostile", `${where}: refused path ${JSON.stringify(path)} (${why})`);
  if (typeof path !== "string" || path === "") throw bad("empty or not a string");
  if (path.length > 4096) throw bad("longer than 4096 characters");
  if (path.includes("\0")) throw bad("contains NUL");
  if (path.startsWith("/") || /^[A-Za-z]:/.test(path)) throw bad("absolute");
  if (path.includes("\\")) throw bad("contains a backslash");
  for (const seg of path.split("/")) {
    if (seg === "" || seg === "." || seg === "..") throw bad("empty, '.' or '..' segment");
    if (seg.length > 255) throw bad("a name longer than 255 characters");
  }
  return path;
}
