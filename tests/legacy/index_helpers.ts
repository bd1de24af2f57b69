// Shared by the index-layout tests (tests/legacy/index_*_test.ts).
import { createTarDecoder } from "modern-tar";
import { Fernet } from "../../src/legacy/fernet.ts";
import type { IndexSetting } from "../../src/legacy/index_pages.ts";
import { parseIndex } from "../../src/legacy/index_text.ts";
import { bunzip2Stream } from "../../src/util/bunzip2_stream.ts";
import { bytesStream, collect } from "../../src/util/streams.ts";
import { FIXTURES } from "./legacy_helpers.ts";

export const TREE_MTIMES = {
  "docs été/résumé ü.txt": 1700000004,
  "hello.txt": 1700000001,
  "photos.2020/p.jpg": 1700000005,
  "sub/deep/data.bin": 1700000003,
  "sub/notes.md": 1700000002,
};

export const CASES: { name: string; index: IndexSetting; pullers?: number }[] = [
  { name: "index-1", index: { kind: "single" } },
  { name: "index-1-fernet", index: { kind: "single" } },
  { name: "index-1-pullers-2", index: { kind: "single" }, pullers: 2 },
  { name: "index-topdir-1", index: { kind: "topdir", levels: 1 } },
];

export async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "escale-index-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

export async function fernetOf(c: string): Promise<Fernet | undefined> {
  if (!c.includes("fernet")) return undefined;
  return Fernet.fromKeyText(await Deno.readFile(`${FIXTURES}${c}/config/fernet.key`));
}

/** The decompressed text of a persistent index, parsed as Escale's read_index does. */
export async function readPersistent(path: string) {
  const raw = await Deno.readFile(path);
  const plain = await collect(bytesStream(raw).pipeThrough(bunzip2Stream(path)), 1 << 26, path);
  return parseIndex(plain, "persistent", path);
}

/** Names and contents of the regular files of an update's data (tar.bz2, maybe Fernet). */
export async function updateFiles(path: string, fernet?: Fernet): Promise<Record<string, string>> {
  let raw: Uint8Array = await Deno.readFile(path);
  if (fernet) raw = fernet.decrypt(raw, path);
  const out: Record<string, string> = {};
  const tar = bytesStream(raw).pipeThrough(bunzip2Stream(path));
  for await (const e of tar.pipeThrough(createTarDecoder())) {
    const body = new TextDecoder().decode(await collect(e.body, 1 << 26, e.header.name));
    if (e.header.type === "file") out[e.header.name] = body;
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}
