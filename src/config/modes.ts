import type { Mode } from "./settings.ts";
import { shown, ValueProblem } from "./value_problem.ts";

export const MODES: readonly Mode[] = [
  "shared",
  "upload",
  "download",
  "conservative",
  "mirror-upload",
  "mirror-download",
  "backup-upload",
  "backup-download",
];

/** One line per mode, for `escale init` and the option help. */
export const MODE_HELP: Readonly<Record<Mode, string>> = {
  shared: "download then upload every round (default)",
  upload: "only send local changes; local files are never written",
  download: "only apply what others sent; nothing is uploaded",
  conservative: "like shared, but never overwrite a local file that was not pulled from the relay",
  "mirror-upload": "make the relay an exact copy of this folder; remote changes are discarded",
  "mirror-download": "make this folder an exact copy of the relay; local changes are discarded",
  "backup-upload": "send local changes but never propagate local deletions",
  "backup-download": "apply what others sent but never delete local files",
};

/**
 * Escale's spellings plus ours. `shar…` is Escale's own leniency; `protective` and the documented
 * but rejected `preservative` both mean conservative; the extensions accept spaces or
 * underscores for the dash and push/pull for upload/download.
 */
export function parseMode(raw: string): Mode {
  const text = raw.trim().toLowerCase().replace(/[\s_]+/g, "-");
  if (text.startsWith("shar")) return "shared";
  if (text === "conservative" || text === "protective" || text === "preservative") {
    return "conservative";
  }
  const named = text.replace(/\bpush\b/, "upload").replace(/\bpull\b/, "download");
  const found = MODES.find((m) => m === named);
  if (found) return found;
  throw new ValueProblem(
    `is not a known mode: ${shown(raw)} (valid modes: ${MODES.join(", ")})`,
  );
}

/** True when a mode never writes local files, i.e. it fits `push only = yes`. */
export function isUploadOnly(mode: Mode): boolean {
  return mode === "upload" || mode === "mirror-upload" || mode === "backup-upload";
}

/** True when a mode never uploads, i.e. it fits `pull only = yes`. */
export function isDownloadOnly(mode: Mode): boolean {
  return mode === "download" || mode === "mirror-download" || mode === "backup-download";
}
