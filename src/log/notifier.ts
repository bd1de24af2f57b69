import { EXIT_CODE_TABLE, oneLine } from "../errors/errors.ts";
import { splitCommandLine } from "./command_line.ts";
import type { Logger } from "./logger.ts";
import { redactSecrets } from "./redact.ts";
import { sendMail } from "./smtp_client.ts";
import { trackChild } from "../util/child_processes.ts";
import { command } from "../util/spawn.ts";

/** A repository that stopped on an error. */
export interface Failure {
  section: string;
  /** the one-line message shown to the user (describeError) */
  message: string;
  exitCode: number;
  /** one more line for the e-mail, e.g. "escale retries in 40 s" */
  detail?: string;
}

export interface NotifierOptions {
  /** `maintainer`: one or more addresses, comma-separated, `Name <a@b>` accepted */
  maintainer?: string;
  /** `smtp host` (needed with a maintainer; its default is the option table's) */
  smtpHost?: string;
  /** `smtp port` (needed with a maintainer) */
  smtpPort?: number;
  /** `on failure`: a command line, split into words and run without a shell */
  onFailure?: string;
  /** hidden from the e-mail, the hook's environment and every log line (see redactSecrets) */
  secrets?: readonly string[];
  log: Logger;
  /** this machine's name; default Deno.hostname() */
  hostname?: string;
  /** limit for each SMTP step; default 30 s */
  smtpTimeoutMs?: number;
  /** the hook is ended after this long; default 60 s */
  hookTimeoutMs?: number;
}

/** Bytes of the hook's output kept for the log: enough for an error message, bounded. */
const HOOK_OUTPUT = 4096;

function hostName(): string {
  try {
    return Deno.hostname();
  } catch {
    return "localhost";
  }
}

/** Bare addresses out of `a@b, Name <c@d>`; anything unusable is reported and left out. */
function parseAddresses(list: string, log: Logger): string[] {
  const out: string[] = [];
  for (const item of list.split(",").map((s) => s.trim()).filter(Boolean)) {
    const addr = /<([^<>]*)>\s*$/.exec(item)?.[1].trim() ?? item;
    if (/^[^\s<>@]+@[^\s<>@]+$/.test(addr)) out.push(addr);
    else log.log("warn", `maintainer: ${JSON.stringify(item)} is not an e-mail address; skipped`);
  }
  return out;
}

/**
 * Reads the start of a child's output stream and discards the rest, so a chatty hook can neither
 * fill memory nor block on a full pipe. `stop` ends the reading: a hook that leaves a background
 * process holding its output open must not hold escale.
 */
function headOf(stream: ReadableStream<Uint8Array>): { text: Promise<string>; stop(): void } {
  const reader = stream.getReader();
  const text = (async () => {
    const kept: Uint8Array[] = [];
    let size = 0;
    try {
      while (true) {
        const { done, value } = await reader.read();
        if (done) break;
        if (size < HOOK_OUTPUT) {
          const part = value.subarray(0, HOOK_OUTPUT - size);
          kept.push(part);
          size += part.length;
        }
      }
    } catch {
      // cancelled by stop(): what was read so far is the answer
    }
    const all = new Uint8Array(size);
    let off = 0;
    for (const k of kept) {
      all.set(k, off);
      off += k.length;
    }
    return new TextDecoder().decode(all);
  })();
  return { text, stop: () => void reader.cancel().catch(() => {}) };
}

/** After the hook exits, how long its output may still take to arrive. */
const OUTPUT_GRACE_MS = 1000;

/**
 * Tells people that a repository stopped on an error, the two ways Escale users expect:
 *
 * 1. an e-mail to `maintainer`, from `escale@<hostname>`, through the SMTP server at
 *    `smtp host`:`smtp port` (default localhost:25; see sendMail);
 * 2. the `on failure` command, run without a shell, with the details in its environment:
 *    `ESCALE_SECTION`, `ESCALE_ERROR` (one line) and `ESCALE_EXIT_CODE`. They are never put on
 *    its command line, where every user of the machine could read them in the process list.
 *
 * Both go through redaction. `notify` never throws: a failed notification is logged as a
 * warning, and must not turn one error into two.
 */
export class Notifier {
  readonly #opts: NotifierOptions;
  readonly #host: string;

  constructor(opts: NotifierOptions) {
    this.#opts = opts;
    this.#host = opts.hostname ?? hostName();
  }

