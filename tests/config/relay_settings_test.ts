import type { RelaySettings } from "../../src/config/settings.ts";
import { assert, assertConfigError, assertEquals } from "../assert.ts";
import { lines, type Scratch, withScratch } from "./helpers.ts";

function section(s: Scratch, ...relayLines: string[]): string {
  return lines("[S]", `local path = ${s.local}`, ...relayLines);
}

async function relayOf(
  s: Scratch,
  relayLines: string[],
  env: Record<string, string> = {},
): Promise<RelaySettings> {
  const cfg = await s.load(section(s, ...relayLines), { env: { HOME: s.dir, ...env } });
  return cfg.sections[0].relay;
}

const NET = { timeoutSec: 60, maxRetries: 3 };

Deno.test("file relays: address forms, relay path, relative folders", async () => {
  await withScratch(async (s) => {
    await Deno.mkdir(`${s.relay}/sub`);
    const forms: [string[], string][] = [
      [[`relay path = ${s.relay}`], s.relay],
      [[`host address = ${s.relay}`], s.relay],
      [[`address = file://${s.relay}`], s.relay],
      [[`address = file://${s.relay}`, "dir = sub"], `${s.relay}/sub`],
      [[`address = ${s.relay}`, "dir = sub"], `${s.relay}/sub`],
      [["protocol = file", "dir = relay"], s.relay],
      [["protocol = file", "address = relay/sub"], `${s.relay}/sub`],
      [["protocol = file", "address = localhost", `host directory = ${s.relay}/`], s.relay],
      [["address = ~/relay"], s.relay],
      [["relay path = ~/relay/sub", "timeout = 5", "max retries = 0"], `${s.relay}/sub`],
    ];
    for (const [ls, dir] of forms) {
      const r = await relayOf(s, ls);
      assertEquals(r.protocol, "file", ls.join("; "));
      assertEquals(r.directory, dir, ls.join("; "));
    }
    const r = await relayOf(s, [`relay path = ${s.relay}`, "timeout = 1m", "max retries = 0"]);
    assertEquals(r, { protocol: "file", directory: s.relay, timeoutSec: 60, maxRetries: 0 });
    await assertConfigError(() => s.load(section(s, "address = file://otherhost/x")), {
      line: 3,
      includes: "cannot name another host",
    });
    await assertConfigError(() => s.load(section(s, "protocol = file")), {
      line: 1,
      includes: "needs a folder",
    });
  });
});

Deno.test("ftp, ftps and webdav: host, port, directory, scheme, TLS", async () => {
  await withScratch(async (s) => {
    assertEquals(await relayOf(s, ["host address = ftp://ftp.example.org/pub", "dir = relay"]), {
      protocol: "ftp",
      host: "ftp.example.org",
      port: 21,
      directory: "/pub/relay",
      ...NET,
    });
    assertEquals(
      await relayOf(s, [
        "protocol = ftps",
        "address = ftp.example.org:2121",
        "directory = Escale Repository",
        "user = bob",
        "password = pw",
        "ftps clear data = yes",
        "verify ssl = no",
      ]),
      {
        protocol: "ftps",
        host: "ftp.example.org",
        port: 2121,
        directory: "Escale Repository",
        user: "bob",
        password: "pw",
        verifySsl: false,
        ftpsClearData: true,
        ...NET,
      },
    );
    assertEquals(await relayOf(s, ["address = ftps://h", "port = 990"]), {
      protocol: "ftps",
      host: "h",
      port: 990,
      directory: "",
      verifySsl: true,
      ftpsClearData: false,
      ...NET,
    });
    await Deno.writeTextFile(`${s.dir}/ca.pem`, "x");
    assertEquals(
      await relayOf(s, [
        "protocol = webdav",
        "address = dav.example.org/remote.php/dav",
        "relay dir = escale",
        `ca file = ${s.dir}/ca.pem`,
      ]),
      {
        protocol: "webdav",
        host: "dav.example.org",
        port: 443,
        directory: "/remote.php/dav/escale",
        scheme: "https",
        verifySsl: true,
        caFile: `${s.dir}/ca.pem`,
        ...NET,
      },
    );
    assertEquals(await relayOf(s, ["address = http://127.0.0.1:8080"]), {
      protocol: "webdav",
      host: "127.0.0.1",
      port: 8080,
      directory: "/",
      scheme: "http",
      ...NET,
    });
    const r = await relayOf(s, ["address = https://u%40x:p%3Ass@[::1]:8443/d", "directory = /abs"]);
    assertEquals(
      [r.scheme, r.host, r.port, r.user, r.password, r.directory],
      ["https", "[::1]", 8443, "u@x", "p:ss", "/abs"],
      "URL credentials and IPv6",
    );
    const webdavIsHttps = await relayOf(s, ["protocol = webdav", "address = webdav://h/x"]);
    assertEquals(webdavIsHttps.scheme, "https", "webdav means https");
    const errors: [string[], number, string][] = [
      [["address = ftp://h:21", "port = 2121"], 4, "conflicts with port 21"],
      [["protocol = ftp", "address = https://h"], 4, "uses https:// but the protocol is ftp"],
      [["protocol = http", "address = https://h"], 4, "uses https:// but the protocol is http"],
      [["protocol = webdav", `address = ${s.relay}`], 4, "is a local path"],
      [["address = ftps://h", "keyfile = " + `${s.dir}/ca.pem`], 4, "needs 'certfile'"],
      [["address = ftps://h", `certfile = ${s.dir}/nope.pem`], 4, "is not an existing file"],
      [["address = ftp://h:0"], 3, "port"],
    ];
    for (const [ls, line, includes] of errors) {
      await assertConfigError(() => s.load(section(s, ...ls)), {
        file: `${s.dir}/escale.conf`,
        line,
        includes,
      });
    }
  });
});

