// Operating escale end to end through the real launcher: several sections where one relay is
// unreachable, secrets kept out of every output and file, progress bars on a terminal (tmux) and
// their absence in a file, and `--json` events that add up to the round's totals.
import { assert, assertEquals } from "../assert.ts";
import { readTree } from "../engine/sandbox.ts";
import { startWebDavServer } from "../servers/webdav_server.ts";
import { conf, escale } from "./cli_helpers.ts";

const root = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const launcher = `${root}/scripts/escale`;

async function tempDir(name: string, subdirs: string[]): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: `escale-ops-${name}-` });
  for (const d of subdirs) await Deno.mkdir(`${dir}/${d}`, { recursive: true });
  return dir;
}

/** A config holding inline secrets: private, so escale has no reason to warn about it. */
async function privateConf(path: string, text: string): Promise<void> {
  await conf(path, text);
  await Deno.chmod(path, 0o600);
}

/** Random bytes (incompressible, so every byte really travels). */
async function randomFile(path: string, size: number): Promise<void> {
  const buf = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(buf.subarray(i, i + 65536));
  await Deno.writeFile(path, buf);
}

/** Every regular file under a folder, recursively (missing folder: none). */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else if (e.isFile) out.push(p);
    }
  };
  await walk(dir).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
  return out.sort();
}

