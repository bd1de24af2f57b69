import type { Backend } from "./backend.ts";
import { configError } from "./relay_input.ts";
import { serverResolver, withPort } from "./server_address.ts";

const resolveServer = serverResolver("webdav", (scheme) => scheme === "http" ? 80 : 443);

/** WebDAV over HTTP or HTTPS (Escale's `webdav` protocol means HTTPS). */
export const webdavBackend: Backend = {
  id: "webdav",
  protocols: ["webdav", "http", "https"],
  schemes: ["http", "https", "webdav", "webdavs", "dav", "davs"],
  implied: {
    http: "http",
    https: "https",
    webdav: "webdav",
    webdavs: "https",
    dav: "http",
    davs: "https",
  },
  options: [],
  setup: {
    label: "WebDAV server",
    hint: "Nextcloud, Apache, NAS",
    address: "WebDAV address (https://host[:port]/path)",
    login: "user",
  },
  resolve(input, chosen) {
    const { protocol, addr, addrLine } = chosen;
    // `protocol = http` with an https:// address (or the reverse) says two different things.
    if (
      (protocol === "http" || protocol === "https") && addr?.kind === "url" &&
      (addr.scheme === "http" || addr.scheme === "https") && addr.scheme !== protocol
    ) {
      throw configError(
        input,
        `'${
          input.get("host address")!.name
        }' uses ${addr.scheme}:// but the protocol is ${protocol}`,
        addrLine,
      );
    }
    return resolveServer(input, chosen);
  },
  async open(s) {
    const port = s.port ? `:${s.port}` : "";
    const dir = s.directory.startsWith("/") ? s.directory : `/${s.directory}`;
    const { WebDavRelay } = await import("../../relay/webdav/webdav_relay.ts");
    return new WebDavRelay({
      url: `${s.scheme ?? "https"}://${s.host}${port}${dir.endsWith("/") ? dir : dir + "/"}`,
      user: s.user,
      password: s.password,
      caFile: s.caFile,
      verifySsl: s.verifySsl,
      certFile: s.certFile,
      keyFile: s.keyFile,
      timeoutMs: s.timeoutSec * 1000,
    });
  },
  describe: (s) => `${s.scheme}://${s.host}:${s.port}${s.directory}`,
  editable: (s) => ({
    address: `${s.scheme}://${withPort(s.host ?? "", s.port, s.scheme === "http" ? 80 : 443)}`,
    relayPath: s.directory === "/" ? "" : s.directory,
  }),
  optionValues: () => [],
};
