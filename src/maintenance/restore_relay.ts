import { createHash } from "node:crypto";
import { createTarDecoder } from "modern-tar";
import { EscaleError, isKind } from "../errors/errors.ts";
import { CLIENTS_DIR, COMMITS_DIR, DATA_DIR, HEADER_KEY, LEASES_DIR } from "../protocol/format.ts";
import { withLease } from "../protocol/lease.ts";
import { MOVED_KEY } from "../protocol/moved_record.ts";
import { RelayStore } from "../protocol/relay_store.ts";
import type { Relay } from "../relay/relay.ts";
import { collect, fromUtf8 } from "../util/streams.ts";
import { type Emit, silent } from "./events.ts";
import {
  isBackupKey,
  type Manifest,
  MANIFEST_NAME,
  type ManifestObject,
  validateManifest,
} from "./manifest.ts";

/** Bytes of an archive, decompressed, from its start: restore reads the archive twice. */
export type ArchiveSource = () => Promise<ReadableStream<Uint8Array>>;

const MAX_MANIFEST = 512 * 1024 * 1024;
const MAX_SMALL = 64 * 1024 * 1024;

/**
 * Reads a whole archive and checks it against its manifest: every object the manifest lists is
 * there once, with its size and SHA-256. Nothing is written anywhere.
 */
export async function verifyArchive(source: ArchiveSource, emit: Emit = silent): Promise<Manifest> {
  const seen = new Map<string, { size: number; sha256: string }>();
  let manifest: Manifest | null = null;
  emit({ type: "phase", phase: "verifying the archive" });
  for await (const entry of (await source()).pipeThrough(createTarDecoder())) {
    const name = entry.header.name;
    if (name === MANIFEST_NAME) {
      const text = fromUtf8.decode(await collect(entry.body, MAX_MANIFEST, MANIFEST_NAME));
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new EscaleError("integrity", `${MANIFEST_NAME}: not valid JSON`);
      }
      manifest = validateManifest(parsed, MANIFEST_NAME);
      continue;
    }
    const h = createHash("sha256");
    let size = 0;
    for await (const c of entry.body) {
      size += c.length;
      h.update(c);
    }
    if (seen.has(name)) throw new EscaleError("integrity", `archive: ${name} appears twice`);
    seen.set(name, { size, sha256: h.digest("hex") });
    emit({ type: "progress", done: seen.size });
  }
  if (!manifest) {
    throw new EscaleError(
      "integrity",
      `archive: no ${MANIFEST_NAME} (not an escale backup, or cut short)`,
    );
  }
  for (const o of manifest.objects) {
    const got = seen.get(o.key);
    if (!got) throw new EscaleError("integrity", `archive: ${o.key} is missing`);
    if (got.size !== o.size || got.sha256 !== o.sha256) {
      throw new EscaleError(
        "integrity",
        `archive: ${o.key} does not match the manifest (damaged archive)`,
      );
    }
  }
  return manifest;
}

export interface RestoreResult {
  manifest: Manifest;
  written: number;
  /** objects already in place (a resumed restore) */
  kept: number;
  /** objects that were not part of the backup, removed (with `force`) */
  removed: number;
}

/**
 * Restores a verified backup into a relay: data objects and commits in archive order (data
 * before its commit), then client records, the header last, so that clients see the relay only
 * once it is complete. Objects already there with the backup's content are kept, so an
 * interrupted restore resumes without copying again. A relay holding anything that is not part of
 * this backup, or an object that differs from the backup's (a live relay whose clients moved on),
 * is refused unless `force`, which then removes or replaces those objects. Runs under the
 * maintenance lease.
 */
