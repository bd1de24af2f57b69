/** Synchronisation modes: Escale's four plus the mirror and backup variants of two-way tools. */
export type Mode =
  | "upload"
  | "download"
  | "shared"
  | "conservative"
  | "mirror-upload"
  | "mirror-download"
  | "backup-upload"
  | "backup-download";

export interface ModeRules {
  /** publishes local changes */
  pushes: boolean;
  /** reads other clients' commits (and is expected to acknowledge them) */
  pulls: boolean;
  /** publishes local deletions */
  pushDeletes: boolean;
  /** applies remote changes to local files (mirror-upload reads them only to undo them) */
  applies: boolean;
  /** applies remote deletions */
  applyDeletes: boolean;
  /** remote wins over local edits, and local-only files are removed (mirror-download) */
  mirrorLocal: boolean;
  /** local wins over remote changes, which are undone by republishing (mirror-upload) */
  mirrorRemote: boolean;
  /** Escale's conservative rule: overwrite only files pulled before (access w+) */
  conservative: boolean;
}

export function modeRules(mode: Mode, propagateDeletions: boolean): ModeRules {
  const base = {
    pushes: false,
    pulls: false,
    pushDeletes: false,
    applies: false,
    applyDeletes: false,
    mirrorLocal: false,
    mirrorRemote: false,
    conservative: false,
  };
  switch (mode) {
    case "upload":
      return { ...base, pushes: true, pushDeletes: propagateDeletions };
    case "download":
      return { ...base, pulls: true, applies: true, applyDeletes: propagateDeletions };
    case "shared":
      return {
        ...base,
        pushes: true,
        pulls: true,
        applies: true,
        pushDeletes: propagateDeletions,
        applyDeletes: propagateDeletions,
      };
    case "conservative":
      return {
        ...base,
        pushes: true,
        pulls: true,
        applies: true,
        pushDeletes: propagateDeletions,
        applyDeletes: propagateDeletions,
        conservative: true,
      };
    case "mirror-upload":
      return { ...base, pushes: true, pulls: true, pushDeletes: true, mirrorRemote: true };
    case "mirror-download":
      return { ...base, pulls: true, applies: true, applyDeletes: true, mirrorLocal: true };
    case "backup-upload":
      return { ...base, pushes: true };
    case "backup-download":
      return { ...base, pulls: true, applies: true };
  }
}
