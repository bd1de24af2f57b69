import { EscaleError, isKind } from "../errors/errors.ts";
import { command } from "../util/spawn.ts";
import { collect, fromUtf8, utf8 } from "../util/streams.ts";
import { LEASES_DIR } from "./format.ts";
import type { RelayStore } from "./relay_store.ts";

/** How long a lease lasts unless renewed. */
const DEFAULT_TTL_MS = 5 * 60_000;

interface LeaseRecord {
  owner: string;
  expires: string;
  /** the holder's machine and process, so that a re-run after a crash takes its lease back */
  host?: string;
  pid?: number;
}

/**
 * Whether a lease was left by a process of this machine that no longer runs (killed, crashed):
 * its re-run must not wait for the expiry. `ps -p` tells (escale may start ps, not signal a
 * process itself); when that cannot be told, only the expiry counts.
 */
function leftByDeadProcess(held: LeaseRecord): boolean {
  if (held.host !== hostname() || typeof held.pid !== "number" || held.pid === Deno.pid) {
    return false;
  }
  if (!Number.isSafeInteger(held.pid) || held.pid <= 0) return false;
  try {
    const out = command("ps", {
      args: ["-p", String(held.pid), "-o", "pid="],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    // ps exits 1 with nothing printed when no such process exists.
    return out.code === 1 && new TextDecoder().decode(out.stdout).trim() === "";
  } catch {
    return false;
  }
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "";
  }
}

/**
 * Runs `fn` while holding the lease `leases/<name>`: an object with its owner and expiry,
 * created with create-if-absent, renewed every third of its lifetime while held, deleted at the
 * end. A lease whose expiry has passed is stale and may be taken over, and so is one left by a
 * process of this machine that is gone (a killed maintenance command run again). Only maintenance
 * operations (evict, migrate, restore, fix) take leases; normal sync never does.
 */
export async function withLease<T>(
  store: RelayStore,
  name: string,
  owner: string,
  fn: () => Promise<T>,
  ttlMs = DEFAULT_TTL_MS,
): Promise<T> {
  const key = `${LEASES_DIR}/${name}`;
  const body = () =>
    utf8.encode(JSON.stringify({
      owner,
      expires: new Date(Date.now() + ttlMs).toISOString(),
      host: hostname(),
      pid: Deno.pid,
    }));
  for (let attempt = 0;; attempt++) {
    try {
      await store.relay.write(key, body(), { ifAbsent: true });
      break;
    } catch (e) {
      if (!isKind(e, "exists") || attempt > 0) throw busy(e, key);
      const held = await readLease(store, key);
      if (held && Date.parse(held.expires) > Date.now() && !leftByDeadProcess(held)) {
        throw new EscaleError(
          "permanent",
          `${store.name}: busy: ${held.owner} holds the ${name} lease until ${held.expires}`,
        );
      }
      await store.relay.delete(key); // stale: take it over
    }
  }
  // Verify we won (relays without atomic create-if-absent).
  const mine = await readLease(store, key);
  if (mine?.owner !== owner) {
    throw new EscaleError(
      "permanent",
      `${store.name}: busy: ${mine?.owner ?? "another client"} took the ${name} lease`,
    );
  }
  const timer = setInterval(() => {
    store.relay.write(key, body()).catch(() => {});
  }, ttlMs / 3);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
    await store.relay.delete(key).catch(() => {});
  }
}

function busy(e: unknown, key: string): unknown {
  return isKind(e, "exists")
    ? new EscaleError("permanent", `${key}: the lease is held by another client`)
    : e;
}

/** The lease at `key`, or null when there is none (an unreadable one counts as expired). */
export async function readLease(store: RelayStore, key: string): Promise<LeaseRecord | null> {
  try {
    const r = JSON.parse(
      fromUtf8.decode(await collect(await store.relay.read(key), 64 * 1024, key)),
    );
    return typeof r?.owner === "string" && typeof r?.expires === "string" ? r : null;
  } catch (e) {
    if (isKind(e, "not-found")) return null;
    if (e instanceof SyntaxError) return { owner: "unknown", expires: new Date(0).toISOString() };
    if (!isKind(e, "integrity")) throw e;
    // Written without the key (restore and migrate need none) and read through it, or the
    // other way round: held all the same, for a lifetime counted from when it was written.
    const st = await store.relay.stat(key).catch(() => null);
    const since = st?.mtime ? st.mtime : 0;
    return {
      owner: "another maintenance command",
      expires: new Date(since ? since + DEFAULT_TTL_MS : 0).toISOString(),
    };
  }
}
