import { type ErrorKind, oneLine, RelayError } from "../../errors/errors.ts";

/** One server reply (RFC 959 §4.2): a three-digit code and its text lines. */
export interface FtpReply {
  code: number;
  /** every line of the reply, the code prefix of the first and last included */
  lines: string[];
}

/** The reply text as one line, as shown in messages (at most 200 characters). */
export function replyText(r: FtpReply): string {
  const s = oneLine(r.lines.join(" "));
  return s.length > 200 ? s.slice(0, 200) + "…" : s;
}

/**
 * The error kind a failure reply stands for. 550 is "not found" unless the server says it is a
 * permission problem; 4xx codes that announce a lost or refused connection are worth retrying.
 */
export function replyKind(r: FtpReply): ErrorKind {
  const text = r.lines.join(" ");
  switch (r.code) {
    case 530:
    case 332:
      return "auth";
    case 550:
      return /permission|denied|not permitted|access/i.test(text) ? "permission" : "not-found";
    case 452:
    case 552:
      return "space";
    case 421:
    case 425:
    case 426:
    case 450:
    case 451:
      return "transient";
    default:
      return "permanent";
  }
}

/**
 * Builds the error for a failed command. `what` names the operation for the user (never the
 * password: callers pass the command without arguments for PASS, and `secrets` are scrubbed from
 * the server's text in case a server echoes them).
 */
export function replyError(
  r: FtpReply,
  what: string,
  key: string | undefined,
  secrets: string[],
): FtpReplyError {
  return new FtpReplyError(r.code, replyKind(r), scrub(`${what}: ${replyText(r)}`, secrets), key);
}

/** A RelayError that keeps the reply code, for callers that treat some codes specially. */
export class FtpReplyError extends RelayError {
  readonly code: number;
  constructor(code: number, kind: ErrorKind, message: string, key?: string) {
    super(kind, message, key);
    this.code = code;
  }
}

/** Replaces every secret in `s` by "***". */
export function scrub(s: string, secrets: string[]): string {
  let out = s;
  // Very short secrets would blank out ordinary words; no server echoes them anyway.
  for (const x of secrets) if (x.length >= 3) out = out.split(x).join("***");
  return out;
}
