import { type EncryptionSetting, openStore } from "../protocol/open_store.ts";
import type { Header } from "../protocol/format.ts";
import type { RelayStore } from "../protocol/relay_store.ts";
import { RelayStore as Store } from "../protocol/relay_store.ts";
import type { Relay } from "../relay/relay.ts";

/**
 * Opens a relay that already has a header, checking the encryption setting and the key as a
 * client does; null when there is no header. Unlike `openStore` it never creates one: a
 * maintenance command that finds no relay must not make one up.
 */
export async function openExistingStore(
  relay: Relay,
  enc: EncryptionSetting,
): Promise<{ store: RelayStore; header: Header } | null> {
  if (!(await Store.readHeader(relay))) return null;
  return await openStore(relay, enc);
}
