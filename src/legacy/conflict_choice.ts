import type { ConflictStrategy } from "../engine/context.ts";
import { conflictName } from "../engine/conflict_name.ts";

/**
 * Where a remote version of `path` goes when the local file changed too (a version edited on
 * both sides), by the `conflict` setting: `dest` is the local name it is written to ("" when it
 * is dropped), `keepsName` whether it becomes the file at `path`, and `moveLocal` where the local
 * version is moved first (keep-both, remote newer). Nothing is lost with keep-both: the older
 * side keeps a conflict name, as in the native format.
 */
export interface ConflictChoice {
  dest: string;
  keepsName: boolean;
  moveLocal?: string;
  kept: "local" | "remote";
}

export function chooseOnConflict(
  strategy: ConflictStrategy,
  path: string,
  remote: { pusher: string; mtimeMs: number },
  local: { client: string; mtimeMs: number },
): ConflictChoice {
  const remoteWins = strategy === "remote" ||
    ((strategy === "newest" || strategy === "keep-both") && remote.mtimeMs >= local.mtimeMs);
  if (strategy === "local" || (!remoteWins && strategy === "newest")) {
    return { dest: "", keepsName: false, kept: "local" };
  }
  if (!remoteWins) {
    return {
      dest: conflictName(path, remote.pusher, remote.mtimeMs),
      keepsName: false,
      kept: "local",
    };
  }
  if (strategy === "keep-both") {
    return {
      dest: path,
      keepsName: true,
      moveLocal: conflictName(path, local.client, local.mtimeMs),
      kept: "remote",
    };
  }
  return { dest: path, keepsName: true, kept: "remote" };
}
