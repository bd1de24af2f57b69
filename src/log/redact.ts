import type { Level, Logger } from "./logger.ts";

/** What every hidden value is replaced by. */
export const MASK = "***";

/**
 * Credentials in a URL's authority: `scheme://user:password@host`. The password part is greedy up
 * to the last `@` before the path, so a password that itself holds an unencoded `@` or `:` is
 * still hidden whole.
 */
const URL_USERINFO = /([a-z][a-z0-9+.-]*:\/\/[^\s/@:]*):[^\s/]*@/gi;

/**
 * HTTP authorisation headers, however they are quoted (`Authorization: Basic …`, a JSON dump
 * `"authorization":"AWS4-HMAC-SHA256 …"`). Everything to the end of the value goes: a header value
 * can hold spaces, and hiding too much is harmless where hiding too little is not.
 */
const AUTH_HEADER = /\b((?:proxy-)?authorization["']?\s*[:=]\s*["']?)[^\r\n"']*/gi;

/** Signed-URL signatures (S3 presigned URLs, the SigV4 Authorization header's `Signature=`). */
const SIGNATURE = /\b((?:x-amz-)?signature=)[^&\s"',;#]*/gi;

/** Query parameters that carry a bearer credential by convention. */
const SECRET_QUERY =
  /([?&;](?:x-amz-security-token|access_token|refresh_token|id_token|token|password|passwd|pwd|secret|client_secret|api_key|apikey)=)[^&\s"'#]*/gi;

/**
 * Every form in which a known secret can end up in a message: as written, and URL-encoded (it is
 * percent-encoded inside the URLs that backends build and report).
 */
function variants(secrets: readonly string[]): string[] {
  const out = new Set<string>();
  for (const s of secrets) {
    if (!s) continue;
    out.add(s);
    const enc = encodeURIComponent(s);
    if (enc !== s) out.add(enc);
    const form = enc.replace(/%20/g, "+");
    if (form !== enc) out.add(form);
  }
  // Longest first: a secret that contains another one must be hidden whole, not around the
  // shorter one's mask.
  return [...out].sort((a, b) => b.length - a.length);
}

/**
 * Hides credentials in a line of text: every known secret (passwords, passphrases, S3 secret
 * keys; compared literally, so regex characters in them are harmless), the password of any
 * `user:password@` URL, `Authorization:` values, signed-URL signatures and token query
 * parameters. Each is replaced by `***`. Every non-empty secret is hidden however short it is: a
 * one-character password garbles the log, which is better than leaking it.
 */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of variants(secrets)) {
    if (out.includes(s)) out = out.split(s).join(MASK);
  }
  return out
    .replace(URL_USERINFO, `$1:${MASK}@`)
    .replace(AUTH_HEADER, `$1${MASK}`)
    .replace(SIGNATURE, `$1${MASK}`)
    .replace(SECRET_QUERY, `$1${MASK}`);
}

/**
 * A Logger that redacts every message (and child prefix) before passing it on. The secret list
 * is shared by reference with its children, so secrets learnt later (a passphrase read from a
 * file once a repository opens) can be pushed into the same array and apply at once.
 */
export class RedactingLogger implements Logger {
  constructor(readonly inner: Logger, readonly secrets: string[]) {}

  log(level: Level, message: string): void {
    this.inner.log(level, redactSecrets(message, this.secrets));
  }

  child(prefix: string): Logger {
    return new RedactingLogger(this.inner.child(redactSecrets(prefix, this.secrets)), this.secrets);
  }
}
