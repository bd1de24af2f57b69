import { DatabaseSync } from "node:sqlite";
import { EscaleError } from "../errors/errors.ts";

/**
 * What a client of a legacy relay remembers per file, in its own SQLite file beside the native
 * state: the local file as last scanned (size, mtime, inode, sha512), the content last
 * exchanged through the relay (`base`: the sha512 both sides agreed on) and the relay version
 * last taken or published (`remote`, see placeholder.ts versionOf). A local change is
 * `sum != base`; a remote change is a placeholder whose version is not `remote`.
 */
export interface LegacyRow {
  path: string;
  size: number;
  mtime: number;
  ino: number;
  sum: string;
  base: string;
  remote: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files(path TEXT PRIMARY KEY, size INTEGER NOT NULL,
  mtime INTEGER NOT NULL, ino INTEGER NOT NULL, sum TEXT NOT NULL, base TEXT NOT NULL,
  remote TEXT NOT NULL);
`;

export class LegacyState {
  private constructor(private readonly db: DatabaseSync) {}

  static open(path: string): LegacyState {
    try {
      const db = new DatabaseSync(path);
      db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
      db.exec(SCHEMA);
      return new LegacyState(db);
    } catch (e) {
      throw new EscaleError("local-io", `cannot open the state ${path}: ${(e as Error).message}`);
    }
  }

  close(): void {
    this.db.close();
  }

  get(path: string): LegacyRow | undefined {
    return this.db.prepare("SELECT * FROM files WHERE path = ?").get(path) as
      | LegacyRow
      | undefined;
  }

  all(): LegacyRow[] {
    return this.db.prepare("SELECT * FROM files ORDER BY path").all() as unknown as LegacyRow[];
  }

  put(r: LegacyRow): void {
    this.db.prepare(
      "INSERT OR REPLACE INTO files(path, size, mtime, ino, sum, base, remote) VALUES (?,?,?,?,?,?,?)",
    ).run(r.path, r.size, r.mtime, r.ino, r.sum, r.base, r.remote);
  }

  getMeta(k: string): string | undefined {
    const r = this.db.prepare("SELECT v FROM meta WHERE k = ?").get(k) as { v: string } | undefined;
    return r?.v;
  }

  setMeta(k: string, v: string): void {
    this.db.prepare("INSERT OR REPLACE INTO meta(k, v) VALUES (?, ?)").run(k, v);
  }
}
