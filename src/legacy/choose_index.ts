import { EscaleError } from "../errors/errors.ts";
import type { Relay } from "../relay/relay.ts";
import type { RelayLayout } from "./detect_layout.ts";
import { type IndexSetting, pagesOf, parseIndexSetting } from "./index_pages.ts";

/**
 * The index layout a legacy section uses, or undefined for the placeholder layout: its `index`
 * setting, else (a relay that already holds pages) what the pages tell. Pages other than `0`
 * mean folders are paged (`topdir:N`), and N cannot be read from the names: the section must
 * say it, as its Python clients do.
 */
export async function chooseIndex(
  relay: Relay,
  layout: RelayLayout,
  index: string | undefined,
): Promise<IndexSetting | undefined> {
  const setting = parseIndexSetting(index);
  if (setting || layout.kind !== "escale-index") return setting;
  const pages = [...pagesOf(await Array.fromAsync(relay.list(""))).keys()];
  const other = pages.find((p) => p !== "0");
  if (other === undefined) return { kind: "single" };
  throw new EscaleError(
    "config",
    `relay ${relay.name} holds Escale 0.7's index layout paged by folder (found .${other}.index); set "index = topdir:N" as its Python clients have it`,
  );
}
