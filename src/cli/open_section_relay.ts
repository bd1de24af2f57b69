import type { SectionSettings } from "../config/settings.ts";
import { readSecret } from "../crypto/secret_source.ts";
import type { Logger } from "../log/logger.ts";
import type { EncryptionSetting } from "../protocol/open_store.ts";
import type { Relay } from "../relay/relay.ts";
import { openRelayStack } from "./open_relay.ts";

/**
 * The raw relay of a section for the maintenance commands, with the retries and interruption a
 * round has, but without the state or its lock: check, backup and restore do not need the
 * repository's local folder, and may run on a machine that is no client.
 */
export async function openSectionRelay(
  s: Pick<SectionSettings, "relay">,
  log: Logger,
  signal?: AbortSignal,
): Promise<Relay> {
  return await openRelayStack(s.relay, {
    signal,
    onRetry: (what, attempt, err) =>
      log.log("debug", `retrying ${what} (attempt ${attempt}): ${(err as Error).message}`),
  });
}

/** The section's encryption setting, with its secret read (a key file or a passphrase). */
export async function encryptionOf(s: SectionSettings): Promise<EncryptionSetting> {
  return s.encryption === "aead"
    ? { mode: "aead", secret: await readSecret(s.passphrase!) }
    : { mode: "none" };
}
