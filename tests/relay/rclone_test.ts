import { assert, assertEquals, failure } from "../assert.ts";
import { abortsInterruptTransfers, conformanceSteps } from "./conformance.ts";
import { startFtpServer } from "../servers/ftp_server.ts";
import { startWebDavServer } from "../servers/webdav_server.ts";
import { run } from "../servers/harness.ts";
import { killAll, recordingRclone, runningPids } from "../cli/escale_process.ts";
import { RcloneRelay } from "../../src/relay/rclone/rclone_relay.ts";
import {
  parseRcloneRemote,
  rcloneRemoteSecrets,
  splitRcloneLocation,
} from "../../src/relay/rclone/rclone_remote.ts";
import { collect, toArray, utf8 } from "../../src/util/streams.ts";

/** Remotes come from environment variables only; no config file is read. */
const NO_CONFIG = { RCLONE_CONFIG: "/dev/null" };

async function obscure(password: string): Promise<string> {
  // "-" reads the password from stdin, keeping it out of the process list.
  return (await run("rclone", ["obscure", "-"], { stdin: password, env: NO_CONFIG })).trim();
}

for (const daemon of [true, false]) {
  Deno.test(`rclone: a local remote from env vars passes the conformance suite (daemon ${daemon})`, async (t) => {
    const dir = await Deno.makeTempDir();
    const r = new RcloneRelay({
      timeoutMs: 60_000,
      binary: "rclone",
      remote: "escaletest",
      directory: `${dir}/relay`,
      env: { ...NO_CONFIG, RCLONE_CONFIG_ESCALETEST_TYPE: "local" },
      daemon,
    });
    try {
      await r.open();
      await conformanceSteps(t, r);
      await t.step("objects land in the remote's folder", async () => {
        await r.write("x/y", utf8.encode("on disk"));
        assert((await Deno.readTextFile(`${dir}/relay/x/y`)) === "on disk", "file content");
        const names = [...Deno.readDirSync(`${dir}/relay/x`)].map((e) => e.name);
        assert(names.join() === "y", `leftovers: ${names}`);
      });
    } finally {
      await r.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("rclone: an on-the-fly :local: remote works with a config file given", async () => {
  const dir = await Deno.makeTempDir();
  const r = new RcloneRelay({
    timeoutMs: 60_000,
    binary: "rclone",
    remote: ":local:",
    directory: dir,
    configFile: "/dev/null",
  });
  try {
    await r.open();
    await r.write("a b/ünï", utf8.encode("spaces and unicode"));
    const keys = (await toArray(r.list("a b"))).map((e) => e.key);
    assert(keys.join() === "a b/ünï", `listed ${keys}`);
    const part = new TextDecoder().decode(
      await collect(await r.read("a b/ünï", { offset: 7, length: 3 })),
    );
    assert(part === "and", `range ${part}`);
  } finally {
    await r.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rclone: an ftp remote on ProFTPD passes the conformance suite", async (t) => {
  const s = await startFtpServer();
  const r = new RcloneRelay({
    timeoutMs: 60_000,
    binary: "rclone",
    remote: "relayftp",
    directory: "relay",
    env: {
      ...NO_CONFIG,
      RCLONE_CONFIG_RELAYFTP_TYPE: "ftp",
      RCLONE_CONFIG_RELAYFTP_HOST: s.host,
      RCLONE_CONFIG_RELAYFTP_PORT: String(s.port),
      RCLONE_CONFIG_RELAYFTP_USER: s.user,
      RCLONE_CONFIG_RELAYFTP_PASS: await obscure(s.password),
    },
  });
  try {
    await r.open();
    await conformanceSteps(t, r);
  } finally {
    await r.close();
    await s.stop();
  }
});

Deno.test("rclone: an unknown remote is one clear configuration error", async () => {
  for (const daemon of [true, false]) {
    const r = new RcloneRelay({
      timeoutMs: 60_000,
      binary: "rclone",
      remote: "nosuchremote:",
      directory: "x",
      env: NO_CONFIG,
      daemon,
    });
    const e = await failure(r.open());
    await r.close();
    assert(e.kind === "config" && e.exitCode === 2, `${e.kind}: ${e.message}`);
    assert(!e.message.includes("\n"), "not one line");
    for (const needle of ['remote "nosuchremote"', "RCLONE_CONFIG_NOSUCHREMOTE_TYPE"]) {
      assert(e.message.includes(needle), `message lacks ${needle}: ${e.message}`);
    }
  }
});

// No close() here: a relay whose open failed is never handed out, so open itself must stop the
// rclone rcd it started.
Deno.test("rclone: a failed open stops its rclone rcd", async () => {
  const dir = await Deno.makeTempDir();
  const { binary, pids } = await recordingRclone(dir);
  try {
    const r = new RcloneRelay({
      timeoutMs: 60_000,
      binary,
      remote: "nosuchremote:",
      directory: "x",
      env: NO_CONFIG,
    });
    const e = await failure(r.open());
    assert(e.kind === "config", `${e.kind}: ${e.message}`);
    assert((await Deno.readTextFile(pids)).trim() !== "", "rclone never ran");
    const left = await runningPids(pids);
    killAll(left);
    assert(left.length === 0, `rclone still running: ${left}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// The CLI retries a failed open on the same object (openWithRetries): a failure must leave it
// able to open again, with no rclone of the failed attempt still running.
Deno.test("rclone: open can be retried on the same relay after a failure", async () => {
  const dir = await Deno.makeTempDir();
  const { binary, pids } = await recordingRclone(dir);
  try {
    for (const daemon of [true, false]) {
      const parent = `${dir}/parent-${daemon}`;
      await Deno.writeTextFile(parent, "a file where the relay's parent folder should be");
      const r = new RcloneRelay({
        binary,
        remote: ":local",
        directory: `${parent}/relay`,
        daemon,
        timeoutMs: 60_000,
      });
      try {
        const e = await failure(r.open());
        assert(e.kind !== "config", `${e.kind}: ${e.message}`);
        const left = await runningPids(pids);
        killAll(left);
        assertEquals(left, [], `daemon ${daemon}: rclone still running after the failed open`);
        await Deno.remove(parent);
        await r.open();
        await r.write("k", utf8.encode("retried"));
        assertEquals(new TextDecoder().decode(await collect(await r.read("k"))), "retried");
      } finally {
        await r.close();
      }
    }
  } finally {
    killAll(await runningPids(pids));
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rclone: wrong FTP credentials are an auth error without the password", async () => {
  const s = await startFtpServer();
  const wrong = "Wr0ng-Pa55w0rd-Zebra";
  const obscured = await obscure(wrong);
  try {
    for (const daemon of [true, false]) {
      const r = new RcloneRelay({
        binary: "rclone",
        remote: "badftp",
        directory: "relay",
        timeoutMs: 10_000,
        env: {
          ...NO_CONFIG,
          RCLONE_CONFIG_BADFTP_TYPE: "ftp",
          RCLONE_CONFIG_BADFTP_HOST: s.host,
          RCLONE_CONFIG_BADFTP_PORT: String(s.port),
          RCLONE_CONFIG_BADFTP_USER: s.user,
          RCLONE_CONFIG_BADFTP_PASS: obscured,
        },
        daemon,
      });
      const e = await failure(r.open());
      await r.close();
      assert(e.kind === "auth", `${e.kind}: ${e.message}`);
      assert(!e.message.includes(wrong) && !e.message.includes(obscured), e.message);
    }
  } finally {
    await s.stop();
  }
});

Deno.test("rclone: a connection string's secrets never reach the relay name or messages", async () => {
  const secret = "Hidden-Pass-In-Remote";
  const r = new RcloneRelay({
    binary: "rclone",
    remote: `:ftp,host=127.0.0.1,port=1,user=u,pass=${secret}:`,
    directory: "x",
    env: NO_CONFIG,
    timeoutMs: 3000,
    daemon: false,
  });
  const e = await failure(r.open());
  await r.close();
  assert(!r.name.includes(secret) && r.name === "rclone::ftp:x", `name ${r.name}`);
  assert(!e.message.includes(secret), e.message);
});

Deno.test("rclone: a connection string ends at the first colon outside quotes", () => {
  assertEquals(splitRcloneLocation(`:webdav,url='http://h:1/d',pass="a""b:c":p/q`), {
    remote: `:webdav,url='http://h:1/d',pass="a""b:c"`,
    path: "p/q",
  });
  assertEquals(parseRcloneRemote(`:webdav,url='http://h:1/d',pass="a""b:c",links`)?.params, [
    { key: "url", value: "http://h:1/d", raw: "'http://h:1/d'" },
    { key: "pass", value: 'a"b:c', raw: '"a""b:c"' },
    { key: "links", value: "true", raw: "" },
  ]);
  assertEquals(splitRcloneLocation("mydrive:sub/dir"), { remote: "mydrive", path: "sub/dir" });
  assertEquals(splitRcloneLocation(":local"), { remote: ":local", path: "" });
  assertEquals(splitRcloneLocation(":webdav,url='http://h"), null);
  const secrets = rcloneRemoteSecrets(`:ftp,host=h,user=u,pass='Obsc:ured'`);
  for (const s of [`:ftp,host=h,user=u,pass='Obsc:ured'`, "Obsc:ured", "'Obsc:ured'"]) {
    assert(secrets.includes(s), `${s} not among ${secrets}`);
  }
  assert(!secrets.includes("h") && !secrets.includes("u"), `${secrets}`);
  assertEquals(rcloneRemoteSecrets("mydrive"), []);
});

Deno.test("rclone: :local:/path and a remote given without its colon work", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // As the configuration hands them over: the remote without its trailing colon.
    for (const [remote, directory] of [[":local", `${dir}/a`], [`:local:${dir}`, "b"]]) {
      const r = new RcloneRelay({
        timeoutMs: 60_000,
        binary: "rclone",
        remote,
        directory,
        env: NO_CONFIG,
      });
      try {
        await r.open();
        await r.write("k", utf8.encode(remote));
        assert((await toArray(r.list(""))).map((e) => e.key).join() === "k", remote);
      } finally {
        await r.close();
      }
    }
    assert((await Deno.readTextFile(`${dir}/a/k`)) === ":local", "not in the folder named");
    assert((await Deno.readTextFile(`${dir}/b/k`)) === `:local:${dir}`, "not under the path");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rclone: a WebDAV connection string passes the conformance suite, its secrets in no argument or message", async (t) => {
  const dav = await startWebDavServer();
  const dir = await Deno.makeTempDir();
  const { binary, args } = await recordingRclone(dir);
  const obscured = await obscure(dav.password);
  // Quoted values, one holding colons, as rclone's own syntax allows.
  const remote = `:webdav,url='${dav.url}',vendor=other,user="${dav.user}",pass=${obscured}`;
  try {
    for (const daemon of [true, false]) {
      await t.step(`daemon ${daemon}`, async (t) => {
        const r = new RcloneRelay({
          timeoutMs: 60_000,
          binary,
          remote,
          directory: `cs-${daemon}`,
          env: NO_CONFIG,
          daemon,
        });
        try {
          await r.open();
          // One process per call is slow on WebDAV; the suite runs through the daemon.
          if (daemon) await conformanceSteps(t, r);
          await r.write("seen/by-apache", utf8.encode("through the connection string"));
          const back = await collect(await r.read("seen/by-apache"));
          assert(new TextDecoder().decode(back) === "through the connection string", "read");
          assert(
            (await Deno.readTextFile(`${dav.dataDir}/cs-${daemon}/seen/by-apache`)) ===
              "through the connection string",
            "not on the server",
          );
          assert(r.name === `rclone::webdav:cs-${daemon}`, r.name);
        } finally {
          await r.close();
        }
      });
    }
    const wrong = await obscure("Not-The-Password-91");
    const bad = new RcloneRelay({
      timeoutMs: 60_000,
      binary,
      remote: `:webdav,url='${dav.url}',user=${dav.user},pass=${wrong}`,
      directory: "x",
      env: NO_CONFIG,
    });
    const e = await failure(bad.open());
    assert(e.kind === "auth", `${e.kind}: ${e.message}`);
    assert(!e.message.includes(wrong) && !e.message.includes("url="), e.message);
    const argv = await Deno.readTextFile(args);
    for (const secret of [obscured, wrong, dav.url]) {
      assert(!argv.includes(secret), `rclone was given a secret in its arguments:\n${argv}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
    await dav.stop();
  }
});

Deno.test("rclone: a missing binary is a configuration error", async () => {
  const r = new RcloneRelay({
    timeoutMs: 60_000,
    binary: "/nonexistent/rclone",
    remote: ":local:",
    directory: "/tmp",
  });
  const e = await failure(r.open());
  await r.close();
  assert(e.kind === "config" && /not found/.test(e.message), `${e.kind}: ${e.message}`);
});

Deno.test("rclone: an abort signal interrupts a read and a write", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const daemon of [true, false]) {
      const r = new RcloneRelay({
        timeoutMs: 60_000,
        binary: "rclone",
        remote: ":local:",
        directory: `${dir}/${daemon}`,
        configFile: "/dev/null",
        daemon,
      });
      try {
        await r.open();
        await abortsInterruptTransfers(r, `daemon ${daemon}`);
      } finally {
        await r.close();
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
