// A command's first reads (the moved record and the header) go out while a WebDAV relay is
// opened, not after: a proxy in front of Apache holds the answer to opening's PROPFIND until
// both reads have arrived, or gives up after a while and says so. Reads sent only once the
// PROPFIND was answered can never arrive in time.
import { assert, assertEquals, failure } from "../assert.ts";
import { openRelayStackWith } from "../../src/cli/open_relay.ts";
import type { RelaySettings } from "../../src/config/settings.ts";
import { readOpening } from "../../src/protocol/open_store.ts";
import { startWebDavServer } from "../servers/webdav_server.ts";

const WATCHED = ["GET /dav/early/moved.json", "GET /dav/early/escale.json"];

function holdingProxy(target: string, patienceMs = 3000) {
  const seen = new Set<string>();
  const wake: (() => void)[] = [];
  const apart: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    const what = `${req.method} ${url.pathname}`;
    seen.add(what);
    for (const w of wake.splice(0)) w();
    if (what === "PROPFIND /dav/early/") {
      const deadline = Date.now() + patienceMs;
      while (!WATCHED.every((w) => seen.has(w)) && Date.now() < deadline) {
        await new Promise<void>((ok) => {
          const timer = setTimeout(ok, deadline - Date.now());
          wake.push(() => {
            clearTimeout(timer);
            ok();
          });
        });
      }
      if (!WATCHED.every((w) => seen.has(w))) apart.push(what);
    }
    const headers = new Headers(req.headers);
    for (const h of ["host", "content-length", "connection", "transfer-encoding"]) {
      headers.delete(h);
    }
    const body = req.body ? new Uint8Array(await req.arrayBuffer()) : undefined;
    const res = await fetch(new URL(url.pathname + url.search, target), {
      method: req.method,
      headers,
      body,
    });
    return new Response(res.body, { status: res.status, headers: res.headers });
  });
  return { port: server.addr.port, apart, stop: () => server.shutdown() };
}

function settings(port: number, user: string, password: string): RelaySettings {
  return {
    protocol: "webdav",
    scheme: "http",
    host: "127.0.0.1",
    port,
    directory: "/dav/early/",
    user,
    password,
    timeoutSec: 30,
    maxRetries: 1,
  };
}

Deno.test("opening a WebDAV relay reads the moved record and the header at the same time", async () => {
  const dav = await startWebDavServer();
  const proxy = holdingProxy(dav.url);
  try {
    const s = settings(proxy.port, dav.user, dav.password);
    const { relay, first } = await openRelayStackWith(s, {}, readOpening);
    try {
      assertEquals(await first, null, "header of a new relay");
      assertEquals(proxy.apart, [], "the reads went out only after opening");
    } finally {
      await relay.close();
    }
    // A wrong password fails opening with its own error; the early reads end with it.
    const e = await failure(
      openRelayStackWith(settings(proxy.port, dav.user, "wrong"), {}, readOpening),
      "auth",
    );
    assert(!e.message.includes("wrong"), e.message);
  } finally {
    await proxy.stop();
    await dav.stop();
  }
});
