import { RelayError } from "../errors/errors.ts";
import {
  type Body,
  type DeleteOptions,
  openBody,
  type ReadOptions,
  type Relay,
  type RelayCapabilities,
  type RelayEntry,
  type UnfinishedUpload,
  type WriteOptions,
} from "./relay.ts";

export type FaultOp = "list" | "stat" | "read" | "write" | "delete";

/**
 * One injected fault: the `nth` (1-based) operation of kind `op` whose key matches `match`
 * fails ("fail", before anything happens), is cut half-way ("cut": a write consumes part of its
 * body then fails, a read delivers part of the data then fails), or hangs until the process is
 * killed ("stall"). "flip" (writes only) stores the body with its first byte changed and
 * reports success, as a faulty disk or proxy would. Each rule fires once.
 */
export interface FaultRule {
  op: FaultOp;
  match?: RegExp;
  nth?: number;
  action: "fail" | "cut" | "stall" | "flip";
  kind?: "transient" | "permanent";
}

/**
 * Fault injection around any relay, for crash tests. Also reachable from the command line
 * through ESCALE_FAULTS (see `parseFaults`), so tests can SIGKILL a real process at a chosen
 * step; a stall announces itself with a line on stderr so the test knows when to kill.
 */
export class FaultRelay implements Relay {
  readonly name: string;
  readonly capabilities: RelayCapabilities;
  readonly listFolders?: (dir: string) => Promise<string[]>;
  readonly received?: () => number;
  readonly listTemporary?: (dir: string) => AsyncIterable<RelayEntry>;
  readonly listUploads?: () => Promise<UnfinishedUpload[]>;
  readonly abortUpload?: (upload: UnfinishedUpload) => Promise<void>;
  #rules: { rule: FaultRule; seen: number; fired: boolean }[] = [];

  constructor(readonly inner: Relay, rules: FaultRule[] = []) {
    this.name = inner.name;
    this.capabilities = inner.capabilities;
    this.arm(rules);
    if (inner.received) this.received = () => inner.received!();
    if (inner.listFolders) {
      this.listFolders = async (dir) => {
        await this.#before("list", dir);
        return inner.listFolders!(dir);
      };
    }
    if (inner.listTemporary) this.listTemporary = (dir) => this.#temporary(dir);
    if (inner.listUploads) {
      this.listUploads = async () => {
        await this.#before("list", "");
        return await inner.listUploads!();
      };
    }
    if (inner.abortUpload) {
      this.abortUpload = async (u) => {
        await this.#before("delete", u.key);
        return await inner.abortUpload!(u);
      };
    }
  }

  /** Replaces the rules (counts start again); `arm([])` disarms. */
  arm(rules: FaultRule[]): void {
    this.#rules = rules.map((rule) => ({ rule, seen: 0, fired: false }));
  }

  /** The rule that fires for this operation, if any (counting happens here). */
  #match(op: FaultOp, key: string): FaultRule | undefined {
    for (const r of this.#rules) {
      if (r.fired || r.rule.op !== op || (r.rule.match && !r.rule.match.test(key))) continue;
      r.seen++;
      if (r.seen === (r.rule.nth ?? 1)) {
        r.fired = true;
        return r.rule;
      }
    }
    return undefined;
  }

  #error(rule: FaultRule, op: FaultOp, key: string): RelayError {
    return new RelayError(rule.kind ?? "transient", `injected fault: ${op} ${key}`, key);
  }

  async #stall(op: FaultOp, key: string): Promise<never> {
    console.error(`escale: fault injection: stalling ${op} ${key}`);
    await new Promise(() => {});
    throw new Error("unreachable");
  }

  async #before(op: FaultOp, key: string): Promise<FaultRule | undefined> {
    const rule = this.#match(op, key);
    if (!rule) return undefined;
    if (rule.action === "stall") return await this.#stall(op, key);
    if (rule.action === "fail") throw this.#error(rule, op, key);
    return rule;
  }

  async *list(dir: string): AsyncIterable<RelayEntry> {
    await this.#before("list", dir);
    yield* this.inner.list(dir);
  }

  async *#temporary(dir: string): AsyncIterable<RelayEntry> {
    await this.#before("list", dir);
    yield* this.inner.listTemporary!(dir);
  }

  async stat(key: string): Promise<RelayEntry | null> {
    await this.#before("stat", key);
    return await this.inner.stat(key);
  }

  async read(key: string, opts?: ReadOptions): Promise<ReadableStream<Uint8Array>> {
    const rule = await this.#before("read", key);
    const stream = await this.inner.read(key, opts);
    if (!rule) return stream;
    return cutAfterHalf(stream, this.#error(rule, "read", key));
  }

  async write(key: string, body: Body, opts?: WriteOptions): Promise<void> {
    const rule = await this.#before("write", key);
    if (!rule) return await this.inner.write(key, body, opts);
    if (rule.action === "flip") {
      return await this.inner.write(key, () => flipFirstByte(openBody(body)), opts);
    }
    return await this.inner.write(
      key,
      () => cutAfterHalf(openBody(body), this.#error(rule, "write", key)),
      opts,
    );
  }

  async delete(key: string, opts?: DeleteOptions): Promise<void> {
    await this.#before("delete", key);
    return await this.inner.delete(key, opts);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Passes the first chunk (or half of a single chunk), then errors. */
function cutAfterHalf(stream: ReadableStream<Uint8Array>, err: Error): ReadableStream<Uint8Array> {
  const reader = stream.getReader();
  let passed = false;
  return new ReadableStream({
    async pull(c) {
      if (passed) {
        await reader.cancel().catch(() => {});
        c.error(err);
        return;
      }
      const r = await reader.read();
      passed = true;
      if (r.done) return c.error(err);
      c.enqueue(r.value.subarray(0, Math.max(1, Math.floor(r.value.length / 2))));
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

/** The same bytes but the first, inverted. */
function flipFirstByte(stream: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  let first = true;
  return stream.pipeThrough(
    new TransformStream({
      transform(chunk, c) {
        if (first && chunk.length) {
          first = false;
          chunk = chunk.slice();
          chunk[0] ^= 0xff;
        }
        c.enqueue(chunk);
      },
    }),
  );
}

/**
 * ESCALE_FAULTS syntax, `;`-separated rules: `op:action[:nth][:regex]`, e.g.
 * `write:stall:2:^data/` stalls the second data-object write.
 */
export function parseFaults(spec: string): FaultRule[] {
  return spec.split(";").filter((s) => s.trim()).map((s) => {
    const [op, action, nth, ...re] = s.trim().split(":");
    if (
      !["list", "stat", "read", "write", "delete"].includes(op) ||
      !["fail", "cut", "stall", "flip"].includes(action) ||
      (action === "flip" && op !== "write")
    ) {
      throw new RelayError("permanent", `ESCALE_FAULTS: cannot parse ${JSON.stringify(s)}`);
    }
    return {
      op: op as FaultOp,
      action: action as FaultRule["action"],
      nth: nth ? Number(nth) : 1,
      match: re.length ? new RegExp(re.join(":")) : undefined,
    };
  });
}
