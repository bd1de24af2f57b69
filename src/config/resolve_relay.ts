import { resolve } from "node:path";
import { ConfigError } from "../errors/errors.ts";
import { splitRcloneLocation } from "../relay/rclone/rclone_remote.ts";
import { parseAddress, type ParsedAddress, splitHostPort } from "./address.ts";
import { RCLONE_ALIASES } from "./options.ts";
import { resolvePassword } from "./secrets.ts";
import type { RelayProtocol, RelaySettings } from "./settings.ts";
import { expandPath, type ParseContext } from "./value_types.ts";
import { ValueProblem } from "./value_problem.ts";

/**
 * Turns the relay options of one section (protocol, address, directory, credentials, TLS and
 * backend extras) into RelaySettings, checking what can be checked without connecting.
 */

/** One parsed option of the section being resolved. */
export interface Setting<T = unknown> {
  value: T;
  /** interpolated text as written */
  raw: string;
  /** the key as the user wrote it, for messages */
  name: string;
  line: number;
}

export interface RelayInput {
  file: string;
  sectionLine: number;
  get<T>(key: string): Setting<T> | undefined;
  ctxAt(line: number): ParseContext;
  env(name: string): string | undefined;
}

const SCHEME_PROTOCOL: Readonly<Record<string, string>> = {
  file: "file",
  ftp: "ftp",
  ftps: "ftps",
  http: "http",
  https: "https",
  webdav: "webdav",
  webdavs: "https",
  dav: "http",
  davs: "https",
  s3: "s3",
  rclone: "rclone",
};

const FAMILY_SCHEMES: Readonly<Record<RelayProtocol, readonly string[]>> = {
  file: ["file"],
  ftp: ["ftp"],
  ftps: ["ftp", "ftps"],
  webdav: ["http", "https", "webdav", "webdavs", "dav", "davs"],
  s3: ["s3", "http", "https"],
  rclone: ["rclone"],
};

const DEFAULT_PORTS: Readonly<Record<string, number>> = { ftp: 21, ftps: 21, http: 80, https: 443 };

function familyOf(protocol: string): RelayProtocol {
  if (protocol === "http" || protocol === "https") return "webdav";
  if ((RCLONE_ALIASES as readonly string[]).includes(protocol)) return "rclone";
  return protocol as RelayProtocol;
}

function isLocalAbsolute(p: string): boolean {
  const t = p.trim();
  return t.startsWith("/") || t === "~" || t.startsWith("~/");
}

/** Remote path join: an absolute `dir` replaces the base; slashes are collapsed. */
function joinRemote(base: string, dir: string): string {
  const d = dir.trim();
  const joined = d.startsWith("/") || base === "" ? d : d === "" ? base : `${base}/${d}`;
  const collapsed = joined.replace(/\/{2,}/g, "/");
  return collapsed.length > 1 ? collapsed.replace(/\/$/, "") : collapsed;
}

