import type { UnopenedRelay } from "../../relay/relay.ts";
import type { ParsedAddress } from "../address.ts";
import type { OptionSpec } from "../option_spec.ts";
import type { RelayProtocol, RelaySettings } from "../settings.ts";
import type { BackendSettings, RelayInput } from "./relay_input.ts";

/** What `escale init` asks for this backend. */
export interface BackendSetup {
  /** the service as the wizard lists it */
  label: string;
  hint?: string;
  /** the address question; a folder backend has none and asks for a folder instead */
  address?: string;
  /** who logs in: a user and password, S3 access keys, or nothing to ask */
  login: "user" | "keys" | "none";
  /** for `login: "keys"`: the backend's options that hold the key pair */
  loginKeys?: { user: string; password: string };
  /** the backend's options that complete the address (an S3 bucket, say): a new address
   * replaces them */
  addressOptions?: readonly string[];
  /** a problem with an address the generic checks accept (for the wizard's prompt) */
  checkAddress?(text: string, parsed: ParsedAddress): string | undefined;
}

/** How the section chose this backend, for `resolve`. */
export interface Chosen {
  /** the protocol name that selected it (`protocol =`, or implied by the address scheme) */
  protocol: string;
  addr?: ParsedAddress;
  /** the line of `host address` (or of the section when unset) */
  addrLine: number;
}

/**
 * Everything escale knows about one relay backend, declared once: the names that select it, the
 * options it adds to the configuration, how a section's options become its settings, how to build
 * it (loaded on demand: a network backend's modules cost start-up time to runs that do not use
 * it), how to name it in messages, and what `escale init` asks. The loader, the address parser,
 * `init`, `ctl test-relay` and docs/configuration.md read it through registry.ts.
 */
export interface Backend {
  id: RelayProtocol;
  /** names accepted by `protocol =` that select this backend (its id first) */
  protocols: readonly string[];
  /** schemes a `host address` of this backend may use */
  schemes: readonly string[];
  /** schemes that select this backend when `protocol` is unset, with the protocol each means */
  implied: Readonly<Record<string, string>>;
  /** the backend's own options (the common ones are in options.ts) */
  options: readonly OptionSpec[];
  setup: BackendSetup;
  resolve(input: RelayInput, chosen: Chosen): BackendSettings;
  open(s: RelaySettings): Promise<UnopenedRelay>;
  /** where the relay is, for messages; never holds a secret */
  describe(s: RelaySettings): string;
  /** the address and folder `escale init` offers when it edits a section with these settings */
  editable(s: RelaySettings): { address: string; relayPath?: string };
  /** the backend's own options that, with `editable`, give `s` again (`escale migrate
   * --to-config` copies a relay from another configuration this way) */
  optionValues(s: RelaySettings): [string, string][];
}