Deno.test("s3: bucket and prefix, endpoint, region and credentials from options or env", async () => {
  await withScratch(async (s) => {
    const keys = ["access key id = AKIA", "secret access key = SECRET"];
    assertEquals(await relayOf(s, ["address = s3://my-bucket/some/prefix/", ...keys]), {
      protocol: "s3",
      directory: "some/prefix",
      bucket: "my-bucket",
      region: "us-east-1",
      user: "AKIA",
      password: "SECRET",
      pathStyle: false,
      verifySsl: true,
      ...NET,
    });
    assertEquals(
      await relayOf(s, [
        "protocol = s3",
        "address = http://127.0.0.1:5000/bkt/pre",
        "directory = more",
        "user = U",
        "password = P",
        "region = eu-west-3",
      ]),
      {
        protocol: "s3",
        directory: "pre/more",
        bucket: "bkt",
        region: "eu-west-3",
        user: "U",
        password: "P",
        pathStyle: true,
        verifySsl: true,
        endpoint: "http://127.0.0.1:5000",
        ...NET,
      },
    );
    const env = {
      AWS_ACCESS_KEY_ID: "ENVKEY",
      AWS_SECRET_ACCESS_KEY: "ENVSECRET",
      AWS_SESSION_TOKEN: "TOKEN",
      AWS_DEFAULT_REGION: "ap-south-1",
    };
    const fromEnv = await relayOf(s, [
      "protocol = s3",
      "bucket = b",
      "endpoint = https://s3.example.org/",
      "path style = no",
    ], env);
    assertEquals(
      [fromEnv.user, fromEnv.password, fromEnv.sessionToken, fromEnv.region, fromEnv.endpoint],
      ["ENVKEY", "ENVSECRET", "TOKEN", "ap-south-1", "https://s3.example.org"],
      "environment fallbacks",
    );
    assertEquals([fromEnv.pathStyle, fromEnv.directory], [false, ""], "path style option");
    const configured = await relayOf(s, ["address = s3://b", ...keys], {
      ...env,
      AWS_REGION: "eu-north-1",
    });
    assertEquals(
      [configured.user, configured.sessionToken, configured.region],
      ["AKIA", undefined, "eu-north-1"],
      "a session token only goes with keys from the environment",
    );
    const errors: [string[], number, string][] = [
      [["protocol = s3", ...keys], 1, "needs a bucket"],
      [["address = s3://b"], 1, "needs credentials"],
      [["address = s3://a", "bucket = b", ...keys], 4, "conflicts with bucket a"],
      [["address = s3://a", "endpoint = ftp://x", ...keys], 4, "http:// or https://"],
    ];
    for (const [ls, line, includes] of errors) {
      await assertConfigError(() => s.load(section(s, ...ls)), {
        file: `${s.dir}/escale.conf`,
        line,
        includes,
      });
    }
  });
});

Deno.test("rclone and the cloud protocol names go through rclone", async () => {
  await withScratch(async (s) => {
    assertEquals(await relayOf(s, ["protocol = dropbox", "address = mydrop:", "dir = escale"]), {
      protocol: "rclone",
      directory: "escale",
      rcloneRemote: "mydrop",
      rcloneBinary: "rclone",
      rcloneType: "dropbox",
      ...NET,
    });
    await Deno.writeTextFile(`${s.dir}/rclone.conf`, "");
    assertEquals(
      await relayOf(s, [
        "address = rclone://remote/base",
        "rclone binary = /opt/rclone",
        `rclone config = ${s.dir}/rclone.conf`,
      ]),
      {
        protocol: "rclone",
        directory: "/base",
        rcloneRemote: "remote",
        rcloneBinary: "/opt/rclone",
        rcloneConfig: `${s.dir}/rclone.conf`,
        ...NET,
      },
    );
    const fly = await relayOf(s, ["protocol = rclone", "address = :local:/tmp/x"]);
    assertEquals([fly.rcloneRemote, fly.directory], [":local", "/tmp/x"], "on-the-fly remote");
    for (const p of ["googledrive", "google", "onedrive", "b2", "sftp", "yandex"]) {
      const r = await relayOf(s, [`protocol = ${p.toUpperCase()}`, "address = r:"]);
      assertEquals([r.protocol, r.rcloneType], ["rclone", p], p);
    }
    await assertConfigError(() => s.load(section(s, "protocol = onedrive")), {
      line: 1,
      includes: "needs the rclone remote",
    });
    const warned = await s.load(section(s, "protocol = b2", "address = r:", "drive binary = d"));
    assert(warned.warnings.some((w) => w.includes("'drive binary' has no effect")), "drive");
  });
});