export function resolveRelay(input: RelayInput): RelaySettings {
  const { file, sectionLine } = input;
  const fail = (message: string, line: number): never => {
    throw new ConfigError(message, { file, line });
  };
  const protoS = input.get<string>("protocol");
  const addrS = input.get<string>("host address");
  const dirS = input.get<string>("host directory");
  let addr: ParsedAddress | undefined;
  if (addrS && addrS.value !== "") {
    try {
      addr = parseAddress(addrS.value);
    } catch (e) {
      if (e instanceof ValueProblem) fail(`'${addrS.name}' ${e.message}`, addrS.line);
      throw e;
    }
  }
  const addrLine = addrS?.line ?? sectionLine;

  let protocol: string;
  if (protoS) protocol = protoS.value;
  else if (addr?.kind === "url") {
    const p = SCHEME_PROTOCOL[addr.scheme];
    if (!p) {
      fail(
        `'${addrS!.name}' has an unknown scheme '${addr.scheme}://' ` +
          `(use ${Object.keys(SCHEME_PROTOCOL).join(", ")}, or set 'protocol')`,
        addrLine,
      );
    }
    protocol = p;
  } else if (addr?.kind === "path") protocol = "file";
  else if (addr?.kind === "bare") {
    return fail(
      `cannot tell the protocol from '${addrS!.name}'; write it as protocol://server or set ` +
        "'protocol'",
      addrLine,
    );
  } else if (dirS && isLocalAbsolute(dirS.value)) protocol = "file";
  else {
    return fail(
      "no relay is configured: set 'host address' (protocol://server/path) or " +
        "'relay path' (a local or mounted folder)",
      sectionLine,
    );
  }
  const family = familyOf(protocol);
  if (addr?.kind === "url") {
    const okSchemes = FAMILY_SCHEMES[family];
    const clash = !okSchemes.includes(addr.scheme) ||
      ((protocol === "http" || protocol === "https") &&
        (addr.scheme === "http" || addr.scheme === "https") && addr.scheme !== protocol);
    if (clash) {
      fail(`'${addrS!.name}' uses ${addr.scheme}:// but the protocol is ${protocol}`, addrLine);
    }
  }

  const common = {
    timeoutSec: input.get<number>("timeout")?.value ?? 60,
    maxRetries: input.get<number>("max retries")?.value ?? 3,
  };
  switch (family) {
    case "file":
      return { protocol: "file", directory: fileFolder(input, addr, addrLine), ...common };
    case "ftp":
    case "ftps":
    case "webdav":
      return { ...serverRelay(input, family, protocol, addr, addrLine), ...common };
    case "s3":
      return { ...s3Relay(input, addr, addrLine), ...common };
    case "rclone":
      return { ...rcloneRelay(input, protocol, addr, addrLine), ...common };
  }
}

function fileFolder(input: RelayInput, addr: ParsedAddress | undefined, addrLine: number): string {
  const { file, sectionLine } = input;
  const ctx = input.ctxAt(addrLine);
  const dirS = input.get<string>("host directory");
  let base: string | undefined;
  if (addr?.kind === "url") {
    if (addr.host !== "" && addr.host !== "localhost") {
      throw new ConfigError("a file:// address cannot name another host", {
        file,
        line: addrLine,
      });
    }
    base = addr.path === "" ? undefined : addr.path;
  } else if (addr?.kind === "path") base = expandPath(addr.path, ctx);
  else if (addr?.kind === "bare" && addr.text !== "localhost") base = expandPath(addr.text, ctx);

  let folder: string;
  let line: number;
  const dir = dirS?.value.trim() ?? "";
  if (dirS && dir !== "") {
    // Escale made an absolute directory relative to the working folder; absolute stays absolute.
    folder = isLocalAbsolute(dir) || !base ? expandPath(dir, ctx) : resolve(base, dir);
    line = dirS.line;
  } else if (base) {
    folder = resolve(base);
    line = addrLine;
  } else {
    throw new ConfigError("a file relay needs a folder: set 'relay path = /some/folder'", {
      file,
      line: sectionLine,
    });
  }
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(folder);
  } catch {
    throw new ConfigError(`relay folder ${folder} does not exist`, { file, line });
  }
  if (!info.isDirectory) {
    throw new ConfigError(`relay folder ${folder} is not a folder`, { file, line });
  }
  return folder;
}

function existingPath(input: RelayInput, key: string): string | undefined {
  const s = input.get<string>(key);
  if (!s) return undefined;
  try {
    if (Deno.statSync(s.value).isFile) return s.value;
  } catch {
    // reported below
  }
  throw new ConfigError(`'${s.name}': ${s.value} is not an existing file`, {
    file: input.file,
    line: s.line,
  });
}

function credentials(
  input: RelayInput,
  user: string | undefined,
): { user?: string; password?: string } {
  const pw = input.get<string>("password");
  if (!pw) return { user };
  try {
    const r = resolvePassword(pw.value, user, input.ctxAt(pw.line));
    return { user: user ?? r.user, password: r.password };
  } catch (e) {
    if (e instanceof ValueProblem) {
      throw new ConfigError(`'${pw.name}' ${e.message}`, { file: input.file, line: pw.line });
    }
    throw e;
  }
}

