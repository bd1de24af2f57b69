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

/** The longest file name (one path segment) Linux, macOS and most file systems hold, in bytes. */
export const NAME_MAX = 255;

const encoder = new TextEncoder();

/** Length in UTF-8 bytes: what file-system name limits count, not characters. */
export function utf8Length(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return encoder.encode(s).length;
  return s.length; // ASCII: one byte per character
}

/**
 * Why a local path must not be published, or null: what every reader accepts (checkSyncPath),
 * with the limits counted in UTF-8 bytes as file systems count them (NAME_MAX per name, 4096 in
 * all), so that a name one system holds in characters but others cannot never reaches the relay.
 */
export function unpublishable(path: string): string | null {
  try {
    checkSyncPath(path, "");
  } catch (e) {
    return (e as Error).message.replace(/^: refused path .* \((.*)\)$/, "$1");
  }
  if (utf8Length(path) > 4096) return "longer than 4096 bytes";
  if (path.split("/").some((seg) => utf8Length(seg) > NAME_MAX)) {
    return `a name longer than ${NAME_MAX} bytes`;
  }
  return null;
}
