/**
 * The resolved, validated configuration that the rest of escale codes against. Everything here
 * is already typed, defaulted and checked by `loadConfig`; nothing below this layer re-reads the
 * raw file.
 */

// The engine owns these vocabularies; the configuration only parses into them.
import type { Mode } from "../engine/modes.ts";
import type { ConflictStrategy } from "../engine/context.ts";
export type { ConflictStrategy, Mode };

export type RelayProtocol = "file" | "ftp" | "ftps" | "webdav" | "s3" | "rclone";

/**
 * Where and how to reach the relay. Only the fields that apply to `protocol` are set, so a
 * backend can pass the object through without guessing which ones are meaningful.
 */
export interface RelaySettings {
  protocol: RelayProtocol;
  /** webdav only: http or https (Escale's `webdav` protocol means https) */
  scheme?: "http" | "https";
  host?: string;
  port?: number;
  /**
   * file: absolute folder. ftp/ftps: path on the server ("" = login folder, relative paths are
   * relative to it). webdav: URL path on the server, always starting with "/". s3: key prefix
   * without leading or trailing "/" ("" = bucket root). rclone: path inside the remote.
   */
  directory: string;
  /** s3: the access key id */
  user?: string;
  /** s3: the secret access key. Never log, print or pass on a command line. */
  password?: string;
  /** s3 only, from AWS_SESSION_TOKEN */
  sessionToken?: string;
  bucket?: string;
  region?: string;
  /** s3: base URL of a non-AWS endpoint, e.g. http://127.0.0.1:9000 */
  endpoint?: string;
  pathStyle?: boolean;
  verifySsl?: boolean;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  sslVersion?: string;
  ftpsClearData?: boolean;
  rcloneBinary?: string;
  /** the rclone remote name, without the trailing ":" */
  rcloneRemote?: string;
  rcloneConfig?: string;
  /** the Escale protocol alias that led here (dropbox, onedrive, …), for messages */
  rcloneType?: string;
  timeoutSec: number;
  maxRetries: number;
}

/** Raw filter lists, as written in the configuration (see compileFilters for the semantics). */
export interface FilterSettings {
  extensions: string[];
  include: string[];
  exclude: string[];
  includeDirs: string[];
  excludeDirs: string[];
  /** names starting with "." are synced only when true (Escale skipped them always) */
  hiddenFiles?: boolean;
}

export interface GlobalSettings {
  logFile?: string;
  /** one of debug, info, warning, error, critical */
  logLevel: string;
  logRotate: number;
  /** seconds to wait before restarting a crashed repository; unset = no restart */
  keepAlive?: number;
  cacheDir?: string;
}

export interface SectionSettings {
  name: string;
  file: string;
  /** line of the `[section]` header */
  line: number;
  clientName: string;
  /** absolute, `~` expanded, checked to be an existing folder */
  localPath: string;
  mode: Mode;
  relay: RelaySettings;
  encryption: "none" | "aead";
  /** `value` is the option as written; `file` is set when it names an existing file */
  passphrase?: { value: string; file?: string };
  pullerCount?: number;
  pullerTimeoutSec?: number;
  /** 0 = locks never go stale */
  lockTimeoutSec: number;
  /** bytes */
  diskQuota?: number;
  /** bytes */
  maxPageSize: number;
  /** bytes */
  chunkSize: number;
  transfers?: number;
  refreshSec: number;
  /** `refresh = no`: one round, then the run ends, as with `--once` */
  oneRound: boolean;
  modificationTime: boolean;
  checksumCache: boolean;
  conflict: ConflictStrategy;
  propagateDeletions: boolean;
  /** share of the tree (0..1) a round may delete before it stops and asks for --force */
  deleteThreshold: number;
  hiddenFiles: boolean;
  maintainer?: string;
  verbosity: number;
  uploadMaxWaitSec: number;
  /** per-section override of the global `cache dir` */
  cacheDir?: string;
  filters: FilterSettings;
  /** canonical key -> line number where it was set (for later file:line errors) */
  where: Record<string, number>;
  /**
   * Every recognised option that was set, parsed, by canonical key. A newly added option is
   * available here as soon as its table line exists.
   */
  options: Record<string, unknown>;
}

export interface LoadedConfig {
  /** absolute path of the configuration file ("command line" when there is none) */
  file: string;
  /** made from flags and environment variables only (escale run --local DIR --relay URL) */
  fileless?: boolean;
  global: GlobalSettings;
  sections: SectionSettings[];
  /** `file:line: …` warnings, in file order; loadConfig never prints */
  warnings: string[];
}
