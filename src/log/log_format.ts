/** Two-digit zero padding for the timestamps of the log files. */
export function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/**
 * `YYYY/MM/DD HH:MM` in local time: the timestamp of error.log entries (Escale wrote
 * `YYYY/DD/MM`; the day and month are in the documented order here).
 */
export function formatDateMinute(d: Date): string {
  return `${d.getFullYear()}/${pad2(d.getMonth() + 1)}/${pad2(d.getDate())} ${pad2(d.getHours())}:${
    pad2(d.getMinutes())
  }`;
}

/**
 * Writes all of `data` with synchronous writes: a single `writeSync` may write less than asked.
 */
export function writeAllSync(w: { writeSync(p: Uint8Array): number }, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += w.writeSync(data.subarray(off));
}

/**
 * Creates a log file's folder (private to the user: logs name files and hosts) and opens the file
 * for appending with mode 0600. A file that already exists with wider permissions is narrowed,
 * so that a log created by an older version or by hand never stays world-readable.
 */
export function openPrivateAppend(path: string): Deno.FsFile {
  const slash = path.lastIndexOf("/");
  if (slash > 0) Deno.mkdirSync(path.slice(0, slash), { recursive: true, mode: 0o700 });
  const file = Deno.openSync(path, { create: true, append: true, mode: 0o600 });
  if (Deno.build.os !== "windows") {
    try {
      if ((file.statSync().mode ?? 0) & 0o077) Deno.chmodSync(path, 0o600);
    } catch (e) {
      file.close();
      throw e;
    }
  }
  return file;
}
