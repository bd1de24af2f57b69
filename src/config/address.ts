import { ValueProblem } from "./value_problem.ts";

/**
 * `host address` in its three shapes. The text is never quoted in messages: a URL may carry
 * `user:password@`.
 */
export type ParsedAddress =
  | {
    kind: "url";
    scheme: string;
    host: string;
    port?: number;
    user?: string;
    password?: string;
    /** decoded, "" or starting with "/" */
    path: string;
  }
  /** an absolute (or `~`) local path */
  | { kind: "path"; path: string }
  /** anything else: `server[:port][/path]`, `localhost`, an rclone `remote:path` */
  | { kind: "bare"; text: string };

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function parsePort(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 65535) {
    throw new ValueProblem("has a port that is not a number from 1 to 65535");
  }
  return n;
}

/** `host[:port]` with an optional `[ipv6]`; undefined when the text is not of that shape. */
export function splitHostPort(text: string): { host: string; port?: number } | undefined {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^\s:/@[\]]+)(?::([^:]*))?$/.exec(text);
  if (!m) return undefined;
  return { host: m[1], port: m[2] === undefined ? undefined : parsePort(m[2]) };
}

export function parseAddress(raw: string): ParsedAddress {
  const text = raw.trim();
  const url = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([\s\S]*)$/.exec(text);
  if (!url) {
    if (text.startsWith("/") || text === "~" || text.startsWith("~/")) {
      return { kind: "path", path: text };
    }
    return { kind: "bare", text };
  }
  const scheme = url[1].toLowerCase();
  const rest = url[2];
  const slash = rest.indexOf("/");
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? "" : decode(rest.slice(slash));
  const at = authority.lastIndexOf("@");
  const hostPort = at < 0 ? authority : authority.slice(at + 1);
  let user: string | undefined;
  let password: string | undefined;
  if (at >= 0) {
    const info = authority.slice(0, at);
    const colon = info.indexOf(":");
    user = decode(colon < 0 ? info : info.slice(0, colon));
    password = colon < 0 ? undefined : decode(info.slice(colon + 1));
  }
  if (hostPort === "") return { kind: "url", scheme, host: "", user, password, path };
  const hp = splitHostPort(hostPort);
  if (!hp) throw new ValueProblem("cannot be read as protocol://server[:port][/path]");
  return { kind: "url", scheme, host: hp.host, port: hp.port, user, password, path };
}

/** The address with any URL password replaced by `***`, safe to show or store. */
export function redactAddress(raw: string): string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/]*)([\s\S]*)$/.exec(raw.trim());
  if (!m) return raw;
  const at = m[2].lastIndexOf("@");
  if (at < 0) return raw;
  const info = m[2].slice(0, at);
  const colon = info.indexOf(":");
  if (colon < 0) return raw;
  return `${m[1]}${info.slice(0, colon)}:***${m[2].slice(at)}${m[3]}`;
}
