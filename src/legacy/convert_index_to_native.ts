import { EscaleError } from "../errors/errors.ts";
import { type EncryptionSetting, openStore } from "../protocol/open_store.ts";
import type { ConversionReport } from "./convert_to_native.ts";
import { persistentKey, updateDataKey, updateIndexKey } from "./index_pages.ts";
import type { IndexSync } from "./index_sync.ts";
import { lockKey } from "./names.ts";

/**
 * convertToNative for a relay in the index layout: every file of every update still waiting
 * for pullers is taken into this client's folder first (whatever its mode and the puller count,
 * keep-both on a conflict), then the Escale objects go (update data and indexes and locks
 * first, pages last) and the native header is written. The next native round of this client
 * publishes its tree; the others compare by content, so a client that holds a file already
 * does not download it again.
 *
 * Safe to run again after a crash: pages go last and the header after them, so an interrupted
 * conversion leaves an index relay (convert again) or an empty one. Nothing is removed while
 * another client holds a page lock or a waiting file could not be taken.
 */
export async function convertIndexToNative(
  sync: IndexSync,
  enc: EncryptionSetting,
): Promise<ConversionReport> {
  const store = sync.store;
  const relay = store.relay;
  const me = sync.opts.clientName;
  const before = await store.pages();
  let pending = 0;
  for (const v of before.values()) {
    if (v.lock) {
      const lock = await store.locks.readLock(v.page);
      if (lock && lock.owner !== me) {
        throw new EscaleError(
          "busy",
          `${relay.name}: page ${v.page} is locked by ${
            lock.owner ?? "an unknown client"
          }; stop every Escale client before converting the relay`,
        );
      }
    }
    for (const ts of v.updates.keys()) {
      const u = await store.readUpdateIndex(v.page, ts).catch(() => null);
      pending += u?.entries.size ?? 0;
    }
  }
  const due = await sync.takeEverything();
  if (due.length > 0) {
    throw new EscaleError(
      "busy",
      `${relay.name}: ${due.length} update(s) still waiting on the relay could not be taken (first: ${
        due[0]
      }); nothing was converted`,
    );
  }
  let removed = 0;
  const pages = await store.pages();
  for (const v of pages.values()) {
    for (const [ts, u] of v.updates) {
      if (u.data) await relay.delete(updateDataKey(v.page, ts));
      if (u.index) await relay.delete(updateIndexKey(v.page, ts));
      removed += (u.data ? 1 : 0) + (u.index ? 1 : 0);
    }
    if (v.lock) {
      await relay.delete(lockKey(v.page));
      removed++;
    }
  }
  for (const v of pages.values()) {
    if (!v.index) continue;
    await relay.delete(persistentKey(v.page));
    removed++;
  }
  const { header } = await openStore(relay, enc);
  sync.log.log(
    "info",
    `converted ${relay.name} to the native format (${pending} pending file(s) carried over, ${removed} Escale object(s) removed)`,
  );
  return { pending, removed, created: header.created };
}
