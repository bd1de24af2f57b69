import { Repository } from "../../src/engine/repository.ts";
import type { RepoOptions } from "../../src/engine/context.ts";
import type { Mode } from "../../src/engine/modes.ts";
import { openStore } from "../../src/protocol/open_store.ts";
import type { Relay } from "../../src/relay/relay.ts";
import { MemoryRelay } from "../../src/relay/memory_relay.ts";
import { collectingLogger } from "../../src/log/logger.ts";

/** A temp folder with clients that sync through one relay, for engine scenario tests. */
export class Sandbox {
  readonly dir: string;
  readonly relay: Relay;
  readonly clients = new Map<string, Client>();

  private constructor(dir: string, relay: Relay) {
    this.dir = dir;
    this.relay = relay;
  }

  /** a passphrase turns encryption on for every client (cheap KDF settings for speed) */
  secret?: Uint8Array;

  static async create(relay: Relay = new MemoryRelay(), secret?: string): Promise<Sandbox> {
    const sb = new Sandbox(await Deno.makeTempDir({ prefix: "escale-test-" }), relay);
    if (secret !== undefined) sb.secret = new TextEncoder().encode(secret);
    return sb;
  }

  async client(
    name: string,
    mode: Mode = "shared",
    extra: Partial<RepoOptions> = {},
  ): Promise<Client> {
    const root = `${this.dir}/${name}`;
    await Deno.mkdir(root, { recursive: true });
    const c = new Client(this, name, root, mode, extra);
    this.clients.set(name, c);
    return c;
  }

  async cleanup(): Promise<void> {
    for (const c of this.clients.values()) c.close();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** Runs `fn` in a new sandbox over `relay`, then removes the sandbox whatever happened. */
export async function withSandbox(
  fn: (sb: Sandbox) => Promise<void>,
  relay: Relay = new MemoryRelay(),
): Promise<void> {
  const sb = await Sandbox.create(relay);
  try {
    await fn(sb);
  } finally {
    await sb.cleanup();
  }
}

export class Client {
  readonly lines: string[] = [];
  /** overrides the sandbox passphrase for this client (wrong-key tests) */
  secret?: Uint8Array;
  /** as the command line opens: the moved record was read until then (Repository.open) */
  movedReadUntil = 0;
  #repo: Repository | null = null;
  constructor(
    readonly sb: Sandbox,
    readonly name: string,
    readonly root: string,
    public mode: Mode,
    public extra: Partial<RepoOptions>,
  ) {}

  options(): RepoOptions {
    return {
      name: this.name,
      localPath: this.root,
      clientName: this.name,
      mode: this.mode,
      filter: { acceptFile: () => true, acceptDir: () => true },
      hiddenFiles: false,
      modificationTime: true,
      chunkSize: 64 * 1024,
      maxPageSize: 1024 * 1024,
      transfers: 4,
      conflict: "keep-both",
      propagateDeletions: true,
      deleteThreshold: 0.5,
      force: false,
      ...this.extra,
    };
  }

  async repo(): Promise<Repository> {
    if (!this.#repo) {
      const secret = this.secret ?? this.sb.secret;
      const { store, header } = await openStore(
        this.sb.relay,
        secret
          ? { mode: "aead", secret, cost: { memoryKiB: 8 * 1024, iterations: 1 } }
          : { mode: "none" },
      );
      this.#repo = Repository.open(
        this.options(),
        store,
        header.created,
        `${this.sb.dir}/${this.name}.state.db`,
        collectingLogger(this.lines),
        this.movedReadUntil,
      );
    }
    return this.#repo;
  }

  async sync() {
    const r = await this.repo();
    r.opts.mode = this.mode;
    Object.assign(r.opts, this.extra);
    return await r.round();
  }

  close(): void {
    this.#repo?.close();
    this.#repo = null;
  }

  async write(path: string, content: string, mtime?: Date): Promise<void> {
    const abs = `${this.root}/${path}`;
    await Deno.mkdir(abs.slice(0, abs.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(abs, content);
    if (mtime) await Deno.utime(abs, mtime, mtime);
  }

  async read(path: string): Promise<string> {
    return await Deno.readTextFile(`${this.root}/${path}`);
  }

  async rm(path: string): Promise<void> {
    await Deno.remove(`${this.root}/${path}`);
  }

  async mv(from: string, to: string): Promise<void> {
    const abs = `${this.root}/${to}`;
    await Deno.mkdir(abs.slice(0, abs.lastIndexOf("/")), { recursive: true });
    await Deno.rename(`${this.root}/${from}`, abs);
  }

  /** path -> content of every regular file (temp files included, so tests can see leftovers) */
  async tree(): Promise<Record<string, string>> {
    return await readTree(this.root);
  }
}

export async function readTree(root: string, withMtime = false): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string) => {
    for await (const e of Deno.readDir(rel ? `${root}/${rel}` : root)) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) await walk(p);
      else {
        const text = await Deno.readTextFile(`${root}/${p}`);
        out[p] = withMtime
          ? `${text}@${Math.floor((await Deno.stat(`${root}/${p}`)).mtime!.getTime() / 1000)}`
          : text;
      }
    }
  };
  await walk("");
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}
