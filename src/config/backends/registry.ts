import type { RelayProtocol } from "../settings.ts";
import type { Backend } from "./backend.ts";
import { fileBackend } from "./file_backend.ts";
import { ftpBackend, ftpsBackend } from "./ftp_backend.ts";
import { rcloneBackend } from "./rclone_backend.ts";
import { s3Backend } from "./s3_backend.ts";
import { webdavBackend } from "./webdav_backend.ts";

/** Every relay backend, in the order `escale init` lists them. Adding one is one line here. */
export const BACKENDS: readonly Backend[] = [
  fileBackend,
  ftpBackend,
  ftpsBackend,
  webdavBackend,
  s3Backend,
  rcloneBackend,
];

const BY_PROTOCOL: ReadonlyMap<string, Backend> = new Map(
  BACKENDS.flatMap((b) => b.protocols.map((p) => [p, b] as const)),
);

/** The backend a `protocol =` name selects (any alias), or undefined. */
export function backendFor(protocol: string): Backend | undefined {
  return BY_PROTOCOL.get(protocol.trim().toLowerCase());
}

/** The backend of resolved settings. */
export function backendOf(id: RelayProtocol): Backend {
  return BACKENDS.find((b) => b.id === id)!;
}

/** The protocol name an address scheme means when `protocol` is unset. */
export function protocolOfScheme(scheme: string): string | undefined {
  for (const b of BACKENDS) if (b.implied[scheme]) return b.implied[scheme];
  return undefined;
}

/** Every scheme that selects a backend, for messages. */
export const SCHEMES: readonly string[] = BACKENDS.flatMap((b) => Object.keys(b.implied));
