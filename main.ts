import { main } from "./src/cli/main.ts";

if (import.meta.main) {
  // Exits even when work was abandoned (a stalled socket a signal cut short, an open(2) blocked
  // on a FIFO): whatever is still pending would otherwise keep the process alive.
  Deno.exit(await main(Deno.args));
}
