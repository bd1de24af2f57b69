// `max retries` applies to opening the relay too (issue 18): a backend's own opening (login,
// relay folder check) ran before any retry wrapper existed, so two connection resets when a run
// connected ended it at once with exit 3. A small TCP proxy in front of a real server resets the
// connections it is told to.
import { assert, assertEquals } from "../assert.ts";
import { readTree } from "../engine/sandbox.ts";
import { startFtpServer } from "../servers/ftp_server.ts";
import { startWebDavServer } from "../servers/webdav_server.ts";
import { conf, escale } from "./cli_helpers.ts";

/**
 * Forwards 127.0.0.1:port to `target`, except that the next `reset(n)` connections are cut:
 * the proxy reads one byte (or waits for the server greeting that never comes, for FTP) and
 * closes with data unread, which the kernel turns into a TCP reset.
 */
function resettingProxy(target: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  let toReset = 0;
  let resets = 0;
  const handle = async (c: Deno.Conn) => {
    open.add(c);
    try {
      if (toReset > 0) {
        toReset--;
        resets++;
        // FTP clients wait for the server to speak first: close at once (an EOF, then a reset
        // when the client writes); HTTP clients write first: leave their request unread.
        await Promise.race([
          c.read(new Uint8Array(1)).catch(() => null),
          new Promise((r) => setTimeout(r, 200)),
        ]);
        return;
      }
      const up = await Deno.connect({ hostname: "127.0.0.1", port: target });
      open.add(up);
      await Promise.all([
        c.readable.pipeTo(up.writable).catch(() => {}),
        up.readable.pipeTo(c.writable).catch(() => {}),
      ]);
    } finally {
      for (const x of [c]) {
        try {
          x.close();
        } catch { /* already closed */ }
        open.delete(x);
      }
    }
  };
  const loop = (async () => {
    for await (const c of listener) handle(c);
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    reset(n: number) {
      toReset = n;
      resets = 0;
    },
    get resets() {
      return resets;
    },
    async stop() {
      listener.close();
      for (const c of open) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      await loop;
    },
  };
}

async function scenario(relayLines: (proxyPort: number) => string, target: number): Promise<void> {
  const proxy = resettingProxy(target);
  const dir = await Deno.makeTempDir({ prefix: "escale-openretry-" });
  try {
    for (const c of ["A", "B"]) {
      await Deno.mkdir(`${dir}/${c}`);
      await conf(
        `${dir}/${c}.conf`,
        `[${c}]\nclient name = ${c}\nlocal path = ${dir}/${c}\n${relayLines(proxy.port)}`,
      );
    }
    await Deno.writeTextFile(`${dir}/A/f.txt`, "through resets");
    const run = (c: string, extra: Record<string, string> = {}) =>
      escale(["run", "--once", "-c", `${dir}/${c}.conf`], extra);
    // Every run starts with two resets: the first connections it makes are cut.
    for (const c of ["B", "A", "B"]) {
      proxy.reset(2);
      const r = await run(c);
      assertEquals(r.code, 0, `${c}: ${r.stderr}`);
      assertEquals(proxy.resets, 2, "the proxy cut fewer connections than planned");
    }
    assertEquals(await readTree(`${dir}/B`), { "f.txt": "through resets" });

    // The configured number is the limit: with one retry, a run gives up after two attempts.
    const text = await Deno.readTextFile(`${dir}/B.conf`);
    await Deno.writeTextFile(`${dir}/B.conf`, `${text}max retries = 1\n`);
    proxy.reset(100);
    const r = await run("B");
    assertEquals(r.code, 3, r.stderr);
    assert(/still failing after 2 attempts/.test(r.stderr), r.stderr);
  } finally {
    await proxy.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("cli: opening a WebDAV relay retries connection resets (max retries)", async () => {
  const dav = await startWebDavServer();
  try {
    const port = Number(new URL(dav.url).port);
    await scenario(
      (p) =>
        `host address = http://127.0.0.1:${p}/dav/relay\nuser = ${dav.user}\npassword = ${dav.password}\n`,
      port,
    );
  } finally {
    await dav.stop();
  }
});

Deno.test("cli: opening an FTP relay retries connection resets (max retries)", async () => {
  const ftp = await startFtpServer();
  try {
    await scenario(
      (p) =>
        `host address = ftp://127.0.0.1:${p}/relay\nprotocol = ftp\nuser = ${ftp.user}\npassword = ${ftp.password}\n`,
      ftp.port,
    );
  } finally {
    await ftp.stop();
  }
});
