/**
 * `escale init` end to end: the wizard walked on a real terminal (tmux send-keys and
 * capture-pane), the same setups with flags only and no terminal, and the ways it must stop
 * without writing anything. The command runs through scripts/escale.
 */
import { assert, assertEquals } from "../assert.ts";
import { loadConfig } from "../../src/config/load_config.ts";
import type { SectionSettings } from "../../src/config/settings.ts";
import { freePort, hasCommand } from "../servers/harness.ts";
import { startFtpServer } from "../servers/ftp_server.ts";
import { startS3Server } from "../servers/s3_server.ts";
import { startWebDavServer } from "../servers/webdav_server.ts";
import { type CliResult, escale, fingerprint } from "./cli_helpers.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
/** The command line of `escale init`: the real launcher, as users run it. */
const INIT: string[] = [`${ROOT}/scripts/escale`, "init"];
// A different HOME must not move Deno's cache: the npm packages are found through it.
const DENO_DIR = Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`;
const HAS_TMUX = await hasCommand("tmux");

function baseEnv(home: string): Record<string, string> {
  return {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: home,
    DENO_DIR,
    NO_COLOR: "1",
  };
}

/** `escale init` with no terminal: stdin is /dev/null. */
async function initNoTty(args: string[], home: string): Promise<CliResult> {
  const out = await new Deno.Command(INIT[0], {
    args: [...INIT.slice(1), ...args],
    env: baseEnv(home),
    clearEnv: true,
    cwd: home,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** One program on a private tmux server, driven by keys and read from the screen. */
class Terminal {
  private constructor(readonly socket: string, readonly exitFile: string) {}

  static async start(dir: string, args: string[], home: string): Promise<Terminal> {
    // A private server on a socket inside the test's folder: removing the folder removes it.
    const socket = `${dir}/.tmux-${crypto.randomUUID().slice(0, 8)}`;
    const exitFile = `${socket}.exit`;
    const env = Object.entries(baseEnv(home)).map(([k, v]) => `${k}=${shellQuote(v)}`).join(" ");
    const script = `${socket}.sh`;
    // The pane stays open after the program ends so that its last screen can be read.
    await Deno.writeTextFile(
      script,
      `cd ${shellQuote(home)}\nenv -i ${env} TERM=xterm-256color ${
        [...INIT, ...args].map(shellQuote).join(" ")
      }\necho $? > ${shellQuote(exitFile)}\nsleep 120\n`,
    );
    const t = new Terminal(socket, exitFile);
    await t.tmux("-f", "/dev/null", "new-session", "-d", "-x", "120", "-y", "50", `sh ${script}`);
    return t;
  }

  async tmux(...args: string[]): Promise<string> {
    const out = await new Deno.Command("tmux", {
      args: ["-S", this.socket, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`tmux ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
    }
    return new TextDecoder().decode(out.stdout);
  }

  screen(): Promise<string> {
    return this.tmux("capture-pane", "-p", "-J");
  }

  async waitFor(text: string, timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let screen = "";
    while (Date.now() < deadline) {
      screen = await this.screen();
      if (screen.includes(text)) return screen;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`"${text}" did not appear; the screen is:\n${screen}`);
  }

  /** Waits until the question is the active one, then answers it. */
  async answer(question: string, text: string, ...keys: string[]): Promise<void> {
    await this.waitFor(`◆  ${question}`);
    if (text !== "") await this.tmux("send-keys", "-t", "0", "-l", text);
    for (const k of keys) await this.tmux("send-keys", "-t", "0", k);
  }

  async exitCode(timeoutMs = 60_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const t = await Deno.readTextFile(this.exitFile).catch(() => "");
      if (t.trim() !== "") return Number(t.trim());
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`the program did not end; the screen is:\n${await this.screen()}`);
  }

  async close(): Promise<void> {
    await this.tmux("kill-server").catch(() => {});
  }
}

/**
 * A section as `escale run` sees it, without what depends on which file it came from: the file
 * itself, and how the key file was spelled (relative to one configuration, absolute in another).
 */
function comparable(s: SectionSettings): Record<string, unknown> {
  const { file: _file, passphrase, ...rest } = s;
  return { ...rest, keyFile: passphrase?.file };
}

