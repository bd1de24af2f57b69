// The placeholder layout over real servers on 127.0.0.1 (ProFTPD, Apache WebDAV, moto S3) and
// rclone (a local remote, both modes): a relay Escale wrote on the server's storage is read, and
// what escale writes there is Escale's.
import { assert, assertEquals } from "../assert.ts";
import { AwsClient } from "aws4fetch";
import { startFtpServer } from "../servers/ftp_server.ts";
import { startWebDavServer } from "../servers/webdav_server.ts";
import { type S3Server, startS3Server } from "../servers/s3_server.ts";
import { FtpRelay } from "../../src/relay/ftp/ftp_relay.ts";
import { WebDavRelay } from "../../src/relay/webdav/webdav_relay.ts";
import { RcloneRelay } from "../../src/relay/rclone/rclone_relay.ts";
import { S3Relay } from "../../src/relay/s3/s3_relay.ts";
import type { Relay } from "../../src/relay/relay.ts";
import {
  copyTree,
  FIXTURES,
  latin1,
  LegacyClient,
  pushedTree,
  snapshot,
} from "./legacy_helpers.ts";

/** Where a relay folder's objects are, seen without escale: to seed it and to compare it. */
interface Storage {
  seed(folder: string, from: string): Promise<void>;
  snapshot(folder: string): Promise<Record<string, string>>;
}

/** The server keeps the relay folder `folder` at `disk(folder)`. */
function onDisk(disk: (folder: string) => string): Storage {
  return {
    async seed(folder, from) {
      await copyTree(from, disk(folder));
      // The server's own user (Apache's) must be able to write where the fixture was copied.
      await new Deno.Command("chmod", { args: ["-R", "a+rwX", disk(folder)] }).output();
    },
    snapshot: (folder) => snapshot(disk(folder)),
  };
}

/** The relay folder `folder` is the objects under `folder/` in the bucket, read with plain S3 calls. */
function inBucket(s: S3Server): Storage {
  const c = new AwsClient({ ...s, service: "s3", retries: 0 });
  const url = (key: string) =>
    `${s.endpoint}/${s.bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;
  return {
    async seed(folder, from) {
      for (const [rel, bytes] of Object.entries(await snapshot(from))) {
        const body = Uint8Array.from(bytes, (ch) => ch.charCodeAt(0));
        const res = await c.fetch(url(`${folder}/${rel}`), { method: "PUT", body });
        assert(res.ok, `PUT ${rel}: ${res.status} ${await res.text()}`);
      }
    },
    async snapshot(folder) {
      const q = new URLSearchParams({ "list-type": "2", prefix: `${folder}/` });
      const res = await c.fetch(`${s.endpoint}/${s.bucket}?${q}`);
      const text = await res.text();
      assert(res.ok && !text.includes("<IsTruncated>true"), `ListObjectsV2: ${res.status} ${text}`);
      const out: Record<string, string> = {};
      for (const [, key] of text.matchAll(/<Key>([^<]*)<\/Key>/g)) {
        const full = key.replace(
          /&(amp|lt|gt|quot|apos);/g,
          (_, e) => ({ amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" })[e as string]!,
        );
        const got = await c.fetch(url(full));
        assert(got.ok, `GET ${full}: ${got.status}`);
        out[full.slice(folder.length + 1)] = latin1(new Uint8Array(await got.arrayBuffer()));
      }
      return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
    },
  };
}

async function roundTrips(open: (folder: string) => Promise<Relay>, storage: Storage) {
  const dir = await Deno.makeTempDir({ prefix: "escale-legacy-srv-" });
  try {
    await storage.seed("pulled", `${FIXTURES}placeholder-plain/after-upload/relay`);
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
      await storage.snapshot("pulled"),
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
      await storage.snapshot("pushed"),
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
    }, onDisk((folder) => `${s.dataDir}/${folder}`));
  } finally {
    await s.stop();
  }
});

Deno.test("legacy over WebDAV (Apache): read what Escale wrote, write what Escale writes", async () => {
  const s = await startWebDavServer();
  try {
    await roundTrips(
      (folder) =>
        new WebDavRelay({
          timeoutMs: 30_000,
          url: `${s.url}${folder}/`,
          user: s.user,
          password: s.password,
        }).open(),
      onDisk((folder) => `${s.dataDir}/${folder}`),
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
          timeoutMs: 60_000,
          binary: "rclone",
          remote: "escaletest",
          directory: `${root}/${folder}`,
          env: { RCLONE_CONFIG: "/dev/null", RCLONE_CONFIG_ESCALETEST_TYPE: "local" },
          daemon,
        });
        return await r.open();
      }, onDisk((folder) => `${root}/${folder}`));
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  });
}

Deno.test("legacy over S3 (moto): read what Escale wrote, write what Escale writes", async () => {
  const s = await startS3Server();
  try {
    await roundTrips(
      (folder) =>
        new S3Relay({
          timeoutMs: 30_000,
          endpoint: s.endpoint,
          region: s.region,
          bucket: s.bucket,
          prefix: folder,
          pathStyle: true,
          accessKeyId: s.accessKeyId,
          secretAccessKey: s.secretAccessKey,
          partRetries: 3,
        }).open(),
      inBucket(s),
    );
  } finally {
    await s.stop();
  }
});
