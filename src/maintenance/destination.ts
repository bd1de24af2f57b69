import type { SectionEdit } from "../config/config_writer.ts";
import { backendOf, BACKENDS } from "../config/backends/registry.ts";
import { addressProblem, parseRelayAddress } from "../config/backends/relay_address.ts";
import type { RelaySettings } from "../config/settings.ts";
import { ValueProblem } from "../config/value_problem.ts";
import { EscaleError } from "../errors/errors.ts";

/** The options every backend reads (options.ts); each backend's own come from its descriptor. */
const COMMON_RELAY_KEYS = [
  "protocol",
  "host address",
  "host directory",
  "port",
  "user",
  "password",
  "verify ssl",
  "ca file",
  "certfile",
  "keyfile",
  "ssl version",
];

/** The relay keys `escale migrate` rewrites; every other key of the section stays as written. */
export const RELAY_KEYS: readonly string[] = [
  ...COMMON_RELAY_KEYS,
  ...BACKENDS.flatMap((b) => b.options.filter((o) => !o.local).map((o) => o.key)),
];

export interface Destination {
  /** relay keys for the section, without any secret */
  set: [string, string][];
  /** user and password to keep in the credential file */
  credential?: { user: string; password: string };
  /** the address as other clients are told it (no credentials) */
  shown: string;
}

export interface DestinationFlags {
  user?: string;
  password?: string;
  endpoint?: string;
  region?: string;
}

/**
 * A migration destination given as an address, in the forms `escale init` and `host address`
 * accept (relay_address.ts): a folder, a URL whose scheme names the backend, or
 * `PROTOCOL:ADDRESS` (`rclone:REMOTE:PATH`, `s3:https://endpoint/bucket/prefix`). A user may be
 * in the address; the password (from --password-file) goes to the credential file, never to the
 * configuration or the command line. `--endpoint` and `--region` set the backend's options of
 * those names.
 */
export function destinationOf(text: string, flags: DestinationFlags): Destination {
  let r;
  try {
    r = parseRelayAddress(text);
  } catch (e) {
    if (e instanceof ValueProblem) throw new EscaleError("usage", e.message);
    throw e;
  }
  const { backend, parsed } = r;
  let address = r.address;
  let user = flags.user;
  if (parsed.kind === "url") {
    if (parsed.password !== undefined) {
      // Process arguments are visible to every user of the machine (ps).
      throw new EscaleError(
        "usage",
        "the address must not hold a password: give it with --password-file (it goes to the credential file)",
      );
    }
    if (parsed.user !== undefined) {
      user = parsed.user;
      address = address.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/]*@/, "$1");
    }
  }
  const set: [string, string][] = [["protocol", r.protocol]];
  if (backend.setup.address === undefined) {
    // A folder backend: the folder itself (file:///x is the folder /x).
    const folder = parsed.kind === "url" ? parsed.path : address;
    if (folder === "") throw new EscaleError("usage", "the destination names no folder");
    set.push(["host directory", folder]);
  } else {
    const problem = addressProblem(backend, address);
    if (problem) throw new EscaleError("usage", `${problem} (${backend.id} destination)`);
    set.push(["host address", address]);
  }
  for (
    const [flag, key, value] of [["--endpoint", "endpoint", flags.endpoint], [
      "--region",
      "region",
      flags.region,
    ]] as const
  ) {
    if (value === undefined) continue;
    if (!backend.options.some((o) => o.key === key)) {
      throw new EscaleError("usage", `${flag} does not apply to a ${backend.id} destination`);
    }
    set.push([key, value]);
  }
  const password = flags.password;
  if (password !== undefined && user === undefined) {
    throw new EscaleError("usage", "a password needs a user name (--user or user@ in the address)");
  }
  if (user !== undefined && password === undefined) {
    throw new EscaleError("usage", `give the password of ${user} with --password-file`);
  }
  const shown = backend.setup.address === undefined ? set[1][1] : address;
  return {
    set,
    credential: user !== undefined ? { user, password: password! } : undefined,
    shown: flags.endpoint ? `${shown} (endpoint ${flags.endpoint})` : shown,
  };
}

/** The relay keys that describe `s` (a relay read from another configuration file). */
export function destinationFromSettings(s: RelaySettings): Destination {
  const backend = backendOf(s.protocol);
  const { address, relayPath } = backend.editable(s);
  const set: [string, string][] = [["protocol", s.protocol]];
  if (backend.setup.address === undefined) set.push(["host directory", address]);
  else {
    set.push(["host address", address]);
    if (relayPath) set.push(["host directory", relayPath]);
  }
  set.push(...backend.optionValues(s));
  if (s.verifySsl === false) set.push(["verify ssl", "no"]);
  if (s.caFile) set.push(["ca file", s.caFile]);
  if (s.certFile) set.push(["certfile", s.certFile]);
  if (s.keyFile) set.push(["keyfile", s.keyFile]);
  if (s.sslVersion) set.push(["ssl version", s.sslVersion]);
  return {
    set,
    credential: s.user !== undefined && s.password !== undefined
      ? { user: s.user, password: s.password }
      : undefined,
    shown: backend.describe(s),
  };
}

/** The configuration edit for a destination whose secret is kept in `secretFile`. */
export function destinationEdit(d: Destination, secretFile?: string): SectionEdit {
  return {
    set: secretFile ? [...d.set, ["secret file", secretFile]] : d.set,
    remove: RELAY_KEYS,
  };
}
