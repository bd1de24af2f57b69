import { parseAddress, type ParsedAddress } from "../address.ts";
import { ValueProblem } from "../value_problem.ts";
import type { Backend } from "./backend.ts";
import { backendFor, protocolOfScheme, SCHEMES } from "./registry.ts";

/** A relay address as a user gives it on a command line, with the backend it selects. */
export interface RelayAddress {
  backend: Backend;
  /** the protocol name that selected the backend (an alias stays as written) */
  protocol: string;
  /** the address without the `PROTOCOL:` prefix; a folder for a folder backend */
  address: string;
  parsed: ParsedAddress;
}

/**
 * Reads a relay address the way the configuration's `host address` reads it (an absolute folder,
 * or a URL whose scheme selects the backend, resolve_relay.ts), plus `PROTOCOL:ADDRESS`, which
 * names the backend for an address that cannot (an rclone `remote:path`, an S3 endpoint URL).
 * Throws a ValueProblem naming the accepted forms.
 */
export function parseRelayAddress(text: string): RelayAddress {
  const t = text.trim();
  const prefixed = /^([A-Za-z][A-Za-z0-9+.-]*):(?!\/\/)([\s\S]+)$/.exec(t);
  const named = prefixed ? backendFor(prefixed[1]) : undefined;
  if (prefixed && named) {
    const address = prefixed[2].trim();
    const parsed = parseAddress(address);
    return { backend: named, protocol: prefixed[1].toLowerCase(), address, parsed };
  }
  const parsed = parseAddress(t);
  if (parsed.kind === "path") {
    return { backend: backendFor("file")!, protocol: "file", address: parsed.path, parsed };
  }
  if (parsed.kind === "bare") {
    throw new ValueProblem(
      `${JSON.stringify(t)} is not a relay address: give ${ADDRESS_FORMS}`,
    );
  }
  const protocol = protocolOfScheme(parsed.scheme);
  if (!protocol) {
    throw new ValueProblem(
      `${parsed.scheme}:// is not a relay protocol escale knows (use ${ADDRESS_FORMS})`,
    );
  }
  return { backend: backendFor(protocol)!, protocol, address: t, parsed };
}

/** The address forms parseRelayAddress accepts, for messages. */
export const ADDRESS_FORMS = `an absolute folder, ${
  SCHEMES.filter((s) => s !== "file").map((s) => `${s}://`).join(", ")
}, or PROTOCOL:ADDRESS (as in rclone:remote:path)`;

/**
 * What is wrong with `text` as the `host address` of `backend` (undefined when nothing is): the
 * checks `escale init` and `escale migrate` make before anything is written. The user name and
 * password are given apart from the address, so a URL may hold neither.
 */
export function addressProblem(backend: Backend, text: string): string | undefined {
  const t = text.trim();
  if (t === "") return "the address is required";
  let a: ParsedAddress;
  try {
    a = parseAddress(t);
  } catch (e) {
    if (e instanceof ValueProblem) return `the address ${e.message}`;
    throw e;
  }
  if (a.kind === "path") return "this is a local path; choose the local folder service for it";
  if (a.kind === "url") {
    if (a.password !== undefined) {
      return "the address must not hold a password: it is asked separately and kept in a file";
    }
    if (a.user !== undefined) return "give the user name separately, not in the address";
    if (!backend.schemes.includes(a.scheme)) {
      return `a ${backend.id} address cannot start with ${a.scheme}://`;
    }
    if (a.host === "" && backend.setup.login !== "none") return "the address names no server";
  }
  return backend.setup.checkAddress?.(t, a);
}
