/**
 * rclone's remote syntax, `remote:path`, where the remote may carry connection-string
 * parameters: `mydrive,shared_with_me:path`, `:local:/srv/relay`,
 * `:webdav,url='http://host/dav',user=u,pass=OBSCURED:path`. A value may be quoted with ' or "
 * (the quote doubled inside), so the colon that ends the remote is the first one outside quotes.
 */
export interface RcloneRemote {
  /** "mydrive", or ":webdav" for an on-the-fly remote */
  name: string;
  /** the parameters in order: value unquoted ("true" for a bare key), raw as written */
  params: { key: string; value: string; raw: string }[];
}

/** Parameter names that hold credentials, in rclone's backends (pass, secret_access_key, token…). */
const SECRET_KEY = /pass|secret|key|token|auth|cred|session|sas|cookie|bearer|signature/i;

interface Scanned extends RcloneRemote {
  /** index of the colon that ends the remote, or the text's length when there is none */
  end: number;
}

/** Reads the remote at the start of `text`; null when a quoted value is not closed. */
function scan(text: string): Scanned | null {
  let i = text.startsWith(":") ? 1 : 0;
  while (i < text.length && text[i] !== "," && text[i] !== ":") i++;
  const out: Scanned = { name: text.slice(0, i), params: [], end: text.length };
  while (text[i] === ",") {
    const start = ++i;
    while (i < text.length && !"=,:".includes(text[i])) i++;
    const key = text.slice(start, i);
    if (text[i] !== "=") {
      if (key) out.params.push({ key, value: "true", raw: "" });
      continue;
    }
    const valueStart = ++i;
    let value = "";
    const quote = text[i];
    if (quote === "'" || quote === '"') {
      for (i++;; i++) {
        if (i >= text.length) return null;
        if (text[i] !== quote) value += text[i];
        else if (text[i + 1] === quote) value += text[i++];
        else break;
      }
      i++;
    } else {
      while (i < text.length && text[i] !== "," && text[i] !== ":") i++;
      value = text.slice(valueStart, i);
    }
    out.params.push({ key, value, raw: text.slice(valueStart, i) });
  }
  if (text[i] === ":") out.end = i;
  return out;
}

/**
 * Splits `remote:path` at the colon that ends the remote (one inside a quoted value does not).
 * Without such a colon the whole text is the remote. null: a quoted value is not closed.
 */
export function splitRcloneLocation(text: string): { remote: string; path: string } | null {
  const s = scan(text);
  if (!s) return null;
  return { remote: text.slice(0, s.end), path: text.slice(s.end + 1) };
}

/** Parses a remote written without its path (a trailing colon is allowed). */
export function parseRcloneRemote(remote: string): RcloneRemote | null {
  const s = scan(remote);
  if (!s) return null;
  return { name: s.name, params: s.params };
}

/**
 * What of a remote must never reach any output: the whole connection string when it has
 * parameters (an obscured password can be revealed with `rclone reveal`), and each value of a
 * parameter that holds a credential. Empty for a plain remote name.
 */
export function rcloneRemoteSecrets(remote: string): string[] {
  const s = scan(remote);
  if (!s) return [remote];
  if (s.params.length === 0) return [];
  const out = new Set<string>([remote.slice(0, s.end), remote.slice(s.name.length, s.end)]);
  for (const p of s.params) {
    if (SECRET_KEY.test(p.key)) out.add(p.value).add(p.raw);
  }
  return [...out].filter((x) => x !== "");
}

/**
 * rclone's parameters that are a credential (a password, a secret key, a token), in its backends
 * as of 1.60; `_` and `-` are the same in a parameter name. Narrower than SECRET_KEY, which also
 * hides `key_file` (a path) and `env_auth` (a yes/no) from the output: this list says what must
 * not be on a command line at all.
 */
const CREDENTIAL_PARAMS = new Set([
  "pass",
  "password",
  "password2",
  "api_password",
  "file_password",
  "folder_password",
  "link_password",
  "plex_password",
  "key_file_pass",
  "secret",
  "client_secret",
  "secret_access_key",
  "application_credential_secret",
  "session_token",
  "token",
  "access_token",
  "auth_token",
  "bearer_token",
  "permanent_token",
  "refresh_token",
  "plex_token",
  "api_key",
  "key",
  "key_pem",
  "library_key",
  "private_access_key",
  "sas_url",
  "service_account_credentials",
  "sse_customer_key",
  "sse_customer_key_base64",
]);

/**
 * The names of the parameters of a connection string that carry a credential: one of
 * CREDENTIAL_PARAMS, or a URL with `user:password@` (`url='http://u:pw@host/dav'`).
 */
export function rcloneCredentialParams(text: string): string[] {
  const s = scan(text);
  if (!s) return [];
  return s.params.filter((p) =>
    (CREDENTIAL_PARAMS.has(p.key.toLowerCase().replaceAll("-", "_")) && p.raw !== "") ||
    /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/@]*:[^/@]*@/.test(p.value)
  ).map((p) => p.key);
}

/**
 * The environment variable that sets `key` of remote `section`, as rclone derives it:
 * RCLONE_CONFIG_ + the section upper-cased + _ + the key upper-cased with "-" as "_".
 */
export function rcloneConfigEnv(section: string, key: string): string {
  return `RCLONE_CONFIG_${section.toUpperCase()}_${key.toUpperCase().replaceAll("-", "_")}`;
}
