import { RelayError } from "../errors/errors.ts";

/**
 * Checks that a relay key is a plain relative path. Backends call it before touching storage so
 * that no key, whoever built it, can escape the relay root.
 */
export function checkKey(key: string, allowRoot = false): string {
  if (key === "" && allowRoot) return key;
  if (
    key === "" || key.startsWith("/") || key.endsWith("/") || key.includes("\0") ||
    key.includes("\\") || key.split("/").some((s) => s === "" || s === "." || s === "..")
  ) {
    throw new RelayError("permanent", `invalid relay key ${JSON.stringify(key)}`, key);
  }
  return key;
}

export function joinKey(dir: string, name: string): string {
  return dir === "" ? name : `${dir}/${name}`;
}

export function parentOf(key: string): string {
  const i = key.lastIndexOf("/");
  return i < 0 ? "" : key.slice(0, i);
}

export function baseName(key: string): string {
  return key.slice(key.lastIndexOf("/") + 1);
}