Deno.test("secret files: one line, user lookup, user:password; never in messages", async () => {
  await withScratch(async (s) => {
    const one = `${s.dir}/one.credential`;
    const many = `${s.dir}/many.credential`;
    const pair = `${s.dir}/pair.credential`;
    await Deno.writeTextFile(one, "only-secret\n");
    await Deno.writeTextFile(many, "bob2:wrong\nbob:bob-secret\nalice pass with spaces\n");
    await Deno.writeTextFile(pair, "carol:carol:secret\n");
    for (const f of [one, many, pair]) await Deno.chmod(f, 0o600);
    const net = ["address = ftp://h"];
    const r1 = await relayOf(s, [...net, "user = x", `secret file = ${one}`]);
    assertEquals([r1.user, r1.password], ["x", "only-secret"], "one-line file");
    const r2 = await relayOf(s, [...net, "user = bob", `password = ${many}`]);
    assertEquals(r2.password, "bob-secret", "user line, not bob2's");
    const r3 = await relayOf(s, [...net, "user = alice", `credential = ${many}`]);
    assertEquals(r3.password, "pass with spaces", "space separator");
    const r4 = await relayOf(s, [...net, "secret = pair.credential"]);
    assertEquals([r4.user, r4.password], ["carol", "carol:secret"], "user:password line");
    const r5 = await relayOf(s, [...net, "user = u", "password = 50%off"]);
    assertEquals(r5.password, "50%off", "literal with %");

    const e = await assertConfigError(
      () => s.load(section(s, ...net, "user = dave", `password = ${many}`)),
      { line: 5, includes: "has no line for user 'dave'" },
    );
    assert(!e.message.includes("bob-secret") && !e.message.includes("wrong"), "secret leaked");
    await Deno.writeTextFile(`${s.dir}/nocolon`, "justsecret\n");
    await assertConfigError(() => s.load(section(s, ...net, `password = ${s.dir}/nocolon`)), {
      line: 4,
      includes: "user:password",
    });

    await Deno.chmod(one, 0o644);
    const shared = await s.load(section(s, ...net, "user = x", `password = ${one}`));
    assert(shared.warnings.some((w) => w.includes(`${one} is readable by other users`)), "mode");
    const typo = await s.load(section(s, ...net, "user = x", "password = ~/missing.credential"));
    assert(typo.warnings.some((w) => w.includes("looks like a file path")), "path typo");

    const open = await s.write(
      section(s, ...net, "user = x", "password = hunter2"),
      "o.conf",
      0o644,
    );
    const { loadConfig } = await import("../../src/config/load_config.ts");
    const cfg = await loadConfig(open, { env: { HOME: s.dir }, hostname: "h" });
    assert(cfg.warnings.some((w) => w.includes(":5: 'password' is written in a file")), "clear");
    for (const w of [...cfg.warnings, ...shared.warnings, ...typo.warnings]) {
      assert(!/hunter2|only-secret/.test(w), `secret in warning: ${w}`);
    }
    await assertConfigError(() => s.load(section(s, ...net, "password = %(oops)s-hunter2")), {
      line: 4,
      includes: "'password' refers to a key that is not set",
    });
  });
});

Deno.test("encryption: yes/fernet select aead, a passphrase alone turns it on", async () => {
  await withScratch(async (s) => {
    const key = `${s.dir}/S.passphrase`;
    await Deno.writeTextFile(key, "k".repeat(44));
    await Deno.chmod(key, 0o600);
    const load = (...ls: string[]) => s.load(section(s, `relay path = ${s.relay}`, ...ls));
    const a = (await load("encryption = fernet", `passphrase = ${key}`)).sections[0];
    assertEquals([a.encryption, a.passphrase], ["aead", { value: key, file: key }], "file");
    const b = (await load("key = S.passphrase")).sections[0];
    assertEquals([b.encryption, b.passphrase?.file], ["aead", key], "relative key file");
    const c = (await load("encryption = on", "passphrase = correct horse")).sections[0];
    assertEquals(c.passphrase, { value: "correct horse" }, "literal");
    const d = await load("encryption = no", "passphrase = x");
    assertEquals([d.sections[0].encryption, d.sections[0].passphrase], ["none", undefined], "off");
    assert(d.warnings.some((w) => w.includes("passphrase is not used")), "off warning");
    const e = (await load()).sections[0];
    assertEquals(e.encryption, "none", "default");
    await Deno.chmod(key, 0o640);
    const f = await load(`passphrase = ${key}`);
    assert(f.warnings.some((w) => w.includes("passphrase file")), "readable key file");
    const g = await load("passphrase = /no/such/key");
    assert(g.warnings.some((w) => w.includes("looks like a file path")), "key path typo");
  });
});
