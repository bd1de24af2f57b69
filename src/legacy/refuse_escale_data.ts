import { EscaleError } from "../errors/errors.ts";
import { HEADER_KEY } from "../protocol/format.ts";
import type { Relay } from "../relay/relay.ts";
import { detectLayout } from "./detect_layout.ts";

/**
 * What a maintenance command does with the relay it checks: works on the section's relay
 * (`escale fix`, the source of `escale migrate DEST`), or writes the native format into it (the
 * destination of `escale migrate` and of `escale restore`).
 */
export type MaintenanceRole = "section" | "destination";

/**
 * Stops a maintenance command that works on escale's native format before it reads or writes
 * anything, when the relay holds Escale 0.7 data: writing `escale.json`, commits or data beside
 * it would make a relay neither Python Escale nor escale can use (a Python puller downloads and
 * deletes escale's objects). One line says what was found and what to do: for the section's
 * relay, convert it first (`escale migrate --to-native`, exit 2 as for a setting that
 * contradicts the relay); for a destination, choose an empty one (exit 7, as for a destination
 * holding another relay). `relay` may be an opener: the relay is then opened for the check only
 * and closed, so that a command can check before it creates anything.
 */
export async function refuseEscaleData(
  relay: Relay | (() => Promise<Relay>),
  role: MaintenanceRole,
  command: string,
): Promise<void> {
  const r = typeof relay === "function" ? await relay() : relay;
  try {
    const layout = await detectLayout(r);
    if (layout.kind === "empty" || layout.kind === "native") return;
    const found = layout.kind === "mixed"
      ? `both escale's native format (${HEADER_KEY}) and Escale 0.7 files (found ${layout.evidence})`
      : `an Escale 0.7 relay (${
        layout.kind === "escale-index" ? "index" : "placeholder"
      } layout, found ${layout.evidence})`;
    if (role === "destination") {
      throw new EscaleError(
        "safety",
        `${r.name} holds ${found}; ${command} writes escale's native format and never beside Escale data: choose an empty destination`,
      );
    }
    throw new EscaleError(
      layout.kind === "mixed" ? "integrity" : "config",
      layout.kind === "mixed"
        ? `${r.name} holds ${found}; ${command} works on one format: point this section at a folder holding one of them`
        : `${r.name} holds ${found}; ${command} works on escale's native format only: once every client runs escale, convert the relay with "escale migrate --to-native"`,
    );
  } finally {
    if (typeof relay === "function") await r.close().catch(() => {});
  }
}
