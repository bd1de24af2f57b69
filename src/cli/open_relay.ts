import { backendOf } from "../config/backends/registry.ts";
import type { RelaySettings } from "../config/settings.ts";
import { isTransient, oneLine, RelayError } from "../errors/errors.ts";
import { FaultRelay, parseFaults } from "../relay/fault_relay.ts";
import { InterruptibleRelay } from "../relay/interruptible_relay.ts";
import type { Relay, UnopenedRelay } from "../relay/relay.ts";
import { type RetryOptions, RetryRelay, withRetries } from "../relay/retry_relay.ts";

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

export interface StackOptions {
  /** aborting it interrupts every relay operation, opening included (SIGINT/SIGTERM) */
  signal?: AbortSignal;
  /** told before each retry (for logs) */
  onRetry?: RetryOptions["onRetry"];
}

/**
 * The relay every command that works on a repository's relay uses, its wrappers assembled here
 * and nowhere else, from the bottom up: the backend, opened with the section's retries; the
 * faults of ESCALE_FAULTS (crash tests of the command line); one RetryRelay honouring `max
 * retries` for every operation; and, with a signal, an InterruptibleRelay so that SIGINT cuts a
 * transfer or a retry's sleep short. Encryption goes on top once the relay header says so
 * (protocol/open_store.ts).
 */
export async function openRelayStack(s: RelaySettings, opts: StackOptions = {}): Promise<Relay> {
  return (await openRelayStackWith(s, opts, () => Promise.resolve())).relay;
}

/**
 * openRelayStack, and `first(relay)`: the reads a command starts with. On a backend whose
 * requests need nothing `open()` sets up they go out while it checks the relay (their answers
 * are used only once it succeeded); elsewhere they start once it is open.
 */
export async function openRelayStackWith<T>(
  s: RelaySettings,
  opts: StackOptions,
  first: (relay: Relay) => Promise<T>,
): Promise<{ relay: Relay; first: Promise<T> }> {
  const retry: RetryOptions = { retries: s.maxRetries, onRetry: opts.onRetry };
  let stack: Relay | undefined;
  let early: Promise<T> | undefined;
  const wrap = (backend: Relay): Relay => {
    const faults = Deno.env.get("ESCALE_FAULTS");
    const faulty = faults ? new FaultRelay(backend, parseFaults(faults)) : backend;
    const retrying = new RetryRelay(faulty, retry);
    return opts.signal ? new InterruptibleRelay(retrying, opts.signal) : retrying;
  };
  // Ends the early reads at once (their retries included) when opening fails.
  const failed = new AbortController();
  try {
    await interruptible(
      relayBackend(s).then((b) => {
        stack = wrap(b);
        if (b.requestsBeforeOpen) {
          early = first(new InterruptibleRelay(stack, failed.signal));
          early.catch(() => {}); // awaited by the caller once the relay is open, else dropped
        }
        return openWithRetries(b, retry, opts.signal);
      }),
      opts.signal,
    );
  } catch (e) {
    failed.abort();
    throw e;
  }
  return { relay: stack!, first: early ?? first(stack!) };
}

/**
 * Opening a backend (login, folder check) talks to the server before any RetryRelay exists, so it
 * gets the same retries here; the backend is reused, never rebuilt, so an attempt leaves nothing
 * behind (an rclone daemon, an FTP pool). An interruption ends the retries: no attempt starts
 * (and no rclone with it) once the run is stopping.
 */
async function openWithRetries(
  backend: UnopenedRelay,
  retry: RetryOptions,
  signal?: AbortSignal,
): Promise<Relay> {
  let attempts = 0;
  try {
    await withRetries("opening the relay", (attempt) => {
      attempts = attempt;
      return backend.open();
    }, { ...retry, signal });
    return backend;
  } catch (e) {
    await backend.close().catch(() => {});
    if (!isTransient(e)) throw e;
    // As RetryRelay words an error that outlived its retries.
    const msg = oneLine((e as Error).message);
    const named = msg.includes(backend.name) ? msg : `${backend.name}: ${msg}`;
    throw new RelayError(
      "unreachable",
      `${named} (still failing after ${attempts === 1 ? "1 attempt" : `${attempts} attempts`})`,
      undefined,
      {
        cause: e,
      },
    );
  }
}

/**
 * The relay being opened, or an "interrupted" failure as soon as `signal` aborts; a relay whose
 * opening completes after that is closed (an rclone relay holds a running rclone).
 */
function interruptible(opening: Promise<Relay>, signal?: AbortSignal): Promise<Relay> {
  if (!signal) return opening;
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      reject(new RelayError("interrupted", "interrupted while opening the relay"));
      opening.then((r) => r.close()).catch(() => {});
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    opening.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
