import { EscaleError } from "../errors/errors.ts";
import { HEADER_KEY } from "../protocol/format.ts";
import type { RelayLayout } from "./detect_layout.ts";
import { parseIndexSetting } from "./index_pages.ts";
import { PLACEHOLDER_SUFFIX } from "./names.ts";

/** The `relay format` setting (src/config/options.ts parses it). */
export type RelayFormat = "auto" | "native" | "escale-0.7";

/**
 * The format a section uses on its relay, from its `relay format` setting, its `index` setting
 * and what the relay holds. A setting that contradicts the relay stops with one line naming what
 * was found and the setting to use: a native client must never write `escale.json` beside
 * Escale data (a Python puller would download and delete it), a legacy client must never scatter
 * placeholders in a native relay, and one layout of Escale's must never be written into the
 * other (the Python clients would not see it).
 */
export function chooseFormat(
  setting: RelayFormat,
  layout: RelayLayout,
  relayName: string,
  index?: string,
): "native" | "escale-0.7" {
  if (layout.kind === "mixed") {
    throw new EscaleError(
      "integrity",
      `relay ${relayName} holds both escale's native format (${HEADER_KEY}) and Escale 0.7 files (found ${layout.evidence}); point this section at a folder holding one of them`,
    );
  }
  if (layout.kind === "escale-index" || layout.kind === "escale-placeholder") {
    if (setting === "native") {
      throw new EscaleError(
        "config",
        `relay ${relayName} holds an Escale 0.7 relay (found ${layout.evidence}); set "relay format = escale-0.7" (or auto) to share it with Python Escale clients`,
      );
    }
    const indexed = parseIndexSetting(index) !== undefined;
    if (layout.kind === "escale-index" && !indexed && index !== undefined && index.trim() !== "") {
      throw new EscaleError(
        "config",
        `relay ${relayName} holds Escale 0.7's index layout (found ${layout.evidence}) but this section says "index = ${index.trim()}"; set "index" as the Python clients of this relay have it`,
      );
    }
    // A lock alone (`.0.lock`: a page lock, or a file's) tells neither layout: `index` decides.
    if (
      layout.kind === "escale-placeholder" && indexed &&
      layout.evidence.endsWith(PLACEHOLDER_SUFFIX)
    ) {
      throw new EscaleError(
        "config",
        `relay ${relayName} holds Escale 0.7's placeholder layout (found ${layout.evidence}) but this section says "index = ${
          index!.trim()
        }"; remove "index", as the Python clients of this relay have none`,
      );
    }
    return "escale-0.7";
  }
  if (layout.kind === "native" && setting === "escale-0.7") {
    throw new EscaleError(
      "config",
      `relay ${relayName} holds escale's native format (found ${HEADER_KEY}); set "relay format = native" (or auto) for this section`,
    );
  }
  if (setting === "escale-0.7") parseIndexSetting(index);
  return setting === "escale-0.7" ? "escale-0.7" : "native";
}
