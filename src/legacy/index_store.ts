import { EscaleError, isKind } from "../errors/errors.ts";
import type { Relay } from "../relay/relay.ts";
import { bunzip2 } from "../util/bunzip2.ts";
import { bzip2 } from "../util/bzip2.ts";
import { bytesStream, collect } from "../util/streams.ts";
import type { Fernet } from "./fernet.ts";
import {
  pagesOf,
  type PageView,
  persistentKey,
  updateDataKey,
  updateIndexKey,
} from "./index_pages.ts";
import { formatIndex, type IndexText, parseIndex } from "./index_text.ts";
import { PlaceholderStore } from "./placeholder_store.ts";
import { type ArchiveFile, packArchive, type PackedFile, readArchive } from "./update_archive.ts";

/** Index pages are a few hundred bytes per file; far larger is not one (or a bzip2 bomb). */
const INDEX_LIMIT = 256 * 1024 * 1024;

/**
 * Escale 0.7's index layout on top of any Relay: every object sits at the relay root (page
 * `p`: `.p.index`, `.p.<ts>.index`, `.p.<ts>.data`, lock `.p.lock`). Page locks are the
 * placeholder layout's lock files, written and verified the same way. Update data is a tar
 * compressed with bzip2 (then one Fernet token when a key is given); it is staged in a private
 * local file while it is written, so that a retried upload sends the same bytes and the
 * checksums published are those of the bytes sent.
 */
export class IndexStore {
  readonly locks: PlaceholderStore;

  constructor(
    readonly relay: Relay,
    readonly me: string,
    readonly stagingDir: string,
    readonly fernet?: Fernet,
  ) {
    this.locks = new PlaceholderStore(relay, me, fernet);
  }

  async pages(): Promise<Map<string, PageView>> {
    return pagesOf(await Array.fromAsync(this.relay.list("")));
  }

  async readPersistent(page: string): Promise<IndexText | null> {
    const key = persistentKey(page);
    const where = `${this.relay.name}/${key}`;
    const raw = await this.#read(key);
    if (raw === null) return null;
    const plain = await collect(
      bytesStream(raw).pipeThrough(await bunzip2(where)),
      INDEX_LIMIT,
      key,
    );
    return parseIndex(plain, "persistent", where);
  }

  async writePersistent(page: string, entries: Map<string, string | null>): Promise<void> {
    const text = formatIndex(entries, "persistent");
    const bz = await bzip2();
    const [out] = await Promise.all([
      collect(bz.readable, INDEX_LIMIT, persistentKey(page)),
      bytesStream(text).pipeTo(bz.writable),
    ]);
    await this.relay.write(persistentKey(page), out);
  }

  async readUpdateIndex(page: string, ts: number): Promise<IndexText | null> {
    const key = updateIndexKey(page, ts);
    const raw = await this.#read(key);
    return raw === null ? null : parseIndex(raw, "update", `${this.relay.name}/${key}`);
  }

  async writeUpdateIndex(
    page: string,
    ts: number,
    entries: Map<string, string | null>,
    pullers: string[] = [],
  ): Promise<void> {
    await this.relay.write(updateIndexKey(page, ts), formatIndex(entries, "update", pullers));
  }

  /** Streams the files of an update (decrypted first when Fernet is on: a token is one piece). */
  async readUpdateData(
    page: string,
    ts: number,
    onFile: (f: ArchiveFile) => Promise<void>,
    onRefused: (name: string, why: string) => void,
  ): Promise<void> {
    const key = updateDataKey(page, ts);
    const where = `${this.relay.name}/${key}`;
    let stream = await this.relay.read(key);
    if (this.fernet) {
      const token = await collect(stream, Number.MAX_SAFE_INTEGER, key);
      stream = bytesStream(this.fernet.decrypt(token, where));
    }
    try {
      await readArchive(stream.pipeThrough(await bunzip2(where)), onFile, onRefused);
    } catch (e) {
      if (e instanceof EscaleError) throw e;
      // The tar reader's own errors (a damaged header): one line naming the object.
      throw new EscaleError(
        "integrity",
        `${where}: not a valid tar archive (${(e as Error).message})`,
      );
    }
  }

  /**
   * Packs `files` into a local staging file (tar, bzip2) and uploads it as the update data of
   * `page` at `ts`. Returns what was packed of each file.
   */
  async writeUpdateData(
    page: string,
    ts: number,
    files: { path: string; abs: string }[],
  ): Promise<Map<string, PackedFile>> {
    const tmp = await Deno.makeTempFile({ dir: this.stagingDir, prefix: ".escale-update-" });
    try {
      const bz = await bzip2();
      const file = await Deno.open(tmp, { write: true, truncate: true });
      const [packed] = await Promise.all([
        packArchive(files, bz.writable),
        bz.readable.pipeTo(file.writable),
      ]);
      const key = updateDataKey(page, ts);
      if (this.fernet) {
        await this.relay.write(key, this.fernet.encrypt(await Deno.readFile(tmp)));
      } else {
        const size = (await Deno.stat(tmp)).size;
        await this.relay.write(key, () => openFileStream(tmp), { size });
      }
      return packed;
    } finally {
      await Deno.remove(tmp).catch(() => {});
    }
  }

  async delete(key: string): Promise<void> {
    await this.relay.delete(key);
  }

  async #read(key: string): Promise<Uint8Array | null> {
    try {
      return await collect(await this.relay.read(key), INDEX_LIMIT, key);
    } catch (e) {
      if (isKind(e, "not-found")) return null;
      throw e;
    }
  }
}

/** A fresh stream of a local file, opened when it is first pulled (a body may be replayed). */
function openFileStream(path: string): ReadableStream<Uint8Array> {
  let file: Deno.FsFile | null = null;
  let inner: ReadableStreamDefaultReader<Uint8Array> | null = null;
  return new ReadableStream({
    async pull(c) {
      if (!inner) {
        file = await Deno.open(path, { read: true });
        inner = file.readable.getReader();
      }
      const { done, value } = await inner.read();
      if (done) c.close();
      else c.enqueue(value);
    },
    async cancel(reason) {
      await inner?.cancel(reason);
    },
  });
}
