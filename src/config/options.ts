import { normalizeKey } from "./ini_parser.ts";
import { MODES, parseMode } from "./modes.ts";
import type { ConflictStrategy, Mode } from "./settings.ts";
import {
  asBool,
  bool,
  choice,
  int,
  list,
  type ParseContext,
  path,
  seconds,
  secret,
  share,
  size,
  string,
  unused,
  type ValueType,
} from "./value_types.ts";
import { shown, ValueProblem } from "./value_problem.ts";
import { GLOBAL, NONE, o, type OptionSpec } from "./option_spec.ts";
import { backendFor, BACKENDS } from "./backends/registry.ts";
import { RCLONE_ALIASES } from "./backends/rclone_backend.ts";

export type { OptionSpec };
import type { RelayFormat } from "../legacy/choose_format.ts";

/**
 * Every configuration key escale understands: Escale's table (behaviour notes §9.2) with all its
 * aliases, its global and extra keys, and escale's own extensions. One line per option, so adding
 * one is a one-line change; `escale init` and the documentation read the same table.
 */

/** Names `protocol =` accepts, besides the rclone aliases. */
export const PROTOCOLS: readonly string[] = BACKENDS.flatMap((b) => b.protocols).filter((p) =>
  !(RCLONE_ALIASES as readonly string[]).includes(p)
);

export { RCLONE_ALIASES };

const protocol: ValueType<string> = {
  name: "protocol",
  parse(raw) {
    const p = raw.trim().toLowerCase();
    if (backendFor(p)) return p;
    throw new ValueProblem(
      `is not a known protocol: ${shown(raw)} (use ${PROTOCOLS.join(", ")}, or one of ` +
        `${RCLONE_ALIASES.join(", ")} through rclone)`,
    );
  },
};

const mode: ValueType<Mode> = { name: MODES.join("|"), parse: (raw) => parseMode(raw) };

const encryption: ValueType<"none" | "aead"> = {
  name: "yes|no",
  parse(raw) {
    const t = raw.trim().toLowerCase();
    if (["off", "no", "false", "0", "none", ""].includes(t)) return "none";
    if (["yes", "true", "on", "1", "fernet", "aes", "aead"].includes(t)) return "aead";
    if (t.startsWith("blowfish")) {
      // Turning Fernet on for this client alone would split the relay: a Python client still
      // on Blowfish decrypts Fernet files to garbage, and this one cannot read Blowfish.
      throw new ValueProblem(
        `cannot be '${t}': escale never reads or writes Blowfish (unauthenticated); every client of the relay must move to Fernet together, then set 'encryption = fernet'`,
      );
    }
    if (t === "native") {
      throw new ValueProblem(
        `cannot be '${t}': escale offers one authenticated cipher; set 'encryption = yes'`,
      );
    }
    throw new ValueProblem(`must be yes or no (got ${shown(raw)})`);
  },
};

const conflict: ValueType<ConflictStrategy> = choice<ConflictStrategy>({
  "keep-both": "keep-both",
  both: "keep-both",
  newest: "newest",
  newer: "newest",
  local: "local",
  remote: "remote",
}, ["keep-both", "newest", "local", "remote"]);

const relayFormat: ValueType<RelayFormat> = choice<RelayFormat>({
  auto: "auto",
  native: "native",
  escale: "escale-0.7",
  "escale-0.7": "escale-0.7",
  "escale-07": "escale-0.7",
  legacy: "escale-0.7",
}, ["auto", "native", "escale-0.7"]);

const logLevel = choice<string>({
  debug: "debug",
  info: "info",
  warning: "warning",
  warn: "warning",
  error: "error",
  critical: "critical",
}, ["debug", "info", "warning", "error", "critical"]);

const checksum: ValueType<string> = {
  name: "sha256",
  parse(raw, ctx) {
    const t = raw.trim().toLowerCase();
    if (t !== "sha256" && asBool(t) !== true) {
      ctx.warn(`checksum ${shown(raw)} has no effect: escale always hashes content with sha256`);
    }
    return "sha256";
  },
};

const checksumCache: ValueType<boolean> = {
  name: "yes/no",
  parse(raw, ctx) {
    const b = asBool(raw);
    if (b !== undefined) return b;
    ctx.warn("a checksum cache path is ignored: escale keeps hashes in its state database");
    return true;
  },
};

const modificationTime: ValueType<boolean> = {
  name: "yes/no",
  parse(raw, ctx: ParseContext) {
    const b = asBool(raw);
    if (b !== undefined) return b;
    ctx.warn("a legacy timestamp format is ignored: escale stores times in its own format");
    return true;
  },
};

