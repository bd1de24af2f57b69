import type { SectionSettings } from "../config/settings.ts";
import { readSecret } from "../crypto/secret_source.ts";
import type { Logger } from "../log/logger.ts";
import type { EncryptionSetting } from "../protocol/open_store.ts";
import { FaultRelay, parseFaults } from "../relay/fault_relay.ts";
import { InterruptibleRelay } from "../relay/interruptible_relay.ts";
import type { Relay, RelayEntry } from "../relay/relay.ts";

interface TempLister {
  listTemporary(dir: string): AsyncIterable<RelayEntry>;
}
import { type RetryOptions, RetryRelay } from "../relay/retry_relay.ts";
import { relayBackend } from "./open_relay.ts";
import { openWithRetries } from "./open_repository.ts";

/**
 * The raw relay of a section for the maintenance commands, with the retries and interruption a
 * round has, but without the state or its lock: check, backup and restore do not need the
 * repository's local folder, and may run on a machine that is no client.
 */
export async function openSectionRelay(
  s: Pick<SectionSettings, "relay">,
  log: Logger,
  signal?: AbortSignal,
): Promise<{ relay: Relay; listTemporary?: (dir: string) => AsyncIterable<RelayEntry> }> {
  const retry: RetryOptions = {
    retries: s.relay.maxRetries,
    onRetry: (what, attempt, err) =>
      log.log("debug", `retrying ${what} (attempt ${attempt}): ${(err as Error).message}`),
  };
  const opened: Relay & Partial<TempLister> = await openWithRetries(
    await relayBackend(s.relay),
    retry,
  );
  let backend: Relay = opened;
  // Crash tests inject faults at a chosen relay operation, as for `escale run`.
  const faults = Deno.env.get("ESCALE_FAULTS");
  if (faults) backend = new FaultRelay(backend, parseFaults(faults));
  const retrying = new RetryRelay(backend, retry);
  const relay = signal ? new InterruptibleRelay(retrying, signal) : retrying;
  const lister = opened.listTemporary;
  return { relay, listTemporary: lister ? (dir) => lister.call(opened, dir) : undefined };
}

/** The section's encryption setting, with its secret read (a key file or a passphrase). */
export async function encryptionOf(s: SectionSettings): Promise<EncryptionSetting> {
  return s.encryption === "aead"
    ? { mode: "aead", secret: await readSecret(s.passphrase!) }
    : { mode: "none" };
}
