import { assert, failure } from "../assert.ts";
import { abortsInterruptTransfers, conformanceSteps } from "./conformance.ts";
import { startFtpServer } from "../servers/ftp_server.ts";
import { run } from "../servers/harness.ts";
import { killAll, recordingRclone, runningPids } from "../cli/escale_process.ts";
import { RcloneRelay } from "../../src/relay/rclone/rclone_relay.ts";
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
  const r = new RcloneRelay({ remote: ":local:", directory: dir, configFile: "/dev/null" });
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
    const r = new RcloneRelay({ remote: "nosuchremote:", directory: "x", env: NO_CONFIG, daemon });
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
    const r = new RcloneRelay({ binary, remote: "nosuchremote:", directory: "x", env: NO_CONFIG });
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

Deno.test("rclone: wrong FTP credentials are an auth error without the password", async () => {
  const s = await startFtpServer();
  const wrong = "Wr0ng-Pa55w0rd-Zebra";
  const obscured = await obscure(wrong);
  try {
    for (const daemon of [true, false]) {
      const r = new RcloneRelay({
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

Deno.test("rclone: a missing binary is a configuration error", async () => {
  const r = new RcloneRelay({
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
