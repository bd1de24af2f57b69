/** This machine's host name, or `fallback` where the system will not tell (or is not allowed to). */
export function hostnameOr(fallback: string): string {
  try {
    return Deno.hostname();
  } catch {
    return fallback;
  }
}
