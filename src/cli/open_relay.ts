import type { RelaySettings } from "../config/settings.ts";
import { EscaleError } from "../errors/errors.ts";
import { FileRelay } from "../relay/file_relay.ts";
import type { Relay } from "../relay/relay.ts";

/** Builds the backend a section's relay settings describe, and checks it can be reached. */
export async function openRelay(s: RelaySettings): Promise<Relay> {
  switch (s.protocol) {
    case "file":
      return await new FileRelay(s.directory).open();
    default:
      throw new EscaleError("config", `protocol ${s.protocol} is not available in this build`);
  }
}
