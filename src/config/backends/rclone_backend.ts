import { splitRcloneLocation } from "../../relay/rclone/rclone_remote.ts";
import { o } from "../option_spec.ts";
import { path, string } from "../value_types.ts";
import type { Backend } from "./backend.ts";
import { type BackendSettings, configError, existingPath, joinRemote } from "./relay_input.ts";

/** Escale protocol names that escale serves through rclone, the remote named by `host address`. */
export const RCLONE_ALIASES = [
  "dropbox",
  "googledrive",
  "google",
  "googlecloud",
  "amazoncloud",
  "onedrive",
  "b2",
  "hubic",
  "sftp",
  "swift",
  "yandex",
] as const;

// deno-fmt-ignore
const BINARY = o("rclone binary", [], string, "rclone", "rclone executable.", { local: true });

/** Any remote rclone knows, through an `rclone rcd` child (or one `rclone` run per request). */
export const rcloneBackend: Backend = {
  id: "rclone",
  protocols: ["rclone", ...RCLONE_ALIASES],
  schemes: ["rclone"],
  implied: { rclone: "rclone" },
  // deno-fmt-ignore
  options: [
    BINARY,
    o("rclone config", [], path, undefined, "rclone configuration file."),
  ],
  setup: {
    label: "rclone remote",
    hint: "any backend rclone knows",
    address: "rclone remote (remote: or remote:path)",
    // rclone keeps the credentials in its own configuration.
    login: "none",
    checkAddress: (text, a) =>
      a.kind === "bare" && !/^:?[^:]+:/.test(text)
        ? "name the remote with a colon, as in myremote: or myremote:folder"
        : undefined,
  },
  resolve(input, { protocol, addr, addrLine }) {
    let remote = "";
    let dir = "";
    if (addr?.kind === "url") {
      remote = addr.host;
      dir = addr.path;
    } else if (addr?.kind === "bare") {
      // `:backend:path` is rclone's on-the-fly remote (its name keeps the leading colon); a
      // connection string's quoted values may hold colons (url='http://…').
      const loc = splitRcloneLocation(addr.text);
      if (!loc) {
        throw configError(
          input,
          "'host address': a quoted value of the rclone connection string is not closed",
          addrLine,
        );
      }
      ({ remote, path: dir } = loc);
    } else if (addr?.kind === "path") {
      throw configError(
        input,
        "'host address' must name an rclone remote (remote: or remote:path), not a local path",
        addrLine,
      );
    }
    if (remote === "" || remote === ":") {
      throw configError(
        input,
        `protocol ${protocol} needs the rclone remote in 'host address' (e.g. myremote:)`,
        addr ? addrLine : undefined,
      );
    }
    const out: BackendSettings = {
      protocol: "rclone",
      directory: joinRemote(dir, input.get<string>("host directory")?.value ?? ""),
      rcloneRemote: remote,
      rcloneBinary: input.get<string>("rclone binary")?.value ||
        input.value<string>("rclone binary"),
    };
    if (protocol !== "rclone") out.rcloneType = protocol;
    const config = existingPath(input, "rclone config");
    if (config) out.rcloneConfig = config;
    return out;
  },
  async open(s) {
    const { RcloneRelay } = await import("../../relay/rclone/rclone_relay.ts");
    return new RcloneRelay({
      // Settings made by other means than the loader (tests, init's answers): the table's default.
      binary: s.rcloneBinary ?? BINARY.default!,
      remote: s.rcloneRemote!,
      directory: s.directory,
      configFile: s.rcloneConfig,
      timeoutMs: s.timeoutSec * 1000,
    });
  },
  describe: (s) => `${s.rcloneRemote}:${s.directory}`,
  editable: (s) => ({ address: `${s.rcloneRemote}:`, relayPath: s.directory }),
  // The binary is this machine's, not the relay's.
  optionValues(s) {
    return s.rcloneConfig ? [["rclone config", s.rcloneConfig]] : [];
  },
};