/** `escale run` through the real launcher, in a test's own HOME. */
function run(args: string[], home: string): Promise<CliResult> {
  return escale(args, { HOME: home, DENO_DIR });
}

async function mode(path: string): Promise<number> {
  return (await Deno.stat(path)).mode! & 0o777;
}

async function tempDir(): Promise<string> {
  return await Deno.realPath(await Deno.makeTempDir({ prefix: "escale-init-" }));
}

Deno.test({
  name: "init: the wizard on a terminal sets up a local-folder relay that syncs on the first run",
  ignore: !HAS_TMUX,
  async fn() {
    const dir = await tempDir();
    const term = await Terminal.start(dir, ["-c", `${dir}/a/escale.conf`], dir);
    try {
      await Deno.mkdir(`${dir}/relay`);
      await term.answer("Section name", "photos", "Enter");
      await term.answer("Local folder to synchronise", `${dir}/local`, "Enter");
      await term.answer(`${dir}/local does not exist. Create it?`, "", "Enter");
      await term.answer("Where is the relay", "", "Enter");
      await term.answer("Relay folder", `${dir}/relay`, "Enter");
      await term.waitFor("is reachable and writable");
      await term.answer("Encrypt everything on the relay?", "", "Enter");
      await term.answer("Encryption key", "", "Enter");
      await term.answer("How should this client synchronise?", "", "Enter");
      await term.answer("How many clients must receive", "", "Enter");
      await term.answer("Seconds between synchronisation rounds", "", "Enter");
      await term.answer("Name of this client on the relay", "laptop", "Enter");
      await term.answer("Add [photos]?", "", "Enter");
      assertEquals(await term.exitCode(), 0, await term.screen());
      const screen = await term.waitFor(`Added [photos] in ${dir}/a/escale.conf`);
      assert(screen.includes(`New key in ${dir}/a/photos.key`), screen);

      const conf = `${dir}/a/escale.conf`;
      assertEquals(await mode(conf), 0o600);
      assertEquals(await mode(`${dir}/a`), 0o700);
      assertEquals(await mode(`${dir}/a/photos.key`), 0o600);
      const cfg = await loadConfig(conf, { env: { HOME: dir } });
      assertEquals(cfg.warnings, []);
      const s = cfg.sections[0];
      assertEquals(
        [s.name, s.clientName, s.localPath, s.relay.protocol, s.relay.directory, s.mode],
        ["photos", "laptop", `${dir}/local`, "file", `${dir}/relay`, "shared"],
      );
      assertEquals([s.encryption, s.passphrase?.file, s.refreshSec], [
        "aead",
        `${dir}/a/photos.key`,
        30,
      ]);
      // The scratch object of the check is gone.
      assertEquals([...Deno.readDirSync(`${dir}/relay`)], []);

      // It syncs as written.
      await Deno.writeTextFile(`${dir}/local/first.txt`, "hello\n");
      const synced = await run(["run", "--once", "-c", conf], dir);
      assertEquals(synced.code, 0, synced.stderr);
      assert(
        [...Deno.readDirSync(`${dir}/relay/commits`)].length > 0,
        "nothing was published on the relay",
      );

      // The same answers as flags, without a terminal, give the same section.
      const flags = await initNoTty([
        ...["-c", `${dir}/b/escale.conf`, "--section", "photos", "--local-path", `${dir}/local`],
        ...["--service", "file", "--relay-path", `${dir}/relay`, "--encryption", "yes"],
        ...["--key-file", `${dir}/a/photos.key`, "--mode", "shared", "--pullers", ""],
        ...["--refresh", "30", "--client-name", "laptop"],
      ], dir);
      assertEquals(flags.code, 0, flags.stderr);
      const again = await loadConfig(`${dir}/b/escale.conf`, { env: { HOME: dir } });
      assertEquals(comparable(again.sections[0]), comparable(s));
    } finally {
      await term.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "init: the wizard on a terminal sets up a WebDAV relay; the password stays hidden",
  ignore: !HAS_TMUX || !(await hasCommand("apache2")),
  async fn() {
    const dir = await tempDir();
    const dav = await startWebDavServer();
    const term = await Terminal.start(dir, ["-c", `${dir}/a/escale.conf`], dir);
    try {
      await term.answer("Section name", "work", "Enter");
      await term.answer("Local folder to synchronise", `${dir}/local`, "Enter");
      await term.answer(`${dir}/local does not exist. Create it?`, "", "Enter");
      await term.answer("Where is the relay", "", "Down", "Down", "Down", "Enter");
      await term.answer("WebDAV address", dav.url, "Enter");
      await term.answer("Folder inside it", "escale", "Enter");
      await term.answer("User name", dav.user, "Enter");
      await term.answer(`Password of ${dav.user}`, dav.password);
      const typed = await term.waitFor("▪".repeat(dav.password.length));
      assert(!typed.includes(dav.password), "the password was shown while typed");
      await term.tmux("send-keys", "-t", "0", "Enter");
      await term.waitFor("is reachable and writable");
      await term.answer("Encrypt everything on the relay?", "n");
      await term.answer("How should this client synchronise?", "", "Down", "Enter");
      await term.answer("How many clients must receive", "2", "Enter");
      await term.answer("Seconds between synchronisation rounds", "15", "Enter");
      await term.answer("Name of this client on the relay", "desk", "Enter");
      await term.answer("Add [work]?", "", "Enter");
      assertEquals(await term.exitCode(), 0, await term.screen());
      const screen = await term.waitFor("Added [work]");
      assert(!screen.includes(dav.password), "the password reached the screen");

      const conf = `${dir}/a/escale.conf`;
      const text = await Deno.readTextFile(conf);
      assert(!text.includes(dav.password), "the password is in the configuration");
      assert(text.includes("secret file = work.credential"), text);
      assertEquals(await mode(`${dir}/a/work.credential`), 0o600);
      assertEquals(
        await Deno.readTextFile(`${dir}/a/work.credential`),
        `${dav.user}:${dav.password}\n`,
      );
      const cfg = await loadConfig(conf, { env: { HOME: dir } });
      assertEquals(cfg.warnings, []);
      const s = cfg.sections[0];
      const port = Number(new URL(dav.url).port);
      assertEquals(
        [s.relay.protocol, s.relay.scheme, s.relay.host, s.relay.port, s.relay.directory],
        ["webdav", "http", "127.0.0.1", port, "/dav/escale"],
      );
      assertEquals([s.relay.user, s.relay.password], [dav.user, dav.password]);
      assertEquals([s.mode, s.pullerCount, s.refreshSec, s.encryption, s.clientName], [
        "upload",
        2,
        15,
        "none",
        "desk",
      ]);
      // The check created the relay folder on the server and left nothing in it.
      assertEquals([...Deno.readDirSync(`${dav.dataDir}/escale`)], []);

      // Flags only: same section, and the password comes from a file, never from argv.
      await Deno.writeTextFile(`${dir}/pw`, dav.password + "\n");
      const flags = await initNoTty([
        ...["-c", `${dir}/b/escale.conf`, "--section", "work", "--local-path", `${dir}/local`],
        ...["--service", "webdav", "--address", dav.url, "--relay-path", "escale"],
        ...["--user", dav.user, "--password-file", `${dir}/pw`, "--encryption", "no"],
        ...["--mode", "upload", "--pullers", "2", "--refresh", "15", "--client-name", "desk"],
      ], dir);
      assertEquals(flags.code, 0, flags.stderr);
      assert(!flags.stdout.includes(dav.password) && !flags.stderr.includes(dav.password));
      const again = await loadConfig(`${dir}/b/escale.conf`, { env: { HOME: dir } });
      assertEquals(comparable(again.sections[0]), comparable(s));

      // It syncs as written.
      await Deno.writeTextFile(`${dir}/local/report.txt`, "quarterly\n");
      const synced = await run(["run", "--once", "-c", conf], dir);
      assertEquals(synced.code, 0, synced.stderr);
      assert([...Deno.readDirSync(`${dav.dataDir}/escale/commits`)].length > 0);
      assert(!(synced.stdout + synced.stderr).includes(dav.password), "run showed the password");
    } finally {
      await term.close();
      await dav.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "init: editing on a terminal offers the current values; Enter everywhere changes nothing",
  ignore: !HAS_TMUX || !(await hasCommand("apache2")),
  async fn() {
    const dir = await tempDir();
    const dav = await startWebDavServer();
    try {
      for (const d of ["docs", "work", "relay"]) await Deno.mkdir(`${dir}/${d}`);
      await Deno.writeTextFile(`${dir}/pw`, dav.password);
      const conf = `${dir}/c/escale.conf`;
      const made = [
        await initNoTty([
          ...["-c", conf, "--section", "docs", "--local-path", `${dir}/docs`, "--service", "file"],
          ...["--relay-path", `${dir}/relay`, "--generate-key", "--yes"],
        ], dir),
        await initNoTty([
          ...["-c", conf, "--section", "work", "--local-path", `${dir}/work`],
          ...["--service", "webdav", "--address", dav.url, "--relay-path", "escale"],
          ...["--user", dav.user, "--password-file", `${dir}/pw`, "--encryption", "no"],
          ...["--mode", "upload", "--pullers", "2", "--refresh", "15", "--client-name", "desk"],
        ], dir),
      ];
      for (const r of made) assertEquals(r.code, 0, r.stderr);
      const text = await Deno.readTextFile(conf);
      const credential = await Deno.readTextFile(`${dir}/c/work.credential`);

      const docs = await Terminal.start(dir, ["-c", conf], dir);
      try {
        await docs.answer("Section name", "docs", "Enter");
        await docs.waitFor("Editing [docs]");
        for (const q of ["Local folder", "Where is the relay", "Relay folder"]) {
          await docs.answer(q, "", "Enter");
        }
        await docs.waitFor("is reachable and writable");
        await docs.answer("Encrypt everything on the relay?", "", "Enter");
        await docs.waitFor(`Keep the current key file ${dir}/c/docs.key`);
        for (const q of ["Encryption key", "How should", "How many", "Seconds", "Name of"]) {
          await docs.answer(q, "", "Enter");
        }
        await docs.answer("Update [docs]?", "", "Enter");
        assertEquals(await docs.exitCode(), 0, await docs.screen());
      } finally {
        await docs.close();
      }
      assertEquals(await Deno.readTextFile(conf), text);

      const work = await Terminal.start(dir, ["-c", conf], dir);
      try {
        await work.answer("Section name", "work", "Enter");
        for (const q of ["Local folder", "Where is the relay", "WebDAV address", "Folder inside"]) {
          await work.answer(q, "", "Enter");
        }
        await work.answer("User name", "", "Enter");
        await work.answer(`Password of ${dav.user} (empty: keep the current one)`, "", "Enter");
        await work.waitFor("is reachable and writable");
        for (const q of ["Encrypt everything", "How should", "How many", "Seconds", "Name of"]) {
          await work.answer(q, "", "Enter");
        }
        await work.answer("Update [work]?", "", "Enter");
        assertEquals(await work.exitCode(), 0, await work.screen());
        assert(!(await work.screen()).includes(dav.password), "the password reached the screen");
      } finally {
        await work.close();
      }
      assertEquals(await Deno.readTextFile(conf), text);
      assertEquals(await Deno.readTextFile(`${dir}/c/work.credential`), credential);
      assertEquals(await mode(`${dir}/c/work.credential`), 0o600);
    } finally {
      await dav.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "init: a WebDAV section written with flags syncs on the first run",
  ignore: !(await hasCommand("apache2")),
  async fn() {
    const dir = await tempDir();
    const dav = await startWebDavServer();
    try {
      await Deno.writeTextFile(`${dir}/pw`, dav.password);
      const r = await initNoTty([
        ...["-c", `${dir}/escale.conf`, "--section", "w", "--local-path", `${dir}/local`],
        ...["--service", "webdav", "--address", dav.url, "--relay-path", "r", "--user", dav.user],
        ...["--password-file", `${dir}/pw`, "--generate-key", "--yes"],
      ], dir);
      assertEquals(r.code, 0, r.stderr);
      await Deno.writeTextFile(`${dir}/local/a.txt`, "over webdav\n");
      const synced = await run(["run", "--once", "-c", `${dir}/escale.conf`], dir);
      assertEquals(synced.code, 0, synced.stderr);
      assert([...Deno.readDirSync(`${dav.dataDir}/r/commits`)].length > 0);
    } finally {
      await dav.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "init: FTP and S3 sections written with flags sync on the first run",
  ignore: !(await hasCommand("proftpd")) || !(await hasCommand("moto_server")),
  async fn() {
    const dir = await tempDir();
    const ftp = await startFtpServer();
    const s3 = await startS3Server();
    try {
      await Deno.writeTextFile(`${dir}/ftp-pw`, ftp.password);
      await Deno.writeTextFile(`${dir}/s3-secret`, s3.secretAccessKey);
      const made = [
        await initNoTty([
          ...["-c", `${dir}/escale.conf`, "--section", "f", "--local-path", `${dir}/f`],
          ...["--service", "ftp", "--address", `${ftp.host}:${ftp.port}`, "--relay-path", "r"],
          ...["--user", ftp.user, "--password-file", `${dir}/ftp-pw`, "--encryption", "no"],
          "--yes",
        ], dir),
        await initNoTty([
          ...["-c", `${dir}/escale.conf`, "--section", "s", "--local-path", `${dir}/s`],
          ...["--service", "s3", "--address", `${s3.endpoint}/${s3.bucket}`, "--relay-path", "p"],
          ...["--user", s3.accessKeyId, "--password-file", `${dir}/s3-secret`, "--yes"],
          "--generate-key",
        ], dir),
      ];
      for (const r of made) assertEquals(r.code, 0, r.stderr);
      const text = await Deno.readTextFile(`${dir}/escale.conf`);
      assert(!text.includes(ftp.password) && !text.includes(s3.secretAccessKey), text);
      const cfg = await loadConfig(`${dir}/escale.conf`, { env: { HOME: dir } });
      const [f, s] = cfg.sections;
      assertEquals([f.relay.protocol, f.relay.port, f.relay.directory, f.relay.password], [
        "ftp",
        ftp.port,
        "r",
        ftp.password,
      ]);
      assertEquals([s.relay.protocol, s.relay.endpoint, s.relay.bucket, s.relay.directory], [
        "s3",
        s3.endpoint,
        s3.bucket,
        "p",
      ]);
      assertEquals([s.relay.user, s.relay.password], [s3.accessKeyId, s3.secretAccessKey]);
      await Deno.writeTextFile(`${dir}/f/over-ftp.txt`, "ftp\n");
      await Deno.writeTextFile(`${dir}/s/over-s3.txt`, "s3\n");
      const synced = await run(["run", "--once", "-c", `${dir}/escale.conf`], dir);
      assertEquals(synced.code, 0, synced.stderr);
      assert([...Deno.readDirSync(`${ftp.dataDir}/r/commits`)].length > 0);
      const said = synced.stdout + synced.stderr;
      assertEquals(said.match(/sent 1 file/g)?.length, 2, said);
    } finally {
      await s3.stop();
      await ftp.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("init: without a terminal, a missing answer names its flag and nothing is written", async () => {
  const dir = await tempDir();
  try {
    await Deno.mkdir(`${dir}/relay`);
    await Deno.mkdir(`${dir}/local`);
    const before = await fingerprint(dir);
    const conf = ["-c", `${dir}/c/escale.conf`];
    const cases: [string[], string][] = [
      [[], "--section NAME"],
      [["--section", "s"], "--local-path DIR"],
      [["--section", "s", "--local-path", `${dir}/new`, "--service", "file"], "--yes"],
      [["--section", "s", "--local-path", `${dir}/local`], "--service"],
      [["--section", "s", "--local-path", `${dir}/local`, "--service", "file"], "--relay-path DIR"],
      [
        [
          ...["--section", "s", "--local-path", `${dir}/local`, "--service", "webdav"],
          ...["--address", "http://127.0.0.1:9/dav/", "--user", "u", "--yes"],
        ],
        "--password-file FILE",
      ],
      [
        ["--section", "s", "--local-path", `${dir}/local`, "--service", "file"].concat(
          ["--relay-path", `${dir}/relay`, "--encryption", "no"],
        ),
        "--mode MODE",
      ],
    ];
    for (const [args, flag] of cases) {
      const r = await initNoTty([...conf, ...args], dir);
      assertEquals(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      const lines = r.stderr.trimEnd().split("\n");
      assertEquals(lines.length, 1, r.stderr);
      assert(lines[0].startsWith("escale: no terminal to ask for "), lines[0]);
      assert(lines[0].includes(`pass ${flag}`), `${flag} not named in: ${lines[0]}`);
      assertEquals(await fingerprint(dir), before, `${args.join(" ")} wrote something`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "init: Ctrl-C at a prompt exits 130 and undoes what the check created",
  ignore: !HAS_TMUX,
  async fn() {
    const dir = await tempDir();
    const before = await fingerprint(dir);
    const term = await Terminal.start(dir, ["-c", `${dir}/c/escale.conf`], dir);
    try {
      await term.answer("Section name", "s", "Enter");
      await term.answer("Local folder to synchronise", dir + "/local", "Enter");
      await term.answer(`${dir}/local does not exist. Create it?`, "", "Enter");
      await term.answer("Where is the relay", "", "Enter");
      await term.answer("Relay folder", `${dir}/relay/deep`, "Enter");
      await term.answer(`${dir}/relay/deep does not exist. Create it?`, "", "Enter");
      await term.waitFor("is reachable and writable");
      // The check needed the relay folder, so it exists while the questions go on.
      assert((await Deno.stat(`${dir}/relay/deep`)).isDirectory);
      await term.answer("Encrypt everything on the relay?", "", "C-c");
      assertEquals(await term.exitCode(), 130, await term.screen());
      const after = (await fingerprint(dir)).split("\n").filter((l) => !l.includes("/."));
      assertEquals(after.join("\n"), before);
      for (const p of ["relay", "local", "c"]) {
        assert(!(await Deno.stat(`${dir}/${p}`).catch(() => null)), `${p} was left behind`);
      }
    } finally {
      await term.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("init: editing a section keeps comments, other sections and unrelated keys", async () => {
  const dir = await tempDir();
  try {
    for (const d of ["one", "two", "relay"]) await Deno.mkdir(`${dir}/${d}`);
    const conf = `${dir}/escale.conf`;
    const original = `# my escale setup
log level = info

# the first folder
[one]
local path = ${dir}/one
relay path = ${dir}/relay
# skip editor leftovers
exclude = *.swp
mode = upload

# the second folder
[two]
local path = ${dir}/two
relay path = ${dir}/relay
mode = download
`;
    await Deno.writeTextFile(conf, original);
    const r = await initNoTty([
      ...["-c", conf, "--section", "one", "--mode", "shared", "--refresh", "12"],
      ...["--encryption", "no", "--client-name", "one-client", "--yes"],
    ], dir);
    assertEquals(r.code, 0, r.stderr);
    assert(r.stdout.includes(`Updated [one] in ${conf}`), r.stdout);
    const text = await Deno.readTextFile(conf);
    assertEquals(
      text,
      `# my escale setup
log level = info

# the first folder
[one]
local path = ${dir}/one
host directory = ${dir}/relay
# skip editor leftovers
exclude = *.swp
mode = shared
client name = one-client
protocol = file
encryption = no
refresh = 12

# the second folder
[two]
local path = ${dir}/two
relay path = ${dir}/relay
mode = download
`,
    );
    const cfg = await loadConfig(conf, { env: { HOME: dir } });
    assertEquals(cfg.sections.map((s) => [s.name, s.mode, s.filters.exclude]), [
      ["one", "shared", ["*.swp"]],
      ["two", "download", []],
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "init: a relay that cannot be reached or refuses the login stops before any write",
  ignore: !(await hasCommand("apache2")),
  async fn() {
    const dir = await tempDir();
    const dav = await startWebDavServer();
    try {
      await Deno.mkdir(`${dir}/local`);
      const secret = `wrong-${crypto.randomUUID()}`;
      await Deno.writeTextFile(`${dir}/pw`, secret);
      const before = await fingerprint(dir);
      const common = [
        ...["-c", `${dir}/c/escale.conf`, "--section", "s", "--local-path", `${dir}/local`],
        ...["--service", "webdav", "--user", dav.user, "--password-file", `${dir}/pw`, "--yes"],
      ];
      const down = await initNoTty(
        [...common, "--address", `http://127.0.0.1:${freePort()}/dav/`],
        dir,
      );
      assertEquals(down.code, 3, down.stderr);
      const refused = await initNoTty([...common, "--address", dav.url], dir);
      assertEquals(refused.code, 4, refused.stderr);
      for (const r of [down, refused]) {
        assertEquals(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
        assert(r.stderr.startsWith("escale: relay check failed"), r.stderr);
        assert(!r.stderr.includes(secret) && !r.stdout.includes(secret), "password shown");
      }
      assertEquals(await fingerprint(dir), before);
    } finally {
      await dav.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("init: a second client of an encrypted relay must bring the relay's key", async () => {
  const dir = await tempDir();
  try {
    for (const d of ["a", "b", "relay"]) await Deno.mkdir(`${dir}/${d}`);
    const first = await initNoTty([
      ...["-c", `${dir}/one/escale.conf`, "--section", "a", "--local-path", `${dir}/a`],
      ...["--service", "file", "--relay-path", `${dir}/relay`, "--generate-key", "--yes"],
    ], dir);
    assertEquals(first.code, 0, first.stderr);
    await Deno.writeTextFile(`${dir}/a/f.txt`, "x");
    const synced = await run(["run", "--once", "-c", `${dir}/one/escale.conf`], dir);
    assertEquals(synced.code, 0, synced.stderr);
    await Deno.writeTextFile(`${dir}/other.key`, "not the key\n");

    const before = await fingerprint(dir);
    const second = [
      ...["-c", `${dir}/two/escale.conf`, "--section", "b", "--local-path", `${dir}/b`],
      ...["--service", "file", "--relay-path", `${dir}/relay`, "--yes"],
    ];
    const fresh = await initNoTty([...second, "--generate-key"], dir);
    assertEquals(fresh.code, 5, fresh.stderr);
    assert(fresh.stderr.includes("pass --key-file"), fresh.stderr);
    const plain = await initNoTty([...second, "--encryption", "no"], dir);
    assertEquals(plain.code, 5, plain.stderr);
    const wrong = await initNoTty([...second, "--key-file", `${dir}/other.key`], dir);
    assertEquals(wrong.code, 5, wrong.stderr);
    assert(wrong.stderr.includes("is not the key of the relay"), wrong.stderr);
    const withoutKey = await initNoTty(second, dir);
    assertEquals(withoutKey.code, 2, withoutKey.stderr);
    assert(withoutKey.stderr.includes("pass --key-file FILE"), withoutKey.stderr);
    assertEquals(await fingerprint(dir), before);

    const right = await initNoTty([...second, "--key-file", `${dir}/one/a.key`], dir);
    assertEquals(right.code, 0, right.stderr);
    const pull = await run(["run", "--once", "-c", `${dir}/two/escale.conf`], dir);
    assertEquals(pull.code, 0, pull.stderr);
    assertEquals(await Deno.readTextFile(`${dir}/b/f.txt`), "x");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "init: without -c, the configuration goes to ~/.config/escale/escale.conf, 0600",
  // With a system-wide file, init would rightly edit that one instead.
  ignore: (await Deno.stat("/etc/escale.conf").catch(() => null)) !== null,
  async fn() {
    const dir = await tempDir();
    try {
      await Deno.mkdir(`${dir}/relay`);
      const r = await initNoTty([
        ...["--section", "home", "--local-path", "~/docs", "--service", "file"],
        ...["--relay-path", "relay", "--encryption", "no", "--yes"],
      ], dir);
      assertEquals(r.code, 0, r.stderr);
      const conf = `${dir}/.config/escale/escale.conf`;
      assertEquals(await mode(conf), 0o600);
      assertEquals(await mode(`${dir}/.config/escale`), 0o700);
      const s = (await loadConfig(conf, { env: { HOME: dir } })).sections[0];
      // `~` and a relative path are taken as a shell would: from HOME and the working folder.
      assertEquals([s.localPath, s.relay.directory], [`${dir}/docs`, `${dir}/relay`]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
