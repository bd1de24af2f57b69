import type { Chosen } from "./backend.ts";
import {
  type BackendSettings,
  configError,
  credentials,
  hostPortAt,
  joinRemote,
  type RelayInput,
  tlsSettings,
} from "./relay_input.ts";

export function withPort(host: string, port: number | undefined, usual: number): string {
  return port === undefined || port === usual ? host : `${host}:${port}`;
}

/**
 * The resolver of the backends that talk to one server (FTP, FTPS, WebDAV): server and port
 * from `host address` (a URL or `server[:port][/path]`) and `port`, the folder from the address
 * path and `host directory`, the login from `user`, `password` or the URL.
 */
export function serverResolver(
  family: "ftp" | "ftps" | "webdav",
  defaultPort: (scheme: "http" | "https" | undefined) => number,
): (input: RelayInput, chosen: Chosen) => BackendSettings {
  return (input, { protocol, addr, addrLine }) => {
    let host = "";
    let port: number | undefined;
    let basePath = "";
    let urlUser: string | undefined;
    let urlPassword: string | undefined;
    let scheme: "http" | "https" | undefined;
    if (addr?.kind === "url") {
      ({ host, port, path: basePath, user: urlUser, password: urlPassword } = addr);
      if (family === "webdav") {
        scheme = addr.scheme === "http" || addr.scheme === "dav" ? "http" : "https";
      }
    } else if (addr?.kind === "bare") {
      const slash = addr.text.indexOf("/");
      const hp = hostPortAt(input, slash < 0 ? addr.text : addr.text.slice(0, slash), addrLine);
      host = hp.host;
      port = hp.port;
      basePath = slash < 0 ? "" : addr.text.slice(slash);
    } else if (addr?.kind === "path") {
      throw configError(
        input,
        `'host address' is a local path, but the protocol is ${protocol}`,
        addrLine,
      );
    }
    if (host === "") {
      throw configError(
        input,
        `protocol ${protocol} needs a server: set 'host address'`,
        addr ? addrLine : undefined,
      );
    }
    if (family === "webdav" && !scheme) scheme = protocol === "http" ? "http" : "https";
    const portS = input.get<number>("port");
    if (portS) {
      if (port !== undefined && port !== portS.value) {
        throw configError(
          input,
          `'${portS.name}' ${portS.value} conflicts with port ${port} in 'host address'`,
          portS.line,
        );
      }
      port = portS.value;
    }
    port ??= defaultPort(scheme);
    let directory = joinRemote(basePath, input.get<string>("host directory")?.value ?? "");
    if (family === "webdav") directory = "/" + directory.replace(/^\/+/, "");
    const userS = input.get<string>("user");
    const creds = credentials(input, userS?.value ?? urlUser);
    const out: BackendSettings = { protocol: family, host, port, directory };
    if (scheme) out.scheme = scheme;
    const user = creds.user;
    // A password in the URL belongs to the URL's user, not to a different configured one.
    const password = creds.password ?? (user === urlUser ? urlPassword : undefined);
    if (user !== undefined) out.user = user;
    if (password !== undefined) out.password = password;
    if (family === "ftps" || scheme === "https") Object.assign(out, tlsSettings(input));
    return out;
  };
}
