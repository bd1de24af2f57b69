import { type LegacyOptions, LegacyRepository } from "../../src/legacy/legacy_repository.ts";
import { collectingLogger } from "../../src/log/logger.ts";
import type { Relay } from "../../src/relay/relay.ts";
import type { Mode } from "../../src/engine/modes.ts";

export const FIXTURES = new URL("../fixtures/escale-legacy/", import.meta.url).pathname;

/** Copies a folder (recursively), keeping nothing but names and bytes. */
export async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (e.isDirectory) await copyTree(`${from}/${e.name}`, `${to}/${e.name}`);
    else await Deno.writeFile(`${to}/${e.name}`, await Deno.readFile(`${from}/${e.name}`));
  }
}

/** Every file under `dir` (dot files included) with its bytes as latin1 text, by relative path. */
export async function snapshot(dir: string, prefix = ""): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  let entries: Deno.DirEntry[] = [];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return out;
    throw e;
  }
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const rel = prefix + e.name;
    if (e.isDirectory) Object.assign(out, await snapshot(`${dir}/${e.name}`, rel + "/"));
    else out[rel] = latin1(await Deno.readFile(`${dir}/${e.name}`));
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

export function latin1(b: Uint8Array): string {
  return Array.from(b, (c) => String.fromCharCode(c)).join("");
}

/** The pushed tree of the fixtures with the mtimes Escale's pusher had (pushed-mtimes.txt). */
export async function pushedTree(to: string): Promise<void> {
  await copyTree(`${FIXTURES}tree`, to);
  const lines = (await Deno.readTextFile(`${FIXTURES}placeholder-plain/config/pushed-mtimes.txt`))
    .trim().split("\n");
  for (const line of lines) {
    const sp = line.lastIndexOf(" ");
    const t = new Date(Number(line.slice(sp + 1)) * 1000);
    await Deno.utime(`${to}/${line.slice(0, sp)}`, t, t);
  }
}

/** mtimes (seconds) of the files under `dir`, as pushed-mtimes.txt lists them. */
export async function mtimes(dir: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const rel of Object.keys(await snapshot(dir))) {
    out[rel] = Math.floor((await Deno.stat(`${dir}/${rel}`)).mtime!.getTime() / 1000);
  }
  return out;
}

export class LegacyClient {
  readonly lines: string[] = [];
  readonly repo: LegacyRepository;
  constructor(
    readonly root: string,
    relay: Relay,
    statePath: string,
    opts: Partial<LegacyOptions> & { clientName: string; mode: Mode },
  ) {
    this.repo = LegacyRepository.open(
      {
        name: opts.clientName,
        localPath: root,
        filter: { acceptFile: () => true, acceptDir: () => true },
        hiddenFiles: false,
        modificationTime: true,
        chunkSize: 8 << 20,
        maxPageSize: 200 << 20,
        transfers: 1,
        conflict: "keep-both",
        propagateDeletions: true,
        deleteThreshold: 1,
        force: false,
        lockTimeoutSec: 259200,
        ...opts,
      },
      relay,
      statePath,
      collectingLogger(this.lines),
    );
  }

  round() {
    return this.repo.round();
  }

  close() {
    this.repo.state.close();
  }
}