function tlsSettings(input: RelayInput): Partial<RelaySettings> {
  const certFile = existingPath(input, "certfile");
  const keyFile = existingPath(input, "keyfile");
  if (keyFile && !certFile) {
    const k = input.get<string>("keyfile")!;
    throw new ConfigError(`'${k.name}' needs 'certfile' too`, { file: input.file, line: k.line });
  }
  const out: Partial<RelaySettings> = {
    verifySsl: input.get<boolean>("verify ssl")?.value ?? true,
  };
  const caFile = existingPath(input, "ca file");
  if (caFile) out.caFile = caFile;
  if (certFile) out.certFile = certFile;
  if (keyFile) out.keyFile = keyFile;
  const ssl = input.get<string>("ssl version")?.value;
  if (ssl) out.sslVersion = ssl;
  return out;
}

function serverRelay(
  input: RelayInput,
  family: "ftp" | "ftps" | "webdav",
  protocol: string,
  addr: ParsedAddress | undefined,
  addrLine: number,
): Omit<RelaySettings, "timeoutSec" | "maxRetries"> {
  const { file, sectionLine } = input;
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
    const hp = splitHostPortAt(input, slash < 0 ? addr.text : addr.text.slice(0, slash), addrLine);
    host = hp.host;
    port = hp.port;
    basePath = slash < 0 ? "" : addr.text.slice(slash);
  } else if (addr?.kind === "path") {
    throw new ConfigError(`'host address' is a local path, but the protocol is ${protocol}`, {
      file,
      line: addrLine,
    });
  }
  if (host === "") {
    throw new ConfigError(`protocol ${protocol} needs a server: set 'host address'`, {
      file,
      line: addr ? addrLine : sectionLine,
    });
  }
  if (family === "webdav" && !scheme) scheme = protocol === "http" ? "http" : "https";
  const portS = input.get<number>("port");
  if (portS) {
    if (port !== undefined && port !== portS.value) {
      throw new ConfigError(
        `'${portS.name}' ${portS.value} conflicts with port ${port} in 'host address'`,
        { file, line: portS.line },
      );
    }
    port = portS.value;
  }
  port ??= DEFAULT_PORTS[family === "webdav" ? scheme! : family];
  let directory = joinRemote(basePath, input.get<string>("host directory")?.value ?? "");
  if (family === "webdav") directory = "/" + directory.replace(/^\/+/, "");
  const userS = input.get<string>("user");
  const creds = credentials(input, userS?.value ?? urlUser);
  const out: Omit<RelaySettings, "timeoutSec" | "maxRetries"> = {
    protocol: family,
    host,
    port,
    directory,
  };
  if (scheme) out.scheme = scheme;
  const user = creds.user;
  // A password in the URL belongs to the URL's user, not to a different configured one.
  const password = creds.password ?? (user === urlUser ? urlPassword : undefined);
  if (user !== undefined) out.user = user;
  if (password !== undefined) out.password = password;
  if (family === "ftps" || scheme === "https") Object.assign(out, tlsSettings(input));
  if (family === "ftps") out.ftpsClearData = input.get<boolean>("ftps clear data")?.value ?? false;
  return out;
}

function splitHostPortAt(input: RelayInput, text: string, line: number) {
  try {
    const hp = splitHostPort(text);
    if (hp) return hp;
  } catch (e) {
    if (!(e instanceof ValueProblem)) throw e;
  }
  throw new ConfigError("'host address' cannot be read as server[:port][/path]", {
    file: input.file,
    line,
  });
}

