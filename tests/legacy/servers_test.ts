// The placeholder layout over real FTP and WebDAV servers (ProFTPD, Apache on 127.0.0.1) and
// rclone (a local remote, both modes): a relay Escale wrote on the server's disk is read, and what
// escale writes there is Escale's.
import { assertEquals } from "../assert.ts";
import { startFtpServer } from "../servers/ftp_server.ts";
import { startWebDavServer } from "../servers/webdav_server.ts";
import { FtpRelay } from "../../src/relay/ftp/ftp_relay.ts";
import { WebDavRelay } from "../../src/relay/webdav/webdav_relay.ts";
import { RcloneRelay } from "../../src/relay/rclone/rclone_relay.ts";
import type { Relay } from "../../src/relay/relay.ts";
import { copyTree, FIXTURES, LegacyClient, pushedTree, snapshot } from "./legacy_helpers.ts";

async function roundTrips(
  open: (folder: string) => Promise<Relay>,
  disk: (folder: string) => string,
) {
  const dir = await Deno.makeTempDir({ prefix: "escale-legacy-srv-" });
  try {
    await copyTree(`${FIXTURES}placeholder-plain/after-upload/relay`, disk("pulled"));
    // The server's own user (Apache's) must be able to write where the fixture was copied.
    await new Deno.Command("chmod", { args: ["-R", "a+rwX", disk("pulled")] }).output();
    await Deno.mkdir(`${dir}/B`);
    const b = new LegacyClient(`${dir}/B`, await open("pulled"), `${dir}/b.db`, {
      clientName: "peerB",
      mode: "download",
    });
    try {
      assertEquals((await b.round()).downloaded, 5);
    } finally {
      await b.repo.close();
    }
    assertEquals(await snapshot(`${dir}/B`), await snapshot(`${FIXTURES}tree`));
    assertEquals(
      await snapshot(disk("pulled")),
      await snapshot(`${FIXTURES}placeholder-plain/after-pull/relay`),
    );
    await pushedTree(`${dir}/A`);
    const a = new LegacyClient(`${dir}/A`, await open("pushed"), `${dir}/a.db`, {
      clientName: "peerA",
      mode: "upload",
    });
    try {
      assertEquals((await a.round()).uploaded, 5);
    } finally {
      await a.repo.close();
    }
    assertEquals(
      await snapshot(disk("pushed")),
      await snapshot(`${FIXTURES}placeholder-plain/after-upload/relay`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("legacy over FTP (ProFTPD): read what Escale wrote, write what Escale writes", async () => {
  const s = await startFtpServer();
  try {
    await roundTrips(async (folder) => {
      const r = new FtpRelay({
        host: s.host,
        port: s.port,
        user: s.user,
        password: s.password,
        directory: folder,
        tls: "none",
        timeoutMs: 10_000,
      });
      await r.open();
      return r;
    }, (folder) => `${s.dataDir}/${folder}`);
  } finally {
    await s.stop();
  }
});

Deno.test("legacy over WebDAV (Apache): read what Escale wrote, write what Escale writes", async () => {
  const s = await startWebDavServer();
  try {
    await roundTrips(
      (folder) =>
        new WebDavRelay({ url: `${s.url}${folder}/`, user: s.user, password: s.password }).open(),
      (folder) => `${s.dataDir}/${folder}`,
    );
  } finally {
    await s.stop();
  }
});

for (const daemon of [true, false]) {
  Deno.test(`legacy over rclone (local remote, daemon ${daemon}): read what Escale wrote, write what Escale writes`, async () => {
    const root = await Deno.makeTempDir({ prefix: "escale-legacy-rclone-" });
    try {
      await roundTrips(async (folder) => {
        const r = new RcloneRelay({
          remote: "escaletest",
          directory: `${root}/${folder}`,
          env: { RCLONE_CONFIG: "/dev/null", RCLONE_CONFIG_ESCALETEST_TYPE: "local" },
          daemon,
        });
        return await r.open();
      }, (folder) => `${root}/${folder}`);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  });
}
