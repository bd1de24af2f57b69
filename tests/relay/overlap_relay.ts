import { MemoryRelay } from "../../src/relay/memory_relay.ts";
import type { ReadOptions, RelayEntry } from "../../src/relay/relay.ts";

/**
 * The in-memory relay, where the watched requests ("list DIR", "folders DIR", "read KEY") wait
 * for one another to start before they go on. Requests sent together all find the others
 * started; a request sent only after another one's answer cannot, so the first one gives up
 * after `patienceMs` and `apart` names it. Nothing here measures speed: the patience only
 * bounds how long a test of sequential code takes to fail.
 */
export class OverlapRelay extends MemoryRelay {
  #watched = new Set<string>();
  readonly #started = new Set<string>();
  readonly #wake: (() => void)[] = [];
  /** watched requests that went on without seeing every other watched request started */
  readonly apart: string[] = [];

  constructor(watched: string[], readonly patienceMs = 1000) {
    super("overlap");
    this.watch(watched);
  }

  /** Watches `labels` from now on: requests before this no longer count as started. */
  watch(labels: string[]): void {
    this.#watched = new Set(labels);
    this.#started.clear();
    this.apart.length = 0;
  }

  async #gate(label: string): Promise<void> {
    if (!this.#watched.has(label)) return;
    this.#started.add(label);
    for (const w of this.#wake.splice(0)) w();
    const all = () => [...this.#watched].every((l) => this.#started.has(l));
    const deadline = Date.now() + this.patienceMs;
    while (!all() && Date.now() < deadline) {
      await new Promise<void>((ok) => {
        const timer = setTimeout(ok, deadline - Date.now());
        this.#wake.push(() => {
          clearTimeout(timer);
          ok();
        });
      });
    }
    if (!all()) this.apart.push(label);
  }

  override async *list(dir: string): AsyncIterable<RelayEntry> {
    await this.#gate(`list ${dir}`);
    yield* super.list(dir);
  }

  override async listFolders(dir: string): Promise<string[]> {
    await this.#gate(`folders ${dir}`);
    return await super.listFolders(dir);
  }

  override async read(key: string, opts?: ReadOptions): Promise<ReadableStream<Uint8Array>> {
    await this.#gate(`read ${key}`);
    return await super.read(key, opts);
  }
}
