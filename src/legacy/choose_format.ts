import { EscaleError } from "../errors/errors.ts";
import { HEADER_KEY } from "../protocol/format.ts";
import type { RelayLayout } from "./detect_layout.ts";

/** The `relay format` setting (src/config/options.ts parses it). */
export type RelayFormat = "auto" | "native" | "escale-0.7";

/**
 * The format a section uses on its relay, from its `relay format` setting and what the relay
 * holds. A setting that contradicts the relay stops with one line naming what was found and the
 * setting to use: a native client must never write `escale.json` beside Escale data (a Python
 * puller would download and delete it), and a legacy client must never scatter placeholders in
 * a native relay.
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
  if (
    layout.kind === "escale-index" ||
    (setting !== "native" && layout.kind !== "native" && usesIndex(index))
  ) {
    const found = layout.kind === "escale-index"
      ? `found ${layout.evidence}`
      : `set "index = ${index}"`;
    throw new EscaleError(
      "config",
      `relay ${relayName}: Escale 0.7's index layout (${found}) is not supported; configure the Python clients without "index" (the placeholder layout) or move them to escale`,
    );
  }
  if (layout.kind === "escale-placeholder") {
    if (setting === "native") {
      throw new EscaleError(
        "config",
        `relay ${relayName} holds an Escale 0.7 relay (found ${layout.evidence}); set "relay format = escale-0.7" (or auto) to share it with Python Escale clients`,
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
  return setting === "escale-0.7" ? "escale-0.7" : "native";
}

function usesIndex(index: string | undefined): boolean {
  if (index === undefined || index.trim() === "") return false;
  // Escale's false words (configparser's booleans): anything else selects an index layout.
  return !["0", "no", "false", "off"].includes(index.trim().toLowerCase());
}
