import { createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
import { EscaleError } from "../errors/errors.ts";
import { RelayKeys } from "./relay_keys.ts";
import { base64url } from "./base64url.ts";

/**
 * The encryption parameters stored, in plain text, in the relay header (docs/crypto.md §2).
 * Everything a client needs to turn the shared secret into the relay's keys, plus a key check
 * that tells a wrong secret apart before anything is read or written.
 */
export interface CryptoParams {
  /** format version of the encrypted relay */
  version: number;
  kdf: {
    algorithm: "argon2id";
    /** argon2 version number (0x13) */
    version: number;
    memoryKiB: number;
    iterations: number;
    parallelism: number;
    /** base64url, no padding */
    salt: string;
  };
  cipher: "chacha20-poly1305";
  /** plaintext bytes per sealed segment */
  segmentSize: number;
  /** base64url HMAC-SHA256 of the parameters under the key-check subkey */
  check: string;
}

/** Cost settings for a new relay; the defaults take 65–150 ms on the 2-core test machine. */
export interface KdfCost {
  memoryKiB?: number;
  iterations?: number;
  parallelism?: number;
  segmentSize?: number;
}

const FORMAT_VERSION = 1;
const ARGON2_VERSION = 0x13;
const CIPHER = "chacha20-poly1305";
// OWASP's recommended argon2id setting (19 MiB, 2 passes): about 0.1 s here, paid once per run.
const DEFAULTS = { memoryKiB: 19 * 1024, iterations: 2, parallelism: 1, segmentSize: 64 * 1024 };
/**
 * Bounds on what a relay header may ask for. The upper ones stop a hostile header from making
 * every client allocate unbounded memory or compute without end; the lower ones keep a careless
 * `createCryptoParams` call from producing a relay that is cheap to brute-force.
 */
const LIMITS = {
  memoryKiB: [8 * 1024, 1024 * 1024],
  iterations: [1, 64],
  parallelism: [1, 16],
  segmentSize: [1024, 16 * 1024 * 1024],
  saltBytes: [16, 64],
} as const;
const INFO_CONTENT = "escale v1 content";
const INFO_CHECK = "escale v1 key check";

/** New parameters (random salt) and the keys they give, for a relay being initialised. */
export async function createCryptoParams(
  secret: Uint8Array,
  cost: KdfCost = {},
): Promise<{ params: CryptoParams; keys: RelayKeys }> {
  const c = { ...DEFAULTS, ...cost };
  const unchecked: CryptoParams = {
    version: FORMAT_VERSION,
    kdf: {
      algorithm: "argon2id",
      version: ARGON2_VERSION,
      memoryKiB: c.memoryKiB,
      iterations: c.iterations,
      parallelism: c.parallelism,
      salt: base64url.encode(crypto.getRandomValues(new Uint8Array(16))),
    },
    cipher: CIPHER,
    segmentSize: c.segmentSize,
    // A placeholder of the right shape, so that the same checks as for a stored header apply.
    check: base64url.encode(new Uint8Array(32)),
  };
  let salt: Uint8Array;
  try {
    salt = validate(unchecked);
  } catch (e) {
    // Out-of-range costs here are the caller's bug, not a damaged relay header.
    throw new RangeError(`createCryptoParams: ${e instanceof Error ? e.message : e}`);
  }
  const { content, check } = await derive(unchecked, salt, secret);
  const params = { ...unchecked, check: base64url.encode(keyCheck(unchecked, check)) };
  return { params, keys: new RelayKeys(content, params.segmentSize) };
}

/** Derives the relay's keys from its header parameters; a wrong secret fails with kind "key". */
export async function openCryptoParams(
  params: CryptoParams,
  secret: Uint8Array,
): Promise<RelayKeys> {
  const salt = validate(params);
  const { content, check } = await derive(params, salt, secret);
  if (!timingSafeEqual(base64url.decode(params.check)!, keyCheck(params, check))) {
    throw new EscaleError("key", "wrong passphrase or key for this relay");
  }
  return new RelayKeys(content, params.segmentSize);
}

async function derive(
  p: CryptoParams,
  salt: Uint8Array,
  secret: Uint8Array,
): Promise<{ content: Uint8Array; check: Uint8Array }> {
  if (secret.length === 0) throw new EscaleError("config", "the passphrase or key is empty");
  // hash-wasm's WebAssembly argon2id (version 0x13, the only one it implements): about 6 times
  // faster here than the pure-JavaScript one used before, with identical output.
  // Loaded on demand: unencrypted runs do not pay for compiling it.
  const { argon2id } = await import("hash-wasm");
  const master = await argon2id({
    password: secret,
    salt,
    iterations: p.kdf.iterations,
    memorySize: p.kdf.memoryKiB,
    parallelism: p.kdf.parallelism,
    hashLength: 32,
    outputType: "binary",
  });
  const none = new Uint8Array(0);
  const content = new Uint8Array(hkdfSync("sha256", master, none, INFO_CONTENT, 32));
  const check = new Uint8Array(hkdfSync("sha256", master, none, INFO_CHECK, 32));
  master.fill(0);
  return { content, check };
}

/**
 * The key check authenticates every parameter (not just a constant), so a header whose cipher
 * or segment size was altered is refused like a wrong key instead of producing garbage later.
 */
function keyCheck(p: CryptoParams, checkKey: Uint8Array): Uint8Array {
  const text = [
    "escale key check v1",
    `version=${p.version}`,
    `kdf=${p.kdf.algorithm}`,
    `argon2-version=${p.kdf.version}`,
    `memory-kib=${p.kdf.memoryKiB}`,
    `iterations=${p.kdf.iterations}`,
    `parallelism=${p.kdf.parallelism}`,
    `salt=${p.kdf.salt}`,
    `cipher=${p.cipher}`,
    `segment-size=${p.segmentSize}`,
    "",
  ].join("\n");
  return new Uint8Array(createHmac("sha256", checkKey).update(text).digest());
}

/** Checks a header's parameters (they come from the relay, so from anyone); returns the salt. */
function validate(p: CryptoParams): Uint8Array {
  const bad = (field: string): never => {
    throw new EscaleError("integrity", `relay header has invalid encryption parameters (${field})`);
  };
  if (typeof p !== "object" || p === null) bad("encryption");
  if (p.version !== FORMAT_VERSION) {
    if (Number.isSafeInteger(p.version)) {
      throw new EscaleError(
        "key",
        `relay uses encryption format version ${p.version}, which this escale does not support`,
      );
    }
    bad("version");
  }
  if (typeof p.cipher !== "string") bad("cipher");
  if (p.cipher !== CIPHER) {
    throw new EscaleError(
      "key",
      `relay uses cipher ${JSON.stringify(p.cipher)}, which this escale does not support`,
    );
  }
  const k = p.kdf;
  if (typeof k !== "object" || k === null) bad("kdf");
  if (k.algorithm !== "argon2id") {
    if (typeof k.algorithm !== "string") bad("kdf.algorithm");
    throw new EscaleError(
      "key",
      `relay uses key derivation ${
        JSON.stringify(k.algorithm)
      }, which this escale does not support`,
    );
  }
  if (k.version !== ARGON2_VERSION) bad("kdf.version");
  const inRange = (v: unknown, [lo, hi]: readonly [number, number]) =>
    Number.isSafeInteger(v) && (v as number) >= lo && (v as number) <= hi;
  if (!inRange(k.memoryKiB, LIMITS.memoryKiB)) bad("kdf.memoryKiB");
  if (!inRange(k.iterations, LIMITS.iterations)) bad("kdf.iterations");
  if (!inRange(k.parallelism, LIMITS.parallelism)) bad("kdf.parallelism");
  // argon2 needs at least 8 KiB of memory per lane.
  if (k.memoryKiB < 8 * k.parallelism) bad("kdf.memoryKiB");
  if (!inRange(p.segmentSize, LIMITS.segmentSize)) bad("segmentSize");
  const salt = base64url.decode(k.salt);
  if (salt === null || !inRange(salt.length, LIMITS.saltBytes)) return bad("kdf.salt");
  if (base64url.decode(p.check)?.length !== 32) bad("check");
  return salt;
}
