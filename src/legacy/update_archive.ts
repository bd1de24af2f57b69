import { createHash } from "node:crypto";
import { createTarDecoder, createTarPacker } from "modern-tar";
import { EscaleError, localIoError } from "../errors/errors.ts";
import { drain } from "../util/streams.ts";
import { legacyPathProblem } from "./names.ts";

/** What `readArchive` hands over for each regular file of an update. */
export interface ArchiveFile {
  path: string;
  size: number;
  body: ReadableStream<Uint8Array>;
}

/**
 * Walks the tar of an Escale update (Python's `tarfile`, PAX format) one member at a time, so
 * memory stays bounded whatever the archive's size. Escale's puller extracts everything with
 * `extractall`; here only regular files with a safe relative name reach `onFile`: a name with
 * "..", an absolute one, a NUL or control character, and links, devices and fifos are reported
 * to `onRefused` (with why) and skipped, never written anywhere. Folder entries carry nothing
 * escale needs (folders are made as files arrive). A body `onFile` leaves unread is skipped.
 */
export async function readArchive(
  tar: ReadableStream<Uint8Array>,
  onFile: (f: ArchiveFile) => Promise<void>,
  onRefused: (name: string, why: string) => void,
): Promise<void> {
  for await (const entry of tar.pipeThrough(createTarDecoder())) {
    const h = entry.header;
    const type = h.type ?? "file";
    const name = h.name;
    try {
      if (type === "directory") continue;
      if (type !== "file") {
        onRefused(name, `a ${type} entry (only regular files are taken)`);
        continue;
      }
      const problem = legacyPathProblem(name);
      if (problem) {
        onRefused(name, problem);
        continue;
      }
      await onFile({ path: name, size: h.size, body: entry.body });
    } finally {
      if (!entry.body.locked) await drain(entry.body);
    }
  }
}

/** What was packed of one file: the bytes that went into the archive, as Escale describes them. */
export interface PackedFile {
  sum: string;
  /** ms since the epoch */
  mtime: number;
  size: number;
}

/**
 * Writes the tar of an update into `out`, as Python's `tarfile` would read it: a folder entry
 * before the first file inside it, then each file with its mode and mtime (a PAX `path` for
 * names that are not ASCII, as Python writes them). Files are streamed and hashed as they are
 * read, so the checksum published is that of the bytes sent; a file whose size changes while
 * it is read stops the archive with a "local-io" error (it is sent at a later round).
 */
export async function packArchive(
  files: { path: string; abs: string }[],
  out: WritableStream<Uint8Array>,
): Promise<Map<string, PackedFile>> {
  const { readable, controller } = createTarPacker();
  const piping = readable.pipeTo(out);
  piping.catch(() => {});
  const packed = new Map<string, PackedFile>();
  const dirs = new Set<string>();
  const pax = (name: string) => (/^[\x20-\x7e]*$/.test(name) ? undefined : { path: name });
  try {
    for (const f of files) {
      const segs = f.path.split("/");
      for (let i = 1; i < segs.length; i++) {
        const dir = segs.slice(0, i).join("/");
        if (dirs.has(dir)) continue;
        dirs.add(dir);
        const w = controller.add({
          name: `${dir}/`,
          size: 0,
          type: "directory",
          mode: 0o755,
          mtime: new Date(),
          pax: pax(`${dir}/`),
        }).getWriter();
        await w.close();
      }
      packed.set(f.path, await packFile(controller, f.path, f.abs, pax(f.path)));
    }
    controller.finalize();
  } catch (e) {
    controller.error(e);
    await piping.catch(() => {});
    throw e;
  }
  await piping;
  return packed;
}

async function packFile(
  controller: ReturnType<typeof createTarPacker>["controller"],
  path: string,
  abs: string,
  pax: Record<string, string> | undefined,
): Promise<PackedFile> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(abs, { read: true });
  } catch (e) {
    throw localIoError(e, abs);
  }
  try {
    const st = await file.stat();
    const mtime = st.mtime?.getTime() ?? Date.now();
    const w = controller.add({
      name: path,
      size: st.size,
      type: "file",
      mode: (st.mode ?? 0o644) & 0o777,
      mtime: new Date(Math.floor(mtime / 1000) * 1000),
      pax,
    }).getWriter();
    const hash = createHash("sha512");
    let n = 0;
    const buf = new Uint8Array(1 << 20);
    for (;;) {
      const got = await file.read(buf.subarray(0, Math.min(buf.length, st.size - n + 1)));
      if (got === null) break;
      n += got;
      if (n > st.size) break;
      const chunk = buf.slice(0, got);
      hash.update(chunk);
      await w.write(chunk);
    }
    if (n !== st.size) {
      throw new EscaleError("local-io", `${abs} changed while it was being sent`);
    }
    await w.close();
    return { sum: hash.digest("hex"), mtime, size: n };
  } finally {
    file.close();
  }
}