function s3Relay(
  input: RelayInput,
  addr: ParsedAddress | undefined,
  addrLine: number,
): Omit<RelaySettings, "timeoutSec" | "maxRetries"> {
  const { file, sectionLine } = input;
  let bucket: string | undefined;
  let endpoint: string | undefined;
  let prefix = "";
  const bucketS = input.get<string>("bucket");
  const splitBucket = (path: string) => {
    const segs = path.split("/").filter((s) => s !== "");
    if (!bucketS && segs.length > 0) bucket = segs.shift();
    prefix = segs.join("/");
  };
  if (addr?.kind === "url" && addr.scheme === "s3") {
    bucket = addr.host || undefined;
    prefix = addr.path;
  } else if (addr?.kind === "url") {
    endpoint = `${addr.scheme}://${addr.host}${addr.port ? `:${addr.port}` : ""}`;
    splitBucket(addr.path);
  } else if (addr?.kind === "bare") splitBucket(addr.text);
  else if (addr?.kind === "path") {
    throw new ConfigError("'host address' is a local path, but the protocol is s3", {
      file,
      line: addrLine,
    });
  }
  if (bucketS) {
    if (bucket !== undefined && bucket !== bucketS.value) {
      throw new ConfigError(
        `'${bucketS.name}' ${bucketS.value} conflicts with bucket ${bucket} in 'host address'`,
        { file, line: bucketS.line },
      );
    }
    bucket = bucketS.value;
  }
  if (!bucket) {
    throw new ConfigError(
      "an s3 relay needs a bucket: set 'bucket' or host address = s3://bucket",
      {
        file,
        line: addr ? addrLine : sectionLine,
      },
    );
  }
  const endpointS = input.get<string>("endpoint");
  if (endpointS) {
    const m = /^(https?):\/\/[^/\s]+$/.exec(endpointS.value.replace(/\/+$/, ""));
    if (!m) {
      throw new ConfigError(`'${endpointS.name}' must be an http:// or https:// URL`, {
        file,
        line: endpointS.line,
      });
    }
    endpoint = endpointS.value.replace(/\/+$/, "");
  }
  const region = input.get<string>("region")?.value || input.env("AWS_REGION") ||
    input.env("AWS_DEFAULT_REGION") || "us-east-1";
  const keyS = input.get<string>("access key id");
  const secretS = input.get<string>("secret access key");
  const userS = input.get<string>("user");
  const configured = credentials(input, keyS?.value ?? userS?.value);
  let user = configured.user;
  let password = secretS?.value ?? configured.password;
  let sessionToken: string | undefined;
  if (user === undefined && password === undefined) {
    user = input.env("AWS_ACCESS_KEY_ID");
    password = input.env("AWS_SECRET_ACCESS_KEY");
    // A session token belongs to the key pair it came with, so only with keys from the env.
    sessionToken = input.env("AWS_SESSION_TOKEN") || undefined;
  }
  if (!user || !password) {
    throw new ConfigError(
      "an s3 relay needs credentials: set 'access key id' and 'secret access key', or " +
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment",
      { file, line: sectionLine },
    );
  }
  const directory = joinRemote(prefix, input.get<string>("host directory")?.value ?? "")
    .replace(/^\/+|\/+$/g, "");
  const out: Omit<RelaySettings, "timeoutSec" | "maxRetries"> = {
    protocol: "s3",
    directory,
    bucket,
    region,
    user,
    password,
    pathStyle: input.get<boolean>("path style")?.value ?? endpoint !== undefined,
    ...tlsSettings(input),
  };
  if (endpoint) out.endpoint = endpoint;
  if (sessionToken) out.sessionToken = sessionToken;
  return out;
}

function rcloneRelay(
  input: RelayInput,
  protocol: string,
  addr: ParsedAddress | undefined,
  addrLine: number,
): Omit<RelaySettings, "timeoutSec" | "maxRetries"> {
  const { file, sectionLine } = input;
  let remote = "";
  let path = "";
  if (addr?.kind === "url") {
    remote = addr.host;
    path = addr.path;
  } else if (addr?.kind === "bare") {
    // `:backend:path` is rclone's on-the-fly remote (its name keeps the leading colon); a
    // connection string's quoted values may hold colons (url='http://…').
    const loc = splitRcloneLocation(addr.text);
    if (!loc) {
      throw new ConfigError(
        "'host address': a quoted value of the rclone connection string is not closed",
        { file, line: addrLine },
      );
    }
    ({ remote, path } = loc);
  } else if (addr?.kind === "path") {
    throw new ConfigError(
      "'host address' must name an rclone remote (remote: or remote:path), not a local path",
      { file, line: addrLine },
    );
  }
  if (remote === "" || remote === ":") {
    throw new ConfigError(
      `protocol ${protocol} needs the rclone remote in 'host address' (e.g. myremote:)`,
      { file, line: addr ? addrLine : sectionLine },
    );
  }
  const out: Omit<RelaySettings, "timeoutSec" | "maxRetries"> = {
    protocol: "rclone",
    directory: joinRemote(path, input.get<string>("host directory")?.value ?? ""),
    rcloneRemote: remote,
    rcloneBinary: input.get<string>("rclone binary")?.value || "rclone",
  };
  if (protocol !== "rclone") out.rcloneType = protocol;
  const config = existingPath(input, "rclone config");
  if (config) out.rcloneConfig = config;
  return out;
}
