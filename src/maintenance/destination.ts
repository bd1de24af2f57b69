import { parseAddress } from "../config/address.ts";
import type { SectionEdit } from "../config/config_writer.ts";
import type { RelaySettings } from "../config/settings.ts";
import { EscaleError } from "../errors/errors.ts";

/** The relay keys `escale migrate` rewrites; every other key of the section stays as written. */
export const RELAY_KEYS = [
  "protocol",
  "host address",
  "host directory",
  "port",
  "user",
  "password",
  "bucket",
  "endpoint",
  "region",
  "path style",
  "access key id",
  "secret access key",
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
 * A migration destination given as an address, in the forms `escale init` accepts: a folder,
 * `ftp://` or `ftps://`, `http(s)://` (WebDAV), `s3://bucket/prefix` (with `endpoint` and
 * `region` when not AWS), `rclone:REMOTE:PATH`. The password (from --password-file) goes to
 * the credential file, never to the configuration or the command line.
 */
export function destinationOf(text: string, flags: DestinationFlags): Destination {
  const t = text.trim();
  const rclone = /^rclone:([^:]+):(.*)$/.exec(t);
  if (rclone) {
    return {
      set: [["protocol", "rclone"], ["host address", `${rclone[1]}:`], [
        "host directory",
        rclone[2],
      ]],
      shown: t,
    };
  }
  const a = parseAddress(t);
  if (a.kind === "path") {
    return { set: [["protocol", "file"], ["host directory", a.path]], shown: a.path };
  }
  if (a.kind !== "url" || a.host === "") {
    throw new EscaleError(
      "usage",
      `${
        a.kind === "bare" ? JSON.stringify(a.text) : "the destination"
      } is not a relay address: give an absolute folder, ftp://, ftps://, http(s):// (WebDAV), s3://bucket/prefix or rclone:REMOTE:PATH`,
    );
  }
  const protocol = a.scheme === "ftp" || a.scheme === "ftps"
    ? a.scheme
    : ["http", "https", "webdav", "webdavs", "dav", "davs"].includes(a.scheme)
    ? "webdav"
    : a.scheme === "s3"
    ? "s3"
    : null;
  if (!protocol) {
    throw new EscaleError("usage", `${a.scheme}:// is not a relay protocol escale knows`);
  }
  const port = a.port ? `:${a.port}` : "";
  const shown = `${a.scheme}://${a.host}${port}${a.path}`;
  const set: [string, string][] = [["protocol", protocol]];
  if (protocol === "s3") {
    set.push(["host address", `s3://${a.host}${a.path.replace(/\/+$/, "")}`]);
    if (flags.endpoint) set.push(["endpoint", flags.endpoint]);
    if (flags.region) set.push(["region", flags.region]);
  } else {
    set.push(["host address", `${a.scheme}://${a.host}${port}`]);
    if (a.path !== "" && a.path !== "/") set.push(["host directory", a.path]);
  }
  if (a.password !== undefined) {
    // Process arguments are visible to every user of the machine (ps).
    throw new EscaleError(
      "usage",
      "the address must not hold a password: give it with --password-file (it goes to the credential file)",
    );
  }
  const user = a.user ?? flags.user;
  const password = flags.password;
  if (password !== undefined && user === undefined) {
    throw new EscaleError("usage", "a password needs a user name (--user or user@ in the address)");
  }
  if (user !== undefined && password === undefined) {
    throw new EscaleError("usage", `give the password of ${user} with --password-file`);
  }
  return {
    set,
    credential: user !== undefined ? { user, password: password! } : undefined,
    shown: flags.endpoint && protocol === "s3" ? `${shown} (endpoint ${flags.endpoint})` : shown,
  };
}

/** The relay keys that describe `s` (a relay read from another configuration file). */
export function destinationFromSettings(s: RelaySettings): Destination {
  const set: [string, string][] = [["protocol", s.protocol]];
  const port = s.port ? `:${s.port}` : "";
  let shown: string;
  switch (s.protocol) {
    case "file":
      set.push(["host directory", s.directory]);
      shown = s.directory;
      break;
    case "ftp":
    case "ftps":
      set.push(["host address", `${s.protocol}://${s.host}${port}`]);
      if (s.directory) set.push(["host directory", s.directory]);
      shown = `${s.protocol}://${s.host}${port}/${s.directory.replace(/^\//, "")}`;
      break;
    case "webdav":
      set.push(["host address", `${s.scheme ?? "https"}://${s.host}${port}`]);
      set.push(["host directory", s.directory]);
      shown = `${s.scheme ?? "https"}://${s.host}${port}${s.directory}`;
      break;
    case "s3":
      set.push(["bucket", s.bucket!]);
      if (s.directory) set.push(["host directory", s.directory]);
      if (s.endpoint) set.push(["endpoint", s.endpoint]);
      if (s.region) set.push(["region", s.region]);
      if (s.pathStyle !== undefined) set.push(["path style", s.pathStyle ? "yes" : "no"]);
      shown = `s3://${s.bucket}/${s.directory}${s.endpoint ? ` (endpoint ${s.endpoint})` : ""}`;
      break;
    case "rclone":
      set.push(["host address", `${s.rcloneRemote}:`], ["host directory", s.directory]);
      if (s.rcloneConfig) set.push(["rclone config", s.rcloneConfig]);
      shown = `rclone:${s.rcloneRemote}:${s.directory}`;
      break;
  }
  if (s.verifySsl === false) set.push(["verify ssl", "no"]);
  if (s.caFile) set.push(["ca file", s.caFile]);
  if (s.certFile) set.push(["certfile", s.certFile]);
  if (s.keyFile) set.push(["keyfile", s.keyFile]);
  if (s.ftpsClearData) set.push(["ftps clear data", "yes"]);
  return {
    set,
    credential: s.user !== undefined && s.password !== undefined
      ? { user: s.user, password: s.password }
      : undefined,
    shown,
  };
}

/** The configuration edit for a destination whose secret is kept in `secretFile`. */
export function destinationEdit(d: Destination, secretFile?: string): SectionEdit {
  return {
    set: secretFile ? [...d.set, ["secret file", secretFile]] : d.set,
    remove: RELAY_KEYS,
  };
}
