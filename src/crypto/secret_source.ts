import { ConfigError, EscaleError, localIoError } from "../errors/errors.ts";
import { base64url } from "./base64url.ts";

export interface SecretSource {
  /** the literal passphrase, used when `file` is not set */
  value: string;
  /** a file holding the passphrase or key */
  file?: string;
  /** receives the warning about a group- or world-readable file; default: stderr */
  warn?: (message: string) => void;
}

/**
 * The secret bytes of a passphrase or key file, as given to `createCryptoParams` /
 * `openCryptoParams`. Text is NFC-normalised so that a passphrase typed on macOS (which may
 * produce decomposed accents) and the same one typed elsewhere give the same key; trailing line
 * breaks of a file are dropped because editors add them. A key file made by `generateKeyFile` is
 * just a long passphrase here: it goes through the same KDF (docs/crypto.md §3).
 */
export async function readSecret(p: SecretSource): Promise<Uint8Array> {
  if (p.file === undefined) {
    if (p.value === "") throw new ConfigError("the passphrase is empty");
    return new TextEncoder().encode(p.value.normalize("NFC"));
  }
  let raw: Uint8Array;
  try {
    const st = await Deno.stat(p.file);
    if (st.mode !== null && (st.mode & 0o077) !== 0) {
      const warn = p.warn ?? ((m: string) => console.error(`escale: warning: ${m}`));
      warn(
        `passphrase file ${p.file} is readable by other users (mode ${
          (st.mode & 0o777).toString(8).padStart(3, "0")
        }); run: chmod 600 ${p.file}`,
      );
    }
    raw = await Deno.readFile(p.file);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new ConfigError(`passphrase file ${p.file} does not exist`);
    }
    throw localIoError(e, `reading passphrase file ${p.file}`);
  }
  let end = raw.length;
  while (end > 0 && (raw[end - 1] === 0x0a || raw[end - 1] === 0x0d)) end--;
  if (end === 0) throw new ConfigError(`passphrase file ${p.file} is empty`);
  const bytes = raw.subarray(0, end);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    // Binary key material is used as it is: there is no text to normalise.
    return bytes.slice();
  }
  return new TextEncoder().encode(text.normalize("NFC"));
}

/**
 * Writes a new random key (32 bytes, base64url, one line) to `path`. The file is created with
 * mode 0600 in the same call that creates it, so it is never readable by others, not even for a
 * moment; an existing file is never replaced, because it may be the only copy of a relay's key.
 */
export async function generateKeyFile(path: string): Promise<void> {
  const key = base64url.encode(crypto.getRandomValues(new Uint8Array(32)));
  let f: Deno.FsFile;
  try {
    f = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) {
      throw new EscaleError("usage", `key file ${path} already exists; refusing to overwrite it`);
    }
    throw localIoError(e, `creating key file ${path}`);
  }
  try {
    const data = new TextEncoder().encode(key + "\n");
    let off = 0;
    while (off < data.length) off += await f.write(data.subarray(off));
    await f.sync();
  } catch (e) {
    f.close();
    await Deno.remove(path).catch(() => {});
    throw localIoError(e, `writing key file ${path}`);
  }
  f.close();
}
