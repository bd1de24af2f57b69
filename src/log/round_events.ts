/** What a round reports while it runs, and what it counts: the engine emits them, the
 * presenters in log/ (progress bars, JSON events) and the CLI read them. */
export type ProgressEvent =
  | { type: "file-start"; direction: "up" | "down"; path: string; size: number }
  | { type: "file-done"; direction: "up" | "down"; path: string; size: number }
  | { type: "bytes"; direction: "up" | "down"; bytes: number }
  | { type: "deleted"; path: string }
  | { type: "moved"; from: string; path: string }
  | { type: "conflict"; path: string; copy: string | null; kept: "local" | "remote" }
  | { type: "problem"; path: string; reason: string };

export interface RoundStats {
  uploaded: number;
  uploadedBytes: number;
  downloaded: number;
  downloadedBytes: number;
  deletedLocal: number;
  movedLocal: number;
  conflicts: number;
  published: number;
  commitsApplied: number;
  garbageCollected: number;
  relayWrites: number;
  /** files that could not be synchronised this round (see RoundContext.problems) */
  problems: number;
}

export function emptyStats(): RoundStats {
  return {
    uploaded: 0,
    uploadedBytes: 0,
    downloaded: 0,
    downloadedBytes: 0,
    deletedLocal: 0,
    movedLocal: 0,
    conflicts: 0,
    published: 0,
    commitsApplied: 0,
    garbageCollected: 0,
    relayWrites: 0,
    problems: 0,
  };
}