  /** True when there is someone or something to tell. */
  get configured(): boolean {
    return Boolean(this.#opts.maintainer?.trim() || this.#opts.onFailure?.trim());
  }

  async notify(f: Failure): Promise<void> {
    const clean: Failure = {
      section: oneLine(f.section),
      message: this.#redact(oneLine(f.message)),
      exitCode: f.exitCode,
      ...(f.detail ? { detail: this.#redact(oneLine(f.detail)) } : {}),
    };
    await Promise.all([this.#mail(clean), this.#hook(clean)]);
  }

  #redact(s: string): string {
    return redactSecrets(s, this.#opts.secrets ?? []);
  }

  #warn(message: string): void {
    this.#opts.log.log("warn", this.#redact(message));
  }

  async #mail(f: Failure): Promise<void> {
    const list = this.#opts.maintainer?.trim();
    if (!list) return;
    const to = parseAddresses(list, this.#opts.log);
    if (to.length === 0) return;
    const meaning = EXIT_CODE_TABLE.find(([c]) => c === f.exitCode)?.[1];
    const body = [
      `'escale[${f.section}]' on ${this.#host} hit the following error:`,
      "",
      f.message,
      "",
      ...(f.detail ? [f.detail, ""] : []),
      `Exit code: ${f.exitCode}${meaning ? ` (${meaning})` : ""}`,
      `Time: ${new Date().toISOString()}`,
      "",
    ].join("\n");
    const { smtpHost: host, smtpPort: port } = this.#opts;
    if (!host || port === undefined) {
      throw new Error("Notifier: a maintainer needs smtpHost and smtpPort");
    }
    try {
      await sendMail({
        host,
        port,
        from: `escale@${this.#host}`,
        to,
        subject: `escale[${f.section}] failed on ${this.#host}: ${f.message.slice(0, 120)}`,
        body,
        heloName: this.#host,
        timeoutMs: this.#opts.smtpTimeoutMs,
      });
      this.#opts.log.log("info", `told ${to.join(", ")} about the failure by e-mail`);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      this.#warn(`cannot e-mail the maintainer through ${host}:${port}: ${oneLine(msg)}`);
    }
  }

  async #hook(f: Failure): Promise<void> {
    const line = this.#opts.onFailure?.trim();
    if (!line) return;
    let argv: string[];
    try {
      argv = splitCommandLine(line);
    } catch (e) {
      this.#warn(`on failure: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    if (argv.length === 0) return;
    const [program, ...args] = argv;
    let child: Deno.ChildProcess;
    try {
      // Tracked: a run stopped by a signal stops its hook too.
      child = trackChild(
        command(program, {
          args,
          env: {
            ESCALE_SECTION: f.section,
            ESCALE_ERROR: f.message,
            ESCALE_EXIT_CODE: String(f.exitCode),
          },
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).spawn(),
      );
    } catch (e) {
      const msg = e instanceof Error ? e.message.replace(/,? ?\(os error \d+\)/, "") : String(e);
      this.#warn(`on failure: cannot run ${program}: ${oneLine(msg)}`);
      return;
    }
    const limit = this.#opts.hookTimeoutMs ?? 60_000;
    let timedOut = false;
    let killer: ReturnType<typeof setTimeout> | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      // A hook that ignores SIGTERM must still not hold escale forever.
      killer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
      }, 5000);
    }, limit);
    const stdout = headOf(child.stdout);
    const stderr = headOf(child.stderr);
    let grace: ReturnType<typeof setTimeout> | undefined;
    try {
      const status = await child.status;
      const both = Promise.all([stdout.text, stderr.text]);
      const late = new Promise<void>((resolve) => {
        grace = setTimeout(() => {
          stdout.stop();
          stderr.stop();
          resolve();
        }, OUTPUT_GRACE_MS);
      });
      await Promise.race([both, late]);
      const [out, err] = await both;
      if (timedOut) {
        this.#warn(`on failure: ${program} did not finish within ${limit / 1000} s; stopped`);
      } else if (!status.success) {
        const said = oneLine(err || out).slice(0, 300);
        this.#warn(
          `on failure: ${program} exited with code ${status.code}${said ? `: ${said}` : ""}`,
        );
      } else {
        this.#opts.log.log("debug", `on failure: ${program} done`);
      }
    } finally {
      clearTimeout(timer);
      clearTimeout(killer);
      clearTimeout(grace);
    }
  }
}
