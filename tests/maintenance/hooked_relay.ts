import type { FileRelay } from "../../src/relay/file_relay.ts";
import type { ReadOptions, Relay } from "../../src/relay/relay.ts";

/** A file relay that runs `hook` once, the first time a key matching `match` is read. */
export function hooked(inner: FileRelay, match: RegExp, hook: () => Promise<void>): Relay {
  let fired = false;
  return {
    name: inner.name,
    capabilities: inner.capabilities,
    list: (dir) => inner.list(dir),
    stat: (key) => inner.stat(key),
    write: (key, body, opts) => inner.write(key, body, opts),
    delete: (key) => inner.delete(key),
    close: () => inner.close(),
    async read(key: string, opts?: ReadOptions) {
      if (!fired && match.test(key)) {
        fired = true;
        await hook();
      }
      return await inner.read(key, opts);
    },
  };
}
