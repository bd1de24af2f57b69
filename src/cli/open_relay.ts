import { backendOf } from "../config/backends/registry.ts";
import type { RelaySettings } from "../config/settings.ts";
import type { Relay, UnopenedRelay } from "../relay/relay.ts";

export type { UnopenedRelay };

/** Builds the backend a section's relay settings describe, and checks it can be reached. */
export async function openRelay(s: RelaySettings): Promise<Relay> {
  const relay = await relayBackend(s);
  try {
    await relay.open();
  } catch (e) {
    await relay.close().catch(() => {});
    throw e;
  }
  return relay;
}

/** The backend for these settings, not opened yet: callers that retry `open()` reuse it. */
export function relayBackend(s: RelaySettings): Promise<UnopenedRelay> {
  return backendOf(s.protocol).open(s);
}
