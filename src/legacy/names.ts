import { EscaleError } from "../errors/errors.ts";
import { baseName, joinKey, parentOf } from "../relay/keys.ts";

/**
 * Names of Escale 0.7's placeholder layout (docs/relay-format.md, "Legacy layouts"): the data of
 * resource `d/name` is the relay object `d/name`, its metadata `d/.name.placeholder`, its lock
 * `d/.name.lock`. Any other name starting with "." is not data to a Python client, which is why
 * escale's temporary objects (".escale-part-…", ending in ".part" for placeholders and locks:
 * tempKeyFor) are safe beside them.
 */
export const PLACEHOLDER_SUFFIX = ".placeholder";
export const LOCK_SUFFIX = ".lock";

export type LegacyName =
  | { kind: "data"; path: string }
  | { kind: "placeholder"; path: string }
  | { kind: "lock"; path: string }
  | { kind: "other" };

export function placeholderKey(path: string): string {
  return joinKey(parentOf(path), `.${baseName(path)}${PLACEHOLDER_SUFFIX}`);
}

export function lockKey(path: string): string {
  return joinKey(parentOf(path), `.${baseName(path)}${LOCK_SUFFIX}`);
}

/**
 * What a relay key is in the placeholder layout. Names that would make a resource escape its
 * folder (a placeholder `....placeholder` stands for "..") or that no local file can have are
 * "other": never downloaded, never deleted.
 */
export function classify(key: string): LegacyName {
  const base = baseName(key);
  const dir = parentOf(key);
  for (
    const [suffix, kind] of [[PLACEHOLDER_SUFFIX, "placeholder"], [LOCK_SUFFIX, "lock"]] as const
  ) {
    if (base.startsWith(".") && base.endsWith(suffix) && base.length > suffix.length + 1) {
      const target = base.slice(1, -suffix.length);
      const path = joinKey(dir, target);
      return legacyPathProblem(path) === null ? { kind, path } : { kind: "other" };
    }
  }
  if (base.startsWith(".")) return { kind: "other" };
  return legacyPathProblem(key) === null ? { kind: "data", path: key } : { kind: "other" };
}

/**
 * Why `path` cannot be a resource of a legacy relay, or null. Escale names a resource by its
 * relative path; a segment "." or "..", an empty one, a backslash, a NUL or a control character
 * (a newline would break the index layout's entry headers) could reach outside the local folder
 * or be read back as something else. Names starting with "." are special on the relay.
 */
export function legacyPathProblem(path: string): string | null {
  if (path === "" || path.startsWith("/")) return "an empty or absolute name";
  for (const seg of path.split("/")) {
    if (seg === "" || seg === "." || seg === "..") return `the path segment "${seg}"`;
    if (seg.startsWith(".")) return `a name starting with "." (special on an Escale relay)`;
    // deno-lint-ignore no-control-regex
    if (/[\\\u0000-\u001f\u007f]/.test(seg)) return "a backslash or control character";
  }
  return null;
}

/** Throws the "hostile" error for a resource name read from a legacy relay that is refused. */
export function checkLegacyPath(path: string, where: string): string {
  const problem = legacyPathProblem(path);
  if (problem) {
    throw new EscaleError(
      "hostile",
      `refusing ${JSON.stringify(path)} from ${where}: ${problem}`,
    );
  }
  return path;
}