function includesBytes(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

Deno.test("cli ops: an unreachable relay fails its section while the other section syncs", async () => {
  const dir = await tempDir("two", ["A", "A2", "B", "relay"]);
  // Accepts connections (the kernel completes the handshake) and never answers: a relay that
  // hangs, which is worse than one that refuses, since only the timeout ends the wait.
  const blackhole = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (blackhole.addr as Deno.NetAddr).port;
  try {
    await privateConf(
      `${dir}/A.conf`,
      `[good]
      client = A
      local path = ${dir}/A
      relay path = ${dir}/relay
      mode = upload
      [dead]
      client = A
      local path = ${dir}/A2
      host address = http://127.0.0.1:${port}/dav/r
      user = u
      password = pw-unused
      timeout = 2
      max retries = 1
      `,
    );
    await conf(
      `${dir}/B.conf`,
      `[B]\nclient = B\nlocal path = ${dir}/B\nrelay path = ${dir}/relay\nmode = download\n`,
    );
    await Deno.mkdir(`${dir}/A/sub`);
    await Deno.writeTextFile(`${dir}/A/sub/report.txt`, "quarterly numbers\n");
    await Deno.writeTextFile(`${dir}/A/notes.txt`, "notes\n");
    const started = Date.now();
    const r = await escale(["run", "--once", "-c", `${dir}/A.conf`]);
    assertEquals(r.code, 3, r.stdout + r.stderr);
    assert(Date.now() - started >= 2000, "the hanging relay was given up before its timeout");
    assert(/\[good\].*sent 2 files/.test(r.stderr), r.stderr);
    assert(/\[dead\].*error/i.test(r.stderr), r.stderr);

    const log = await Deno.readTextFile(`${dir}/A.log`);
    const goodLine = log.split("\n").findIndex((l) => /\[good\].*sent 2 files/.test(l));
    const deadLine = log.split("\n").findIndex((l) => /\[dead\]\[ERROR\]/.test(l));
    assert(goodLine >= 0 && deadLine >= 0, `the log does not mention both sections:\n${log}`);
    // The working section finished while the dead one was still waiting for its timeout.
    assert(goodLine < deadLine, `the good section waited for the dead one:\n${log}`);
    const errors = await Deno.readTextFile(`${dir}/error.log`);
    assert(/ dead: /.test(errors) && !/ good: /.test(errors), errors);

    const b = await escale(["run", "--once", "-c", `${dir}/B.conf`]);
    assertEquals(b.code, 0, b.stderr);
    assertEquals(await readTree(`${dir}/B`), {
      "notes.txt": "notes\n",
      "sub/report.txt": "quarterly numbers\n",
    });
  } finally {
    blackhole.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli ops: no password, passphrase or URL credential reaches any output or file", async () => {
  const davPassword = "Dav-Right-Pw-7719";
  const wrongPassword = "Wrong-Pw+41/x"; // URL-encodes differently: both forms must stay hidden
  const passphrase = "Literal-Passphrase-5523";
  const urlPassword = "Pa55word-x";
  const dav = await startWebDavServer({ password: davPassword });
  const dir = await tempDir("secrets", ["G", "W", "E", "U", "relay"]);
  try {
    const davPort = new URL(dav.url).port;
    await privateConf(
      `${dir}/escale.conf`,
      `[dav-good]
      client = G
      local path = ${dir}/G
      host address = ${dav.url}good
      user = ${dav.user}
      password = ${davPassword}
      [dav-wrong]
      client = W
      local path = ${dir}/W
      host address = ${dav.url}wrong
      user = ${dav.user}
      password = ${wrongPassword}
      [encrypted]
      client = E
      local path = ${dir}/E
      relay path = ${dir}/relay
      passphrase = ${passphrase}
      [url]
      client = U
      local path = ${dir}/U
      host address = http://user:${urlPassword}@127.0.0.1:${davPort}/dav/r
      `,
    );
    await Deno.writeTextFile(`${dir}/G/good.txt`, "through webdav\n");
    await Deno.writeTextFile(`${dir}/E/sealed.txt`, "through an encrypted relay\n");
    const outputs: [string, string][] = [];
    for (const flags of [[], ["-v"], ["--json"]]) {
      const r = await escale(["run", "--once", ...flags, "-c", `${dir}/escale.conf`]);
      const what = `run --once ${flags.join(" ")}`;
      // The wrong password fails with the authentication code, the URL credential too.
      assertEquals(r.code, 4, `${what}: ${r.stdout}${r.stderr}`);
      outputs.push([`${what} stdout`, r.stdout], [`${what} stderr`, r.stderr]);
      if (flags[0] === "--json") {
        const errors = r.stdout.trim().split("\n").map((l) => JSON.parse(l)).filter((e) =>
          e.event === "error"
        );
        assertEquals(errors.map((e) => e.exitCode), [4, 4], r.stdout);
      }
    }
    // The good sections did their work, so the secrets were really used.
    assert(
      (await Deno.readTextFile(`${dav.dataDir}/good/escale.json`)).length > 0,
      "nothing reached the WebDAV relay",
    );
    const relayFiles = await filesUnder(`${dir}/relay`);
    assert(relayFiles.some((f) => f.includes("/data/")), relayFiles.join(", "));
    const sealed = new TextEncoder().encode("through an encrypted relay");
    for (const f of relayFiles) {
      assert(!includesBytes(await Deno.readFile(f), sealed), `${f} holds plaintext`);
    }

    const files = [
      `${dir}/escale.log`,
      `${dir}/error.log`,
      ...await filesUnder(`${dir}/.escale`),
      ...relayFiles,
    ];
    const log = await Deno.readTextFile(`${dir}/escale.log`);
    for (const s of ["dav-good", "dav-wrong", "encrypted", "url"]) {
      assert(log.includes(`[${s}]`), `the log does not mention ${s}:\n${log}`);
    }
    assert((await Deno.readTextFile(`${dir}/error.log`)).includes("url:"), "no error.log entry");
    assert(files.some((f) => f.endsWith(".state.db")), files.join(", "));

    const enc = new TextEncoder();
    const forms = (s: string, user: string) => [
      s,
      encodeURIComponent(s),
      btoa(`${user}:${s}`), // what a Basic Authorization header carries
    ];
    const secrets = [
      ...forms(davPassword, dav.user),
      ...forms(wrongPassword, dav.user),
      ...forms(urlPassword, "user"),
      passphrase,
    ];
    for (const s of secrets) {
      for (const [name, text] of outputs) {
        assert(!text.includes(s), `a secret (${s.slice(0, 3)}…) appears in ${name}:\n${text}`);
      }
      for (const f of files) {
        assert(
          !includesBytes(await Deno.readFile(f), enc.encode(s)),
          `a secret (${s.slice(0, 3)}…) appears in ${f}`,
        );
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
    await dav.stop();
  }
});

/** A private tmux server (its own socket), so tests never touch the user's sessions. */
class Tmux {
  constructor(readonly socket: string) {}

  async cmd(...args: string[]): Promise<{ ok: boolean; out: string }> {
    const o = await new Deno.Command("tmux", {
      args: ["-S", this.socket, ...args],
      env: { TERM: "xterm-256color" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    return { ok: o.success, out: new TextDecoder().decode(o.stdout) };
  }

  /** Polls the pane until `test` accepts it; returns the last capture either way. */
  async waitFor(test: (screen: string) => boolean, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let screen = "";
    while (Date.now() < deadline) {
      screen = (await this.cmd("capture-pane", "-p")).out;
      if (test(screen)) return screen;
      await new Promise((r) => setTimeout(r, 100));
    }
    return screen;
  }

  async kill(): Promise<void> {
    await this.cmd("kill-server");
  }
}

/** What src/log/progress_bar.ts draws: bar, percentage, files, bytes, speed, ETA. */
const BAR =
  /\[[#-]{30}\] +\d+% \| \d+\/\d+ files \| [\d.]+ \w*B\/[\d.]+ MiB \| [\d.]+ \w*B\/s \| ETA [\d:-]+/;

Deno.test("cli ops: progress bars on a terminal, none when the output is a file", async () => {
  const dir = await tempDir("progress", ["A", "A2", "relay", "relay2"]);
  const tmux = new Tmux(`${dir}/tmux.sock`);
  try {
    for (let i = 0; i < 4; i++) await randomFile(`${dir}/A/part-${i}.bin`, 2 * 1024 * 1024);
    await Deno.writeTextFile(`${dir}/A/readme.txt`, "a few MiB\n");
    await conf(
      `${dir}/A.conf`,
      `[A]\nclient = A\nlocal path = ${dir}/A\nrelay path = ${dir}/relay\nmode = upload\nchunk size = 1MB\n`,
    );
    // A local transfer of a few MiB ends in well under a second, and the bars vanish when the
    // round ends; stalling the third data write keeps them on screen with real progress in them
    // until the session is killed.
    await Deno.writeTextFile(
      `${dir}/stalled.sh`,
      `ESCALE_FAULTS='write:stall:3:^data/' ${launcher} run --once -c ${dir}/A.conf; sleep 30\n`,
    );
    const started = await tmux.cmd(
      ...["new-session", "-d", "-x", "120", "-y", "40", `sh ${dir}/stalled.sh`],
    );
    assert(started.ok, "tmux did not start");
    const screen = await tmux.waitFor((s) => BAR.test(s) && /[1-9][\d.]* \w*B\/s/.test(s), 30_000);
    await tmux.kill();
    assert(BAR.test(screen), `no progress bar on the terminal:\n${screen}`);
    const bar = screen.split("\n").find((l) => BAR.test(l))!;
    assert(bar.startsWith("A ["), bar);
    assert(/\| \d+\/5 files \|/.test(bar), `the bar does not count the round's files: ${bar}`);
    assert(/\/8\.0 MiB \|/.test(bar), `the bar does not show the bytes to send: ${bar}`);

    // The same upload, completed, with stdout and stderr going to a file on that terminal.
    await conf(
      `${dir}/A2.conf`,
      `[A2]\nclient = A\nlocal path = ${dir}/A\nrelay path = ${dir}/relay2\nmode = upload\nchunk size = 1MB\n`,
    );
    await Deno.writeTextFile(
      `${dir}/to_file.sh`,
      `${launcher} run --once -c ${dir}/A2.conf > ${dir}/out.txt 2>&1; echo "exit=$?" > ${dir}/done\n`,
    );
    // A server of its own: restarting one on the socket just killed can race its shutdown.
    const tmux2 = new Tmux(`${dir}/tmux2.sock`);
    assert(
      (await tmux2.cmd("new-session", "-d", "-x", "120", "-y", "40", `sh ${dir}/to_file.sh`)).ok,
      "tmux did not start the second session",
    );
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (await Deno.stat(`${dir}/done`).then(() => true, () => false)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await tmux2.kill();
    assertEquals((await Deno.readTextFile(`${dir}/done`)).trim(), "exit=0");
    const out = await Deno.readTextFile(`${dir}/out.txt`);
    assert(/sent 5 files \(8\.0 MiB\)/.test(out), out);
    assert(
      !out.includes("\x1b") && !out.includes("\r"),
      `escape sequences or carriage returns in the file: ${JSON.stringify(out)}`,
    );
    assert(!/\[[#-]{5,}/.test(out) && !/ETA/.test(out), `a progress bar in the file: ${out}`);
  } finally {
    await tmux.kill();
    await Deno.remove(dir, { recursive: true });
  }
});

type Totals = "filesUp" | "bytesUp" | "filesDown" | "bytesDown" | "deleted" | "moved" | "conflicts";

interface JsonEvent {
  event: string;
  repo: string;
  direction?: "up" | "down";
  size?: number;
  path?: string;
  ok?: boolean;
  totals?: Record<Totals, number>;
  stats?: { uploaded: number; downloaded: number };
}

function parseEvents(stdout: string): JsonEvent[] {
  const lines = stdout.split("\n");
  assertEquals(lines.pop(), "", "stdout does not end with a newline");
  return lines.map((l, i) => {
    try {
      return JSON.parse(l) as JsonEvent;
    } catch {
      throw new Error(`stdout line ${i + 1} is not JSON: ${l}`);
    }
  });
}

/** Checks one round's events and returns the paths and sizes of its finished files. */
function checkRound(events: JsonEvent[], dir: "up" | "down"): Map<string, number> {
  assertEquals(events[0].event, "round-start", JSON.stringify(events[0]));
  const end = events[events.length - 1];
  assertEquals(end.event, "round-end", JSON.stringify(end));
  assertEquals(events.filter((e) => e.event.startsWith("round-")).length, 2);
  assert(end.ok === true && end.totals && end.stats, JSON.stringify(end));
  const done = events.filter((e) => e.event === "file-done");
  assert(done.every((e) => e.direction === dir), JSON.stringify(done));
  const sum = done.reduce((n, e) => n + e.size!, 0);
  const t = end.totals;
  if (dir === "up") {
    assertEquals([t.filesUp, t.bytesUp, t.filesDown, t.bytesDown], [done.length, sum, 0, 0]);
    assertEquals(end.stats.uploaded, done.length);
  } else {
    assertEquals([t.filesDown, t.bytesDown, t.filesUp, t.bytesUp], [done.length, sum, 0, 0]);
    assertEquals(end.stats.downloaded, done.length);
  }
  const started = events.filter((e) => e.event === "file-start").map((e) => e.path).sort();
  assertEquals(started, done.map((e) => e.path).sort(), "started and finished files differ");
  return new Map(done.map((e) => [e.path!, e.size!]));
}

Deno.test("cli ops: --json events parse and add up to the round's totals, up and down", async () => {
  const dir = await tempDir("json", ["A/deep/er", "B", "relay"]);
  try {
    await randomFile(`${dir}/A/big.bin`, 3 * 1024 * 1024 + 17);
    for (let i = 0; i < 12; i++) await Deno.writeTextFile(`${dir}/A/small-${i}.txt`, "x".repeat(i));
    await Deno.writeTextFile(`${dir}/A/deep/er/naïve café.txt`, "unicode\n");
    const section = (c: string, mode: string) =>
      `[${c}]\nclient = ${c}\nlocal path = ${dir}/${c}\nrelay path = ${dir}/relay\nmode = ${mode}\nchunk size = 1MB\n`;
    await conf(`${dir}/A.conf`, section("A", "upload"));
    await conf(`${dir}/B.conf`, section("B", "download"));
    const expected = new Map<string, number>();
    for (const path of Object.keys(await readTree(`${dir}/A`))) {
      expected.set(path, (await Deno.stat(`${dir}/A/${path}`)).size);
    }

    const up = await escale(["run", "--once", "--json", "-c", `${dir}/A.conf`]);
    assertEquals(up.code, 0, up.stderr);
    const upEvents = parseEvents(up.stdout);
    assert(upEvents.every((e) => e.repo === "A"), up.stdout);
    assert(upEvents.some((e) => e.event === "progress"), "no progress event for 3 MiB");
    assertEquals(
      [...checkRound(upEvents, "up")].sort(),
      [...expected].sort(),
      "the uploaded files",
    );

    const down = await escale(["run", "--once", "--json", "-c", `${dir}/B.conf`]);
    assertEquals(down.code, 0, down.stderr);
    const downEvents = parseEvents(down.stdout);
    assertEquals(
      [...checkRound(downEvents, "down")].sort(),
      [...expected].sort(),
      "the downloaded files",
    );
    assertEquals(await readTree(`${dir}/B`), await readTree(`${dir}/A`));

    // An idle round still reports its start and end, with zero totals.
    const idle = parseEvents(
      (await escale(["run", "--once", "--json", "-c", `${dir}/B.conf`])).stdout,
    );
    assertEquals(idle.map((e) => e.event), ["round-start", "round-end"]);
    assertEquals(idle[1].totals, {
      filesUp: 0,
      bytesUp: 0,
      filesDown: 0,
      bytesDown: 0,
      deleted: 0,
      moved: 0,
      conflicts: 0,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// A section whose relay cannot be opened still gets its round-start, an error event naming it,
// and a round-end with ok: false, so scripts can tell which section failed.
Deno.test({
  name: "cli ops: --json names a section whose relay cannot be opened, and ends its round",
  fn: async () => {
    const dir = await tempDir("json-fail", ["A", "A2", "relay"]);
    try {
      const port = (() => {
        const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
        const p = (l.addr as Deno.NetAddr).port;
        l.close();
        return p;
      })();
      await conf(
        `${dir}/A.conf`,
        `[good]\nclient = A\nlocal path = ${dir}/A\nrelay path = ${dir}/relay\n` +
          `[dead]\nclient = A\nlocal path = ${dir}/A2\nhost address = http://127.0.0.1:${port}/r\n` +
          `timeout = 2\nmax retries = 0\n`,
      );
      const r = await escale(["run", "--once", "--json", "-c", `${dir}/A.conf`]);
      assertEquals(r.code, 3, r.stderr);
      const events = parseEvents(r.stdout);
      const error = events.find((e) => e.event === "error");
      assertEquals(error?.repo, "dead", r.stdout);
      const ends = events.filter((e) => e.event === "round-end");
      assertEquals(ends.map((e) => [e.repo, e.ok]).sort(), [["dead", false], ["good", true]]);
      const starts = events.filter((e) => e.event === "round-start").map((e) => e.repo).sort();
      assertEquals(starts, ["dead", "good"], r.stdout);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
