import { CLIENTS_DIR, COMMITS_DIR, DATA_DIR, HEADER_KEY, LEASES_DIR } from "../protocol/format.ts";
import { baseName, joinKey } from "../relay/keys.ts";
import type { Relay } from "../relay/relay.ts";
import { LOCK_SUFFIX, PLACEHOLDER_SUFFIX } from "./names.ts";

export type RelayLayout =
  | { kind: "empty" }
  | { kind: "native" }
  | { kind: "escale-placeholder"; evidence: string }
  | { kind: "escale-index"; evidence: string }
  | { kind: "mixed"; evidence: string };

/** Folders looked into for placeholders before the relay is taken as holding none. */
const FOLDER_BUDGET = 200;

/** Index pages (`.0.index`, `.docs été.1796247498.data`): a page name holds no ".". */
const INDEX_NAME = /^\.[^.]+(\.\d+)?\.(index|data)$/;

/**
 * Which format a relay already holds: escale's native header, Escale 0.7's placeholder layout
 * (a `.name.placeholder` anywhere, or a `.name.lock`), its index layout (root `.page.index`
 * files), both (refused), or nothing recognisable. Looks at most at `FOLDER_BUDGET` folders.
 */
export async function detectLayout(relay: Relay): Promise<RelayLayout> {
  let native = false;
  let index: string | undefined;
  let placeholder: string | undefined;
  let lock: string | undefined;
  const note = (key: string) => {
    const base = baseName(key);
    if (key === HEADER_KEY) native = true;
    else if (!key.includes("/") && INDEX_NAME.test(base)) index ??= key;
    else if (base.startsWith(".") && base.endsWith(PLACEHOLDER_SUFFIX)) placeholder ??= key;
    else if (base.startsWith(".") && base.endsWith(LOCK_SUFFIX)) lock ??= key;
  };
  // A folder's files and sub-folders are listed together (two requests on most backends, in
  // one round trip); its sub-folders, or undefined when the backend cannot list folders.
  const look = async (dir: string) => {
    const [, folders] = await Promise.all([
      (async () => {
        for await (const e of relay.list(dir)) note(e.key);
      })(),
      relay.listFolders?.(dir),
    ]);
    return folders?.map((f) => joinKey(dir, f));
  };
  const nativeDirs = new Set([CLIENTS_DIR, COMMITS_DIR, DATA_DIR, LEASES_DIR]);
  const top = await look("");
  if (top && !index) {
    const dirs = top.filter((f) => !nativeDirs.has(f));
    let budget = FOLDER_BUDGET;
    while (dirs.length > 0 && budget-- > 0 && !placeholder) {
      dirs.push(...(await look(dirs.shift()!))!);
    }
  }
  const legacy = index ?? placeholder ?? lock;
  if (native && legacy) return { kind: "mixed", evidence: legacy };
  if (native) return { kind: "native" };
  if (index) return { kind: "escale-index", evidence: index };
  if (placeholder ?? lock) return { kind: "escale-placeholder", evidence: (placeholder ?? lock)! };
  return { kind: "empty" };
}
