import { createHash } from "node:crypto";
import { createTarPacker, type TarPackController } from "modern-tar";
import { EscaleError, isKind } from "../errors/errors.ts";
import { CLIENTS_DIR, DATA_DIR, HEADER_KEY } from "../protocol/format.ts";
import { RelayStore } from "../protocol/relay_store.ts";
import type { Relay } from "../relay/relay.ts";
import { collect, utf8 } from "../util/streams.ts";
import { type Emit, silent } from "./events.ts";
import {
  type Manifest,
  MANIFEST_FORMAT,
  MANIFEST_NAME,
  MANIFEST_VERSION,
  type ManifestObject,
} from "./manifest.ts";

/** Largest commit, client record or header a backup holds in memory (as the readers bound it). */
const MAX_SMALL = 64 * 1024 * 1024;

/**
 * Writes a consistent snapshot of a relay as a tar stream into `out`: the header, then per
 * commit its data objects followed by the commit, then the client records, and last the
 * manifest (`escale-backup.json`: every object's key, size and SHA-256). Objects are copied as
 * stored, encrypted ones included; `store` (decrypting when needed) only tells which data
 * objects each commit references. Memory stays at one chunk plus the small records.
 *
 * Clients may keep syncing: a commit released while it is copied (its data or itself gone) is
 * left out of the manifest, so the snapshot never holds a commit without all its data. Data
 * objects no commit references (publications in progress, garbage) are not copied.
 */
export async function backupRelay(
  raw: Relay,
  store: RelayStore,
  out: WritableStream<Uint8Array>,
  emit: Emit = silent,
): Promise<Manifest> {
  const header = await RelayStore.readHeader(raw);
  if (!header) {
    throw new EscaleError(
      "usage",
      `${raw.name} holds no relay (no ${HEADER_KEY}); nothing to back up`,
    );
  }
  const { readable, controller } = createTarPacker();
  const piping = readable.pipeTo(out);
  piping.catch(() => {});
  const objects: ManifestObject[] = [];
  const taken = new Date();
  try {
    objects.push(await addBytes(controller, HEADER_KEY, await readSmall(raw, HEADER_KEY), taken));
    const refs = await store.listCommits();
    const rawSizes = new Map<string, number>();
    for await (const e of raw.list(DATA_DIR)) rawSizes.set(e.key, e.size);
    emit({ type: "phase", phase: "commits and data", total: refs.length, unit: "objects" });
    let done = 0;
    for (const ref of refs) {
      emit({ type: "progress", done: done++, total: refs.length });
      const commit = await store.readCommit(ref).catch((e) => {
        if (isKind(e, "not-found")) return null; // released meanwhile
        throw e;
      });
      if (!commit) continue;
      const copied: ManifestObject[] = [];
      let complete = true;
      for (const o of commit.objects) {
        const got = await addObject(controller, raw, o.key, rawSizes.get(o.key), taken);
        if (!got) {
          complete = false; // being released: the commit is left out
          break;
        }
        copied.push(got);
      }
      const bytes = complete ? await readSmall(raw, ref.key).catch(notFound) : null;
      if (!bytes) continue;
      copied.push(await addBytes(controller, ref.key, bytes, taken));
      objects.push(...copied);
    }
    emit({ type: "progress", done, total: refs.length });
    for await (const e of raw.list(CLIENTS_DIR)) {
      const bytes = await readSmall(raw, e.key).catch(notFound);
      if (bytes) objects.push(await addBytes(controller, e.key, bytes, taken));
    }
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      version: MANIFEST_VERSION,
      taken: taken.toISOString(),
      relay: raw.name,
      relayCreated: header.created,
      encrypted: header.encryption !== null,
      objects,
    };
    await addBytes(
      controller,
      MANIFEST_NAME,
      utf8.encode(JSON.stringify(manifest, null, 1)),
      taken,
    );
    controller.finalize();
    await piping;
    return manifest;
  } catch (e) {
    controller.error(e);
    await piping.catch(() => {});
    throw e;
  }
}

function notFound(e: unknown): null {
  if (isKind(e, "not-found")) return null;
  throw e;
}

async function readSmall(raw: Relay, key: string): Promise<Uint8Array> {
  return await collect(await raw.read(key), MAX_SMALL, key);
}

async function addBytes(
  c: TarPackController,
  key: string,
  bytes: Uint8Array,
  mtime: Date,
): Promise<ManifestObject> {
  const w = c.add({ name: key, size: bytes.length, type: "file", mode: 0o600, mtime }).getWriter();
  await w.write(bytes);
  await w.close();
  return { key, size: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") };
}

/** Streams one data object into the archive; null when it is gone (its commit being released). */
async function addObject(
  c: TarPackController,
  raw: Relay,
  key: string,
  listed: number | undefined,
  mtime: Date,
): Promise<ManifestObject | null> {
  const size = listed ?? (await raw.stat(key))?.size;
  if (size === undefined) return null;
  let body: ReadableStream<Uint8Array>;
  try {
    body = await raw.read(key);
  } catch (e) {
    return notFound(e);
  }
  const h = createHash("sha256");
  const w = c.add({ name: key, size, type: "file", mode: 0o600, mtime }).getWriter();
  let n = 0;
  for await (const chunk of body) {
    n += chunk.length;
    if (n > size) break;
    h.update(chunk);
    await w.write(chunk);
  }
  if (n !== size) {
    throw new EscaleError(
      "integrity",
      `${key}: ${
        n > size ? "longer" : "shorter"
      } than the ${size} bytes listed while it was copied; run "escale check"`,
    );
  }
  await w.close();
  return { key, size, sha256: h.digest("hex") };
}
