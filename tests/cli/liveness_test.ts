// Every escale process ends: a failing rclone relay does not leave the run waiting on its rclone
// child, and SIGTERM stops a run that is stuck (a stalled relay, a hook that never returns) with
// exit code 130 and no child left behind. Each run gets a hang detector (a generous bound after
// which the test kills escale and fails), never a speed assertion.
import { assert, assertEquals } from "../assert.ts";
import { startWebDavServer } from "../servers/webdav_server.ts";
import { conf } from "./cli_helpers.ts";
import { EscaleProcess, killAll, recordingRclone, runningPids } from "./escale_process.ts";

/** Far more than any of these runs needs; only a hang reaches it. */
const HANG_MS = 30_000;
/** Bound after SIGTERM: "within seconds", with room for a loaded machine. */
const STOP_MS = 15_000;

/** rclone reads no config file of the user's: remotes come from the environment only. */
const NO_CONFIG = { RCLONE_CONFIG: "/dev/null" };

async function sandbox(name: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: `escale-live-${name}-` });
  await Deno.mkdir(`${dir}/A`);
  await Deno.writeTextFile(`${dir}/A/a.txt`, "some content\n");
  return dir;
}

/** A port where nothing listens (bound, then released). */
function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("liveness: a run --once on a failing rclone relay prints its error, exits, and leaves no rclone running", async () => {
  const dir = await sandbox("rclone-fail");
  const { binary, pids } = await recordingRclone(dir);
  const dead = closedPort();
  const deadDav = {
    RCLONE_CONFIG_DEADDAV_TYPE: "webdav",
    RCLONE_CONFIG_DEADDAV_URL: `http://127.0.0.1:${dead}/dav`,
  };
  const cases: {
    name: string;
    lines: string;
    env?: Record<string, string>;
    code: number;
    error?: RegExp;
  }[] = [
    { name: "unknown remote", lines: "protocol = rclone\nhost address = nosuch:path", code: 2 },
    { name: "dropbox not configured", lines: "protocol = dropbox\nhost address = box:", code: 2 },
    {
      name: "server down",
      lines: "protocol = rclone\nhost address = deaddav:relay\ntimeout = 5\nmax retries = 0",
      env: deadDav,
      code: 3,
      error: /connection refused/i,
    },
    {
      // The default retries reopen the same relay object: each attempt starts (and stops) a
      // daemon of its own, and the last one's error is the one reported.
      name: "server down, retried",
      lines: "protocol = rclone\nhost address = deaddav:relay\ntimeout = 5",
      env: deadDav,
      code: 3,
      error: /connection refused.*still failing after 4 attempts/i,
    },
  ];
  try {
    for (const c of cases) {
      await conf(
        `${dir}/A.conf`,
        `[A]\nclient = A\nlocal path = ${dir}/A\nrclone binary = ${binary}\n${c.lines}\n`,
      );
      const p = new EscaleProcess(["run", "--once", "-c", `${dir}/A.conf`], {
        ...NO_CONFIG,
        ...c.env,
      });
      const r = await p.ended(HANG_MS);
      assert(r.code !== null, `${c.name}: escale did not exit:\n${r.stderr}`);
      assertEquals(r.code, c.code, `${c.name}: ${r.stderr}`);
      const errors = r.stderr.split("\n").filter((l) => /error/i.test(l));
      assertEquals(errors.length, 1, `${c.name}: not one error line:\n${r.stderr}`);
      if (c.error) assert(c.error.test(errors[0]), `${c.name}: ${errors[0]}`);
      assert(!/\bat .*\.ts:\d+/.test(r.stderr), `${c.name}: a stack trace:\n${r.stderr}`);
      const left = await runningPids(pids);
      killAll(left);
      assertEquals(left, [], `${c.name}: rclone processes left running`);
      assert((await Deno.readTextFile(pids)).trim() !== "", `${c.name}: rclone never ran`);
      await Deno.remove(pids);
    }
    // The same without a configuration file, and for the other commands that open the relay.
    await conf(
      `${dir}/A.conf`,
      `[A]\nclient = A\nlocal path = ${dir}/A\nrclone binary = ${binary}\nprotocol = dropbox\nhost address = box:\n`,
    );
    const others = [
      [
        "run",
        "--once",
        "--local",
        `${dir}/A`,
        "--relay",
        "box:",
        "--protocol",
        "dropbox",
        "--rclone-binary",
        binary,
      ],
      ["ctl", "test-relay", "-c", `${dir}/A.conf`],
      ["ctl", "evict", "-c", `${dir}/A.conf`, "B"],
    ];
    for (const args of others) {
      const r = await new EscaleProcess(args, NO_CONFIG).ended(HANG_MS);
      assertEquals(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert(/rclone remote "box" is not configured/.test(r.stderr), r.stderr);
      const left = await runningPids(pids);
      killAll(left);
      assertEquals(left, [], `${args.join(" ")}: rclone processes left running`);
      assert((await Deno.readTextFile(pids)).trim() !== "", `${args.join(" ")}: rclone never ran`);
      await Deno.remove(pids);
    }
  } finally {
    killAll(await runningPids(pids));
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("liveness: SIGTERM while opening an rclone relay is retried ends the retries and every rclone", async () => {
  const dir = await sandbox("rclone-retry-term");
  const { binary, pids } = await recordingRclone(dir);
  try {
    await conf(
      `${dir}/A.conf`,
      `[A]\nclient = A\nlocal path = ${dir}/A\nrclone binary = ${binary}\n` +
        `protocol = rclone\nhost address = deaddav:relay\ntimeout = 5\nmax retries = 12\n`,
    );
    const p = new EscaleProcess(["run", "--once", "-c", `${dir}/A.conf`], {
      ...NO_CONFIG,
      RCLONE_CONFIG_DEADDAV_TYPE: "webdav",
      RCLONE_CONFIG_DEADDAV_URL: `http://127.0.0.1:${closedPort()}/dav`,
    });
    let exited = false;
    p.child.status.then(() => (exited = true));
    // Two daemons started: the first attempt failed and the retries are under way.
    const started = async () =>
      (await Deno.readTextFile(pids).catch(() => "")).trim().split("\n").filter(Boolean).length;
    const deadline = Date.now() + HANG_MS;
    while (!exited && Date.now() < deadline && (await started()) < 3) {
      await new Promise((ok) => setTimeout(ok, 50));
    }
    assert(!exited, `ended before retrying:\n${p.stderr}`);
    p.kill("SIGTERM");
    const r = await p.ended(STOP_MS);
    assert(r.code !== null, `still running ${STOP_MS / 1000} s after SIGTERM:\n${r.stderr}`);
    assertEquals(r.code, 130, r.stderr);
    assert(!/still busy/.test(r.stderr), r.stderr);
    const before = await started();
    await new Promise((ok) => setTimeout(ok, 2000));
    assertEquals(await started(), before, "rclone started again after the run ended");
    const left = await runningPids(pids);
    killAll(left);
    assertEquals(left, [], "rclone processes left running");
  } finally {
    killAll(await runningPids(pids));
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("liveness: a data object replaced by a FIFO on a file relay is an integrity error, not a hang", async () => {
  const dir = await sandbox("fifo");
  try {
    await Deno.mkdir(`${dir}/B`);
    await Deno.mkdir(`${dir}/relay`);
    const section = (c: string) =>
      `[${c}]\nclient = ${c}\nlocal path = ${dir}/${c}\nrelay path = ${dir}/relay\n`;
    await conf(`${dir}/A.conf`, section("A"));
    await conf(`${dir}/B.conf`, section("B"));
    const b0 = await new EscaleProcess(["run", "--once", "-c", `${dir}/B.conf`]).ended(HANG_MS);
    assertEquals(b0.code, 0, b0.stderr);
    const a = await new EscaleProcess(["run", "--once", "-c", `${dir}/A.conf`]).ended(HANG_MS);
    assertEquals(a.code, 0, a.stderr);
    const objects: string[] = [];
    const walk = async (d: string) => {
      for await (const e of Deno.readDir(d)) {
        if (e.isDirectory) await walk(`${d}/${e.name}`);
        else objects.push(`${d}/${e.name}`);
      }
    };
    await walk(`${dir}/relay/data`);
    assert(objects.length > 0, "A published no data object");
    for (const f of objects) {
      await Deno.remove(f);
      const mk = await new Deno.Command("mkfifo", { args: [f] }).output();
      assert(mk.success, "mkfifo failed");
    }
    const b = await new EscaleProcess(["run", "--once", "-c", `${dir}/B.conf`]).ended(HANG_MS);
    assert(b.code !== null, `escale hung on the FIFO:\n${b.stderr}`);
    assertEquals(b.code, 6, b.stderr);
    assert(/error: .*data\/.*not a regular file/.test(b.stderr), b.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A TCP server that accepts connections and never answers: a relay stalled mid-request. */
class Blackhole {
  readonly #listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  readonly #conns: Deno.Conn[] = [];
  readonly #first: Promise<void>;

  constructor() {
    this.#first = this.#listener.accept().then((c) => {
      this.#conns.push(c);
      (async () => {
        for await (const more of this.#listener) this.#conns.push(more);
      })().catch(() => {});
    }, () => {});
  }

  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  /** Resolves once a client has connected, and is waiting for an answer. */
  connected(): Promise<void> {
    return this.#first;
  }

  close(): void {
    this.#listener.close();
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed by the client */ }
    }
  }
}

Deno.test("liveness: SIGTERM stops a run waiting on a WebDAV server that never answers, with 130", async () => {
  const dir = await sandbox("stall-dav");
  const hole = new Blackhole();
  try {
    await conf(
      `${dir}/A.conf`,
      `[A]
      client = A
      local path = ${dir}/A
      host address = http://127.0.0.1:${hole.port}/dav/r
      user = u
      password = pw-unused
      timeout = 600
      `,
    );
    await Deno.chmod(`${dir}/A.conf`, 0o600);
    const p = new EscaleProcess(["run", "--once", "-c", `${dir}/A.conf`]);
    await hole.connected();
    p.kill("SIGTERM");
    const r = await p.ended(STOP_MS);
    assert(r.code !== null, `still running ${STOP_MS / 1000} s after SIGTERM:\n${r.stderr}`);
    assertEquals(r.code, 130, r.stderr);
    assert(!/error/i.test(r.stderr), `an interruption reported as an error:\n${r.stderr}`);
  } finally {
    hole.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("liveness: SIGTERM stops a run whose rclone waits on a server that never answers, and stops rclone", async () => {
  const dir = await sandbox("stall-rclone");
  const hole = new Blackhole();
  const { binary, pids } = await recordingRclone(dir);
  try {
    await conf(
      `${dir}/A.conf`,
      `[A]
      client = A
      local path = ${dir}/A
      protocol = rclone
      rclone binary = ${binary}
      host address = :webdav,url='http://127.0.0.1:${hole.port}/dav':r
      timeout = 600
      `,
    );
    const p = new EscaleProcess(["run", "--once", "-c", `${dir}/A.conf`], NO_CONFIG);
    await hole.connected();
    p.kill("SIGTERM");
    const r = await p.ended(STOP_MS);
    assert(r.code !== null, `still running ${STOP_MS / 1000} s after SIGTERM:\n${r.stderr}`);
    assertEquals(r.code, 130, r.stderr);
    const left = await runningPids(pids);
    killAll(left);
    assertEquals(left, [], "rclone processes left running");
  } finally {
    killAll(await runningPids(pids));
    hole.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("liveness: SIGTERM during a stalled upload ends the round with 130; the next run completes it", async () => {
  const dir = await sandbox("stall-write");
  try {
    for (const d of ["B", "relay"]) await Deno.mkdir(`${dir}/${d}`);
    for (const c of ["A", "B"]) {
      await conf(
        `${dir}/${c}.conf`,
        `[${c}]\nclient = ${c}\nlocal path = ${dir}/${c}\nrelay path = ${dir}/relay\n`,
      );
    }
    const b0 = await new EscaleProcess(["run", "--once", "-c", `${dir}/B.conf`]).ended(HANG_MS);
    assertEquals(b0.code, 0, b0.stderr);
    // A daemon (no --once): the signal, not the end of the round, must end it.
    const p = new EscaleProcess(["run", "-c", `${dir}/A.conf`], {
      ESCALE_FAULTS: "write:stall:1:^data/",
    });
    await p.waitForStderr(/fault injection: stalling/);
    p.kill("SIGTERM");
    const r = await p.ended(STOP_MS);
    assert(r.code !== null, `still running ${STOP_MS / 1000} s after SIGTERM:\n${r.stderr}`);
    assertEquals(r.code, 130, r.stderr);
    // Unwound by the interruption itself, not by the last-resort exit.
    assert(!/still busy/.test(r.stderr), r.stderr);
    const a = await new EscaleProcess(["run", "--once", "-c", `${dir}/A.conf`]).ended(HANG_MS);
    assertEquals(a.code, 0, a.stderr);
    const b = await new EscaleProcess(["run", "--once", "-c", `${dir}/B.conf`]).ended(HANG_MS);
    assertEquals(b.code, 0, b.stderr);
    assertEquals(await Deno.readTextFile(`${dir}/B/a.txt`), "some content\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("liveness: a /regex/ filter that backtracks catastrophically on a name neither hangs the scan nor outlives SIGTERM", async () => {
  const dir = await sandbox("redos");
  try {
    for (const d of ["B", "relay"]) await Deno.mkdir(`${dir}/${d}`);
    // With a backtracking engine, this pattern takes about 2^40 steps on this name.
    await Deno.writeTextFile(`${dir}/A/${"a".repeat(40)}`, "never matched\n");
    await Deno.writeTextFile(`${dir}/A/aab`, "matched\n");
    for (const c of ["A", "B"]) {
      await conf(
        `${dir}/${c}.conf`,
        `[${c}]\nclient = ${c}\nlocal path = ${dir}/${c}\nrelay path = ${dir}/relay\n` +
          `include = /^(a+)+b$/\n`,
      );
    }
    const b0 = await new EscaleProcess(["run", "--once", "-c", `${dir}/B.conf`]).ended(HANG_MS);
    assertEquals(b0.code, 0, b0.stderr);
    // A daemon: once its first round has published, the signal must end it.
    const p = new EscaleProcess(["run", "-c", `${dir}/A.conf`]);
    let exited = false;
    p.child.status.then(() => (exited = true));
    // B published nothing (its folder is empty): a commit is A's.
    const published = () => {
      try {
        return [...Deno.readDirSync(`${dir}/relay/commits`)].length > 0;
      } catch {
        return false; // no commits folder yet
      }
    };
    const deadline = Date.now() + HANG_MS;
    while (!exited && Date.now() < deadline && !published()) {
      await new Promise((ok) => setTimeout(ok, 50));
    }
    assert(!exited, `the run ended by itself:\n${p.stderr}`);
    p.kill("SIGTERM");
    const r = await p.ended(STOP_MS);
    assert(r.code !== null, `still running ${STOP_MS / 1000} s after SIGTERM:\n${r.stderr}`);
    assert(published(), `the first round never published:\n${r.stderr}`);
    // 0 when the signal finds the daemon between rounds, 130 when the first is still ending.
    assert(r.code === 0 || r.code === 130, `exit ${r.code}:\n${r.stderr}`);
    assert(!/error/i.test(r.stderr), r.stderr);
    const b = await new EscaleProcess(["run", "--once", "-c", `${dir}/B.conf`]).ended(HANG_MS);
    assertEquals(b.code, 0, b.stderr);
    assertEquals([...Deno.readDirSync(`${dir}/B`)].map((e) => e.name), ["aab"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("liveness: SIGTERM while a failure hook never returns ends the run with 130 and stops the hook", async () => {
  const dir = await sandbox("stall-hook");
  try {
    await conf(
      `${dir}/A.conf`,
      `[A]
      client = A
      local path = ${dir}/A
      host address = http://127.0.0.1:${closedPort()}/dav/r
      user = u
      password = pw-unused
      max retries = 0
      on failure = /bin/sh -c 'echo $$ > ${dir}/hook.pid; exec sleep 600'
      `,
    );
    await Deno.chmod(`${dir}/A.conf`, 0o600);
    const p = new EscaleProcess(["run", "--once", "-c", `${dir}/A.conf`]);
    let exited = false;
    p.child.status.then(() => (exited = true));
    let hookPid = 0;
    while (!hookPid && !exited) {
      hookPid = Number(await Deno.readTextFile(`${dir}/hook.pid`).catch(() => "0"));
      if (!hookPid) await new Promise((ok) => setTimeout(ok, 50));
    }
    assert(hookPid, `the hook never ran:\n${p.stderr}`);
    p.kill("SIGTERM");
    const r = await p.ended(STOP_MS);
    assert(r.code !== null, `still running ${STOP_MS / 1000} s after SIGTERM:\n${r.stderr}`);
    assertEquals(r.code, 130, r.stderr);
    await Deno.writeTextFile(`${dir}/hook.pids`, `${hookPid}\n`);
    const left = await runningPids(`${dir}/hook.pids`);
    killAll(left);
    assertEquals(left, [], "the hook was left running");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * A TCP proxy in front of a real server that stops forwarding the server's answers once one
 * connection has carried `limit` bytes of them: a download stalled in the middle of its body.
 */
class StallingProxy {
  readonly #listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  readonly #conns: Deno.Conn[] = [];
  #onStall!: () => void;
  readonly stalled = new Promise<void>((ok) => (this.#onStall = ok));

  constructor(target: number, limit: number) {
    (async () => {
      for await (const client of this.#listener) {
        const server = await Deno.connect({ hostname: "127.0.0.1", port: target });
        this.#conns.push(client, server);
        this.#pump(client, server, Infinity);
        this.#pump(server, client, limit);
      }
    })().catch(() => {});
  }

  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  async #pump(from: Deno.Conn, to: Deno.Conn, limit: number): Promise<void> {
    const buf = new Uint8Array(16 * 1024);
    let sent = 0;
    try {
      for (;;) {
        const n = await from.read(buf);
        if (n === null) return to.closeWrite();
        const room = Math.min(n, limit - sent);
        if (room > 0) await to.write(buf.subarray(0, room));
        sent += room;
        if (sent >= limit) {
          this.#onStall();
          return; // never another byte, and never a close: the client waits
        }
      }
    } catch { /* closed at the end of the test */ }
  }

  close(): void {
    this.#listener.close();
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* already closed */ }
    }
  }
}

/** Names in a folder that are escale's partial downloads. */
async function partials(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.name.startsWith(".escale-tmp-")) out.push(e.name);
  return out;
}

Deno.test("liveness: SIGTERM during a stalled download ends with 130 and removes the partial file", async () => {
  const dav = await startWebDavServer();
  const dir = await sandbox("stall-read");
  const big = new Uint8Array(16 * 1024 * 1024);
  for (let i = 0; i < big.length; i += 65536) crypto.getRandomValues(big.subarray(i, i + 65536));
  await Deno.writeFile(`${dir}/A/big.bin`, big);
  await Deno.mkdir(`${dir}/B`);
  const davPort = Number(new URL(dav.url).port);
  // Enough for the listings, the commit and a few chunks, far less than the file. Chunks of
  // 512 KiB: ranges up to 64 MiB are fetched into memory before any local file is written, so
  // the first chunks must arrive for a partial file to exist.
  const proxy = new StallingProxy(davPort, 1024 * 1024);
  try {
    for (const [c, port] of [["A", davPort], ["B", proxy.port]] as const) {
      await conf(
        `${dir}/${c}.conf`,
        `[${c}]
        client = ${c}
        local path = ${dir}/${c}
        host address = http://127.0.0.1:${port}/dav/r
        user = ${dav.user}
        password = ${dav.password}
        timeout = 600
        chunk size = 512KB
        `,
      );
      await Deno.chmod(`${dir}/${c}.conf`, 0o600);
    }
    const b0 = await new EscaleProcess(["run", "--once", "-c", `${dir}/B.conf`]).ended(HANG_MS);
    assertEquals(b0.code, 0, b0.stderr);
    const a = await new EscaleProcess(["run", "--once", "-c", `${dir}/A.conf`]).ended(HANG_MS);
    assertEquals(a.code, 0, a.stderr);
    const p = new EscaleProcess(["run", "--once", "-c", `${dir}/B.conf`]);
    await proxy.stalled;
    // The partial file appears once the first bytes are written; wait for it, or the exit.
    let exited = false;
    p.child.status.then(() => (exited = true));
    const giveUp = Date.now() + HANG_MS;
    while (!exited && (await partials(`${dir}/B`)).length === 0 && Date.now() < giveUp) {
      await new Promise((ok) => setTimeout(ok, 50));
    }
    assert(!exited, `B ended before the stall:\n${p.stderr}`);
    assert((await partials(`${dir}/B`)).length > 0, `no partial file appeared:\n${p.stderr}`);
    p.kill("SIGTERM");
    const r = await p.ended(STOP_MS);
    assert(r.code !== null, `still running ${STOP_MS / 1000} s after SIGTERM:\n${r.stderr}`);
    assertEquals(r.code, 130, r.stderr);
    assertEquals(await partials(`${dir}/B`), [], "a partial download was left behind");
  } finally {
    proxy.close();
    await dav.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
