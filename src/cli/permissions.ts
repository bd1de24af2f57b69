import permissions from "./permissions.json" with { type: "json" };

/**
 * The Deno permission flags escale runs with (permissions.json: never --allow-all, no ffi, only
 * the variables it reads and the programs it starts). The JSON is imported, so a bundle and a
 * compiled binary carry it too.
 */
export const DENO_PERMISSIONS: readonly string[] = permissions.flags;
