/**
 * Parsers for FTP directory listings: MLSD/MLST fact lines (RFC 3659, exact and preferred) and,
 * for servers without them, the free-form LIST output in its two common shapes, Unix `ls -l` and
 * DOS/IIS. LIST times carry no time zone; they are read as UTC, the best guess available.
 */

export interface FtpListEntry {
  name: string;
  type: "file" | "dir" | "link" | "other";
  size: number;
  /** ms since the epoch, 0 when unknown */
  mtime: number;
}

/**
 * One MLSD line or MLST fact line: `fact=value;fact=value; name`. The facts never contain a
 * space, so the name is everything after the first one (spaces and `;` in names survive).
 */
export function parseMlsxLine(line: string): FtpListEntry | null {
  const sp = line.indexOf(" ");
  if (sp < 0) return null;
  const name = line.slice(sp + 1);
  if (!name) return null;
  const facts = new Map<string, string>();
  for (const fact of line.slice(0, sp).split(";")) {
    const eq = fact.indexOf("=");
    if (eq > 0) facts.set(fact.slice(0, eq).toLowerCase(), fact.slice(eq + 1));
  }
  const t = (facts.get("type") ?? "").toLowerCase();
  const type = t === "file"
    ? "file"
    : t === "dir" || t === "cdir" || t === "pdir"
    ? "dir"
    : /^os\.unix=(slink|symlink)/.test(t)
    ? "link"
    : "other";
  const size = Number(facts.get("size") ?? "0");
  const modify = facts.get("modify");
  return {
    name,
    type,
    size: Number.isFinite(size) ? size : 0,
    mtime: modify ? parseFtpTime(modify) : 0,
  };
}

/** `YYYYMMDDHHMMSS[.sss]` in UTC (MLSx `modify`, MDTM replies) to ms, 0 when malformed. */
export function parseFtpTime(s: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,3}))?/.exec(s.trim());
  if (!m) return 0;
  const ms = m[7] ? Number(m[7].padEnd(3, "0")) : 0;
  const t = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], ms);
  return Number.isFinite(t) ? t : 0;
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

// The size is the number right before the month; anything before it (links, owner, group, and
// servers that leave some out) is skipped. The earliest date-like match wins, so names that
// look like dates stay intact.
const UNIX_LINE =
  /^([-dlbcpsD])\S*\s+(?:.*?\s)??(\d+)\s+([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}:\d{2}|\d{4})\s(.*)$/;
const DOS_LINE =
  /^(\d{2})-(\d{2})-(\d{2}|\d{4})\s+(\d{1,2}):(\d{2})\s*([AaPp][Mm])?\s+(<DIR>|\d+)\s+(.*)$/;

/**
 * One LIST line, Unix or DOS style; null for headers ("total 12") and lines it cannot read.
 * `now` decides the year of recent Unix entries, which show a time instead of a year.
 */
export function parseListLine(line: string, now = Date.now()): FtpListEntry | null {
  const u = UNIX_LINE.exec(line);
  if (u) {
    const month = MONTHS.indexOf(u[3].toLowerCase());
    if (month < 0) return null;
    const day = Number(u[4]);
    let mtime: number;
    if (u[5].includes(":")) {
      const [hh, mm] = u[5].split(":").map(Number);
      const year = new Date(now).getUTCFullYear();
      mtime = Date.UTC(year, month, day, hh, mm);
      // "Recent" entries are within the last six months, so a date ahead of now is last year's.
      if (mtime > now + 2 * 86_400_000) mtime = Date.UTC(year - 1, month, day, hh, mm);
    } else {
      mtime = Date.UTC(Number(u[5]), month, day);
    }
    const kind = u[1];
    let name = u[6];
    if (kind === "l") {
      const arrow = name.indexOf(" -> ");
      if (arrow >= 0) name = name.slice(0, arrow);
    }
    if (!name) return null;
    return {
      name,
      type: kind === "-"
        ? "file"
        : kind === "d" || kind === "D"
        ? "dir"
        : kind === "l"
        ? "link"
        : "other",
      size: Number(u[2]),
      mtime,
    };
  }
  const d = DOS_LINE.exec(line);
  if (d) {
    let year = Number(d[3]);
    if (d[3].length === 2) year += year < 70 ? 2000 : 1900;
    let hour = Number(d[4]);
    const half = d[6]?.toLowerCase();
    if (half === "am" && hour === 12) hour = 0;
    else if (half === "pm" && hour < 12) hour += 12;
    const isDir = d[7] === "<DIR>";
    return {
      name: d[8],
      type: isDir ? "dir" : "file",
      size: isDir ? 0 : Number(d[7]),
      mtime: Date.UTC(year, Number(d[1]) - 1, Number(d[2]), hour, Number(d[5])),
    };
  }
  return null;
}