const SSL_VERSIONS = ["SSLv2", "SSLv3", "SSLv23", "TLS", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"];
const sslVersion: ValueType<string> = {
  name: "TLS version",
  parse(raw, ctx) {
    const v = SSL_VERSIONS.find((s) => s.toLowerCase() === raw.trim().toLowerCase());
    if (!v) throw new ValueProblem(`must be one of ${SSL_VERSIONS.join(", ")} (got ${shown(raw)})`);
    if (!["TLS", "SSLv23", "TLSv1.2", "TLSv1.3"].includes(v)) {
      ctx.warn(`ssl version ${v} is not available: Deno speaks TLS 1.2 and 1.3 only`);
    }
    return v;
  },
};

// One option per line on purpose, however long: see the file comment.
// deno-fmt-ignore
export const OPTIONS: readonly OptionSpec[] = [
  // Where things are.
  o("local path", ["path"], path, NONE, "The local folder to synchronise (required)."),
  o("protocol", [], protocol, NONE, "Relay protocol; by default taken from 'host address'."),
  o("host address", ["relay address", "remote address", "address"], string, NONE, "Relay location: protocol://server[:port][/path], an absolute folder, s3://bucket/prefix, or an rclone remote."),
  o("host directory", ["relay directory", "remote directory", "directory", "relay dir", "remote dir", "host dir", "dir", "host path", "relay path", "remote path"], string, "", "Folder of the relay inside the host; alone and absolute, it is a local relay folder."),
  o("port", ["host port", "relay port", "remote port"], int({ min: 1, max: 65535 }), NONE, "Server port, when not the protocol's default."),
  o("user", ["auth user", "host user", "relay user", "remote user", "username"], string, NONE, "User name on the relay server (for s3: the access key id)."),
  o("password", ["secret", "secret file", "credential"], secret, NONE, "Password, or a file holding it (one line, 'user:password', or one 'user password' line per user).", { secret: true }),
  o("client name", ["client"], string, "host name", "Identity of this client on the relay; unique per relay.", { described: true }),
  o("relay format", ["relay layout"], relayFormat, "auto", "Layout on the relay: native, escale-0.7 (Python Escale 0.7's layouts, to share the relay with Python clients: both its placeholder layout and, with 'index', its index layout), or auto (what the relay holds; native when it is empty)."),
  // Sync behaviour.
  o("mode", ["synchronization mode"], mode, "shared", `One of ${MODES.join(", ")}.`),
  o("push only", ["read only"], bool, "no", "Same as mode = upload."),
  o("pull only", ["write only"], bool, "no", "Same as mode = download."),
  o("refresh", [], seconds({ above: 0, onYes: 30, onNo: null }), "30", "Seconds between rounds (the pause grows from half of it to all of it); no = one round, then exit (Escale's one pass, for cron)."),
  o("conflict", ["conflict strategy"], conflict, "keep-both", "Concurrent edits: keep-both (conflict copy), newest, local or remote wins."),
  o("propagate deletions", [], bool, "yes", "Delete files that were deleted on the other side."),
  o("delete threshold", ["max delete"], share, "50%", "Stop (until --force) when a round would delete more than this share of the files; 'no' disables."),
  o("hidden files", [], bool, "no", "Also synchronise names starting with '.'."),
  o("modification time", ["timestamp", "mtime"], modificationTime, "yes", "Give downloaded files the sender's modification time."),
  o("file extension", ["file type"], list, NONE, "Only files whose last extension is listed (comma list)."),
  o("include", ["include files", "pattern", "filter"], list, NONE, "Only files whose name matches one of these patterns (*-wildcards or /regex/). A /regex/ is matched from the name's start by RE2, in time linear in the name: no backreferences or lookaround."),
  o("exclude", ["exclude files"], list, NONE, "Skip files whose name matches one of these patterns."),
  o("include directory", ["include directories"], list, NONE, "Only folders whose relative path (or a parent's) matches one of these patterns."),
  o("exclude directory", ["exclude directories"], list, NONE, "Skip folders whose relative path (or a parent's) matches one of these patterns."),
  // Relay space and lifetime.
  o("puller count", ["pullers"], int({ min: 1 }), NONE, "Pullers that must receive a change before its data leaves the relay; default: every registered puller (on an Escale 0.7 relay: 1, as in Escale)."),
  o("puller timeout", [], seconds({ above: 0, onNo: null }), NONE, "Evict a puller silent for this long (s, m, h, d, w); unset = never."),
  o("lock timeout", [], seconds({ min: 0, onYes: 259200, onNo: 0 }), "259200", "Seconds after which an abandoned lease is stale (on an Escale 0.7 relay: a lock file naming no owner); 0 or no = never."),
  o("disk quota", ["quota"], size({ min: 1 }), NONE, "Most this client keeps on the relay (number + unit; no unit = MB)."),
  o("maxpagesize", ["maxarchivesize"], size({ min: 1 }), "200MB", "Largest pack of small files."),
  o("chunk size", [], size({ min: 1024, max: 1024 ** 3 }), "8MB", "Big files travel in chunks of this size."),
  o("transfers", [], int({ min: 1, max: 64 }), NONE, "Parallel transfers; default: what the backend handles well."),
  o("upload max wait", [], seconds({ min: 0 }), "600", "Longest time an upload waits for a busy relay."),
  // Encryption.
  o("encryption", [], encryption, "no", "Encrypt everything on the relay (on when a passphrase is set)."),
  o("passphrase", ["key"], secret, NONE, "Passphrase, or a file holding the key.", { secret: true }),
  // Network details.
  o("timeout", [], seconds({ above: 0 }), "60", "Network timeout in seconds."),
  o("max retries", [], int({ min: 0 }), "3", "Retries of a failed network request."),
  o("verify ssl", [], bool, "yes", "Check the server's TLS certificate."),
  o("ca file", ["cafile", "ca certificate"], path, NONE, "Extra CA certificate (PEM) to trust."),
  o("certfile", ["cert file", "certificate"], path, NONE, "Client certificate (PEM) for FTPS/WebDAV."),
  o("keyfile", ["key file", "private key"], path, NONE, "Private key of the client certificate."),
  o("ssl version", [], sslVersion, NONE, "Accepted for Escale files; Deno negotiates TLS 1.2/1.3."),
  // Each backend's own options.
  ...BACKENDS.flatMap((b) => b.options),
  // Local state and reporting.
  o("checksum cache", [], checksumCache, "yes", "Reuse hashes of unchanged files."),
  o("cache dir", ["cache"], path, NONE, "Folder for local state (default: next to the configuration)."),
  o("maintainer", ["email"], string, NONE, "E-mail address told when a repository stops on an error."),
  o("smtp host", [], string, "localhost", "Mail server used to tell the maintainer."),
  o("smtp port", [], int({ min: 1, max: 65535 }), "25", "Port of the mail server."),
  o("on failure", [], string, NONE, "Command run (without a shell) when a repository stops on an error; ESCALE_SECTION, ESCALE_ERROR and ESCALE_EXIT_CODE are in its environment."),
  o("verbosity", ["verbosity level"], int({ min: 0 }), "1", "2 or more logs one line per file."),
  o("log file", [], path, NONE, "Log file (default: the configuration path with .log).", GLOBAL),
  o("log level", [], logLevel, "debug", "Level of the log file.", GLOBAL),
  o("log rotate", [], int({ min: 0 }), "3", "Rotated log files kept (1 MiB each).", GLOBAL),
  o("keep alive", [], seconds({ min: 0, onYes: 60, onNo: null }), NONE, "Restart a failed repository after this many seconds (yes = 60; 0 or no = never).", GLOBAL),
  // Escale options that escale accepts but does not need.
  o("checksum", ["hash algorithm"], checksum, "sha256", "Content is always hashed with sha256."),
  o("index", ["compact"], string, NONE, "Escale's index layout on a relay shared with Python Escale (1, topdir or topdir:N, as its clients have it); no effect on a native relay."),
  o("allow page deletion", ["page deletion"], unused, NONE, "Escale's index layout.", { unused: "has no effect: escale deletes relay data once every puller has it" }),
  o("pull overwrite", [], unused, NONE, "Escale's index layout.", { unused: "has no effect: escale compares versions, never trusts a page blindly" }),
  o("max pending transfers", [], unused, NONE, "Broken in Escale.", { unused: "has no effect: parallelism is set with 'transfers'" }),
  o("min split size", ["split size", "split"], unused, NONE, "Never used by Escale.", { unused: "has no effect: big files are split by 'chunk size'" }),
  o("retryonerror", ["retry on error"], unused, NONE, "Never used by Escale.", { unused: "has no effect: escale retries transient network errors itself (see 'max retries')" }),
  o("priority", [], unused, NONE, "Never read by Escale.", { unused: "has no effect: each round downloads then uploads and no phase waits for the other" }),
  o("drive binary", [], unused, NONE, "Escale's Google Drive tool.", { unused: "has no effect: Google Drive goes through rclone (see 'rclone binary')" }),
  o("client count", [], unused, NONE, "Written by Escale's wizard.", { unused: "" }),
  o("homogeneous clients", [], unused, NONE, "Written by Escale's wizard.", { unused: "" }),
  o("upload count", [], unused, NONE, "Written by Escale's wizard.", { unused: "" }),
];

const BY_NAME: ReadonlyMap<string, OptionSpec> = (() => {
  const m = new Map<string, OptionSpec>();
  for (const spec of OPTIONS) {
    for (const name of [spec.key, ...spec.aliases]) {
      const k = normalizeKey(name);
      if (m.has(k)) throw new Error(`option table: '${k}' is listed twice`);
      m.set(k, spec);
    }
  }
  return m;
})();

/** The option a key (any alias, any case or spacing) stands for. */
export function lookupOption(key: string): OptionSpec | undefined {
  return BY_NAME.get(normalizeKey(key));
}

const DEFAULTS = new Map<string, unknown>();

/**
 * An option's default, parsed by its type: the option table is the only place defaults are
 * written. Undefined when the option has none, or when its default is computed at run time.
 */
export function optionDefault<T>(key: string): T | undefined {
  if (DEFAULTS.has(key)) return DEFAULTS.get(key) as T;
  const spec = lookupOption(key);
  if (!spec) throw new Error(`option table: no option '${key}'`);
  const value = spec.default === undefined || spec.described
    ? undefined
    : spec.type.parse(spec.default, { configDir: "/", home: "/", warn: () => {} });
  DEFAULTS.set(key, value);
  return value as T;
}

/** Every accepted spelling, for suggestions. */
export function optionNames(): string[] {
  return [...BY_NAME.keys()];
}