export async function restoreRelay(
  raw: Relay,
  source: ArchiveSource,
  opts: { force?: boolean; owner: string; emit?: Emit },
): Promise<RestoreResult> {
  const emit = opts.emit ?? silent;
  const manifest = await verifyArchive(source, emit);
  const wanted = new Map(manifest.objects.map((o) => [o.key, o]));
  const present = new Map<string, number>();
  for (const dir of ["", CLIENTS_DIR, COMMITS_DIR, DATA_DIR]) {
    // Only relay objects count: a folder may hold other things (a server's .DAV, lost+found).
    for await (const e of raw.list(dir)) if (isBackupKey(e.key)) present.set(e.key, e.size);
  }
  const foreign = [...present.keys()].filter((k) => !wanted.has(k));
  // A relay that was moved away is not empty: restoring there would leave its clients stopped.
  if (await raw.stat(MOVED_KEY)) foreign.push(MOVED_KEY);
  // Objects of the backup already there are kept only when they are the backup's own (an
  // interrupted restore): a client record that changed since the backup holds newer
  // acknowledgements, and putting the old one back would roll its clients back.
  const identical = new Set<string>();
  const differing: string[] = [];
  for (const [key, size] of present) {
    const o = wanted.get(key);
    if (!o) continue;
    const same = size === o.size &&
      await inPlace(raw, o).catch((e) => {
        if (isKind(e, "not-found")) return null; // gone since it was listed: written below
        throw e;
      });
    if (same) identical.add(key);
    else if (same === false) differing.push(key);
  }
  const headerMatches = identical.has(HEADER_KEY);
  if ((foreign.length || differing.length) && !opts.force) {
    const n = foreign.length + differing.length;
    const example = differing.length
      ? `${differing[0]}, which differs from the backup's`
      : foreign[0];
    throw new EscaleError(
      "safety",
      `${raw.name} is not empty (${n} objects that are not part of this backup or differ from it, e.g. ${example}); restore into an empty relay, or re-run with --force to replace what it holds`,
    );
  }
  const store = new RelayStore(raw);
  return await withLease(store, "maintenance", opts.owner, async () => {
    if (differing.includes(HEADER_KEY)) await raw.delete(HEADER_KEY); // hidden until complete
    let written = 0;
    let kept = 0;
    let headerBytes: Uint8Array | null = null;
    emit({ type: "phase", phase: "restoring", total: manifest.objects.length, unit: "objects" });
    for await (const entry of (await source()).pipeThrough(createTarDecoder())) {
      const o = wanted.get(entry.header.name);
      if (!o || (o.key === HEADER_KEY && headerMatches)) {
        await entry.body.cancel();
        continue;
      }
      if (o.key === HEADER_KEY) {
        headerBytes = verified(o, await collect(entry.body, MAX_SMALL, o.key));
        continue;
      }
      if (identical.has(o.key)) {
        await entry.body.cancel();
        kept++;
      } else {
        await writeVerified(raw, o, entry.body);
        written++;
      }
      emit({ type: "progress", done: written + kept, total: manifest.objects.length });
    }
    let removed = 0;
    for (const key of foreign) {
      if (key === HEADER_KEY || key.startsWith(`${LEASES_DIR}/`)) continue;
      await raw.delete(key);
      removed++;
    }
    if (headerBytes) {
      await raw.write(HEADER_KEY, headerBytes);
      written++;
    } else kept++;
    return { manifest, written, kept, removed };
  });
}

/**
 * Whether an object of the right size already holds the backup's bytes. A data object is
 * immutable once its commit exists and may be large, so its size is enough; the header, client
 * records and commits are small and compared whole.
 */
async function inPlace(raw: Relay, o: ManifestObject): Promise<boolean> {
  if (o.key.startsWith(`${DATA_DIR}/`)) return true;
  const bytes = await collect(await raw.read(o.key), MAX_SMALL, o.key);
  return createHash("sha256").update(bytes).digest("hex") === o.sha256;
}

function verified(o: ManifestObject, bytes: Uint8Array): Uint8Array {
  if (bytes.length !== o.size || createHash("sha256").update(bytes).digest("hex") !== o.sha256) {
    throw new EscaleError("integrity", `archive: ${o.key} changed since it was verified`);
  }
  return bytes;
}

/** Data objects up to this size are checked in memory before they are written (replayable). */
const MAX_BUFFERED = 64 * 1024 * 1024;

/**
 * Copies one object. Commits, records and data objects up to MAX_BUFFERED (a chunk, 8 MiB by
 * default) are read whole and checked before they are written, so a write can be retried. A
 * larger data object streams from the archive, hashed on the way, and is removed again should
 * the archive have changed since it was verified (a data object is invisible until its commit is
 * there); its stream cannot be opened twice, so a failed write of it stops the restore, and the
 * next run resumes.
 */
async function writeVerified(
  raw: Relay,
  o: ManifestObject,
  body: ReadableStream<Uint8Array>,
): Promise<void> {
  if (!o.key.startsWith(`${DATA_DIR}/`) || o.size <= MAX_BUFFERED) {
    await raw.write(o.key, verified(o, await collect(body, Math.max(MAX_SMALL, o.size), o.key)));
    return;
  }
  const h = createHash("sha256");
  let size = 0;
  let opened = false;
  const once = () => {
    if (opened) {
      throw new EscaleError(
        "permanent",
        `${o.key}: the write failed after it had read its data from the archive; run restore again (it resumes)`,
      );
    }
    opened = true;
    return body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(c, ctl) {
          size += c.length;
          h.update(c);
          ctl.enqueue(c);
        },
      }),
    );
  };
  await raw.write(o.key, once, { size: o.size });
  if (size !== o.size || h.digest("hex") !== o.sha256) {
    await raw.delete(o.key);
    throw new EscaleError("integrity", `archive: ${o.key} changed since it was verified`);
  }
}
