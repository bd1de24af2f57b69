import { EscaleError } from "../errors/errors.ts";
import { EncryptedRelay } from "../crypto/encrypted_relay.ts";
import {
  createCryptoParams,
  type CryptoParams,
  type KdfCost,
  openCryptoParams,
} from "../crypto/key_params.ts";
import type { RelayKeys } from "../crypto/relay_keys.ts";
import type { Relay } from "../relay/relay.ts";
import { type Header, HEADER_KEY } from "./format.ts";
import { RelayStore } from "./relay_store.ts";
import { MOVED_KEY, refuseMoved } from "./moved_record.ts";

export type EncryptionSetting = { mode: "none" } | {
  mode: "aead";
  secret: Uint8Array;
  cost?: KdfCost;
};

/**
 * What opening a native relay reads before it decides anything: the moved record (a moved relay
 * is refused) and the header, together (one round trip, not two). Both settle before the answer,
 * so that a moved relay is reported as moved even when its header cannot be read.
 */
export async function readOpening(relay: Relay): Promise<Header | null> {
  const [moved, header] = await Promise.allSettled([
    refuseMoved(relay),
    RelayStore.readHeader(relay),
  ]);
  if (moved.status === "rejected") throw moved.reason;
  if (header.status === "rejected") throw header.reason;
  return header.value;
}

/**
 * Opens a relay for the native format: reads (or creates, once) its header, checks that the
 * client's encryption setting matches the relay's, verifies the key, and returns the typed store
 * on top of the (decrypting) relay. Nothing is written when the setting or the key is wrong.
 * `opening` is `readOpening(relay)` when the caller started it earlier.
 */
export async function openStore(
  relay: Relay,
  enc: EncryptionSetting,
  opening?: Promise<Header | null>,
): Promise<{ store: RelayStore; header: Header }> {
  let header = await (opening ?? readOpening(relay));
  let keys: RelayKeys | undefined;
  if (!header) {
    let params: CryptoParams | null = null;
    if (enc.mode === "aead") {
      const made = await createCryptoParams(enc.secret, enc.cost);
      params = made.params;
      keys = made.keys;
    }
    header = await RelayStore.ensureHeader(relay, params);
    if (params && JSON.stringify(header.encryption) !== JSON.stringify(params)) keys = undefined; // lost the race
  }
  if (header.encryption && enc.mode === "none") {
    throw new EscaleError(
      "key",
      `relay ${relay.name} is encrypted; set "encryption = yes" and "passphrase" for this repository`,
    );
  }
  if (!header.encryption && enc.mode === "aead") {
    throw new EscaleError(
      "key",
      `relay ${relay.name} is not encrypted, but this repository has encryption on; refusing to mix plain and encrypted clients`,
    );
  }
  if (enc.mode === "none") return { store: new RelayStore(relay), header };
  keys ??= await openCryptoParams(header.encryption as CryptoParams, enc.secret);
  return {
    store: new RelayStore(new EncryptedRelay(relay, keys, { plainKeys: [HEADER_KEY, MOVED_KEY] })),
    header,
  };
}
