import { EscaleError } from "../errors/errors.ts";
import { HEADER_KEY, parseClientKey, parseCommitKey, parseDataKey } from "../protocol/format.ts";

/** Name of the manifest inside a backup archive: its last entry (docs/relay-format.md §13). */
export const MANIFEST_NAME = "escale-backup.json";
export const MANIFEST_FORMAT = "escale-backup";
export const MANIFEST_VERSION = 1;

export interface ManifestObject {
  key: string;
  /** bytes as stored on the relay (encrypted objects as they are) */
  size: number;
  /** lowercase hex SHA-256 of those bytes */
  sha256: string;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  version: number;
  /** when the backup was taken (ISO 8601, UTC) */
  taken: string;
  /** where it was taken from (never a secret) */
  relay: string;
  /** the relay header's `created`: clients recognise a restored relay as the same one */
  relayCreated: string;
  encrypted: boolean;
  /** every object of the snapshot, in archive order; the archive's other entries are ignored */
  objects: ManifestObject[];
}

/** The relay objects a backup holds: header, client records, commits and their data. */
export function isBackupKey(key: string): boolean {
  return key === HEADER_KEY || parseClientKey(key) !== null || parseCommitKey(key) !== null ||
    parseDataKey(key) !== null;
}

const HASH = /^[0-9a-f]{64}$/;

export function validateManifest(x: unknown, where: string): Manifest {
  const m = x as Manifest;
  const bad = (why: string): never => {
    throw new EscaleError("integrity", `${where}: not a valid escale backup manifest (${why})`);
  };
  if (typeof m !== "object" || m === null || m.format !== MANIFEST_FORMAT) bad("format");
  if (m.version !== MANIFEST_VERSION) {
    throw new EscaleError(
      "usage",
      `${where}: backup format version ${m.version} is not supported by this escale (it reads version ${MANIFEST_VERSION})`,
    );
  }
  if (typeof m.relayCreated !== "string" || !Array.isArray(m.objects)) bad("fields");
  const seen = new Set<string>();
  for (const o of m.objects) {
    if (
      typeof o !== "object" || o === null || typeof o.key !== "string" || !isBackupKey(o.key) ||
      !Number.isSafeInteger(o.size) || o.size < 0 || !HASH.test(o.sha256)
    ) bad(`object ${JSON.stringify(o?.key)}`);
    if (seen.has(o.key)) bad(`${o.key} listed twice`);
    seen.add(o.key);
  }
  if (!seen.has(HEADER_KEY)) bad("no relay header");
  return m;
}
