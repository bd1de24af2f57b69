import { EscaleError, isKind } from "../errors/errors.ts";
import type { Relay } from "../relay/relay.ts";
import { collect, fromUtf8, utf8 } from "../util/streams.ts";

/**
 * The record `escale migrate` leaves on a relay it moved (docs/relay-format.md §8a): plain JSON
 * like the header, so that any client reads it before anything else, key or not.
 */
export const MOVED_KEY = "moved.json";

export interface MovedRecord {
  format: "escale-moved";
  version: 1;
  /** the new address, without credentials */
  to: string;
  /** when the move completed (ISO 8601, UTC) */
  time: string;
  /** the relay header's `created`, the same at the new address */
  created: string;
  /**
   * Set once the migration's last pass is over: the new address is then the relay clients use,
   * and a second `escale migrate` must not copy this old relay over it again.
   */
  complete?: true;
}

export function movedRecordBytes(to: string, created: string, complete = false): Uint8Array {
  const r: MovedRecord = {
    format: "escale-moved",
    version: 1,
    to,
    time: new Date().toISOString(),
    created,
  };
  if (complete) r.complete = true;
  return utf8.encode(JSON.stringify(r, null, 2) + "\n");
}

/** The relay's moved record, or null when it was not moved. */
export async function readMoved(relay: Relay): Promise<MovedRecord | null> {
  let bytes: Uint8Array;
  try {
    bytes = await collect(await relay.read(MOVED_KEY), 64 * 1024, MOVED_KEY);
  } catch (e) {
    if (isKind(e, "not-found")) return null;
    throw e;
  }
  try {
    const r = JSON.parse(fromUtf8.decode(bytes)) as MovedRecord;
    if (r?.format === "escale-moved" && typeof r.to === "string") return r;
  } catch { /* below */ }
  // Unreadable, but present: the relay was moved all the same; never publish here again.
  return {
    format: "escale-moved",
    version: 1,
    to: "an address its record does not say",
    time: "",
    created: "",
  };
}

/** Stops a client at a moved relay, with the new address, whatever it was about to do. */
export async function refuseMoved(relay: Relay): Promise<void> {
  const moved = await readMoved(relay);
  if (!moved) return;
  throw new EscaleError(
    "moved",
    `the relay ${relay.name} was moved to ${moved.to}${
      moved.time ? ` on ${moved.time}` : ""
    }; point this repository's relay settings at the new address (escale migrate updated them on the client that moved it)`,
  );
}
