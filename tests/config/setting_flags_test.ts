// Settings given as flags and environment variables go through the one configuration loader:
// without a file they make the same settings as a file with the same lines, over a file they
// replace its values (whatever alias it used), and their errors name the flag or variable.
import { loadConfig } from "../../src/config/load_config.ts";
import { collectOverrides, RESERVED_ENV, SETTING_FLAGS } from "../../src/config/setting_flags.ts";
import type { SectionSettings } from "../../src/config/settings.ts";
import { assert, assertConfigError, assertEquals } from "../assert.ts";
import { withScratch } from "./helpers.ts";

/** The settings that do not say where they came from. */
function comparable(s: SectionSettings): Record<string, unknown> {
  const { file: _f, line: _l, where: _w, name: _n, options, ...rest } = s;
  return { ...rest, options: Object.fromEntries(Object.entries(options).sort()) };
}

const overridesOf = (flags: Record<string, string | true>, env: Record<string, string> = {}) =>
  collectOverrides((f) => flags[f.flag], (n) => env[n]);

Deno.test("flags without a file make the settings a file with the same lines makes", async () => {
  await withScratch(async (s) => {
    await Deno.writeTextFile(`${s.dir}/key`, "k".repeat(40), { mode: 0o600 });
    const fromFile = await s.load([
      "[escale]",
      `local path = ${s.local}`,
      `host address = ${s.relay}`,
      "mode = upload",
      "client name = ci",
      "refresh = no",
      "exclude = *.tmp, *.log",
      "hidden files = yes",
      `passphrase = ${s.dir}/key`,
      "chunk size = 1MB",
    ].join("\n"));
    const fromFlags = await loadConfig(null, {
      env: { HOME: s.dir },
      hostname: "testhost",
      cwd: s.dir,
      overrides: overridesOf({
        local: "local",
        relay: s.relay,
        mode: "upload",
        "client-name": "ci",
        "hidden-files": true,
        "passphrase-file": "key",
      }, { ESCALE_REFRESH: "no", ESCALE_EXCLUDE: "*.tmp, *.log", ESCALE_CHUNK_SIZE: "1MB" }),
    });
    assertEquals(fromFlags.fileless, true, "fileless");
    assertEquals(fromFlags.sections.length, 1, "one repository");
    assertEquals(comparable(fromFlags.sections[0]), comparable(fromFile.sections[0]), "settings");
    assertEquals(fromFlags.sections[0].oneRound, true, "refresh = no is one round");
  });
});

Deno.test("a flag beats its variable, which beats the file, whatever alias the file uses", async () => {
  await withScratch(async (s) => {
    const text = [
      `path = ${s.local}`,
      "[A]",
      `remote path = ${s.relay}`,
      "synchronization mode = download",
      "client = from-file",
      "refresh = 5",
    ].join("\n");
    const cfg = await s.load(text, {
      overrides: overridesOf({ mode: "upload" }, {
        ESCALE_MODE: "shared",
        ESCALE_CLIENT_NAME: "from-env",
      }),
    });
    const [a] = cfg.sections;
    assertEquals([a.mode, a.clientName, a.refreshSec], ["upload", "from-env", 5], "winners");
    assertEquals(cfg.fileless, undefined, "a file was read");
  });
});

Deno.test("override errors name the flag or variable, never a file line", async () => {
  await withScratch(async (s) => {
    const text = `[A]\nlocal path = ${s.local}\nrelay path = ${s.relay}\n`;
    const bad = async (flags: Record<string, string>, env: Record<string, string>, msg: string) => {
      const e = await assertConfigError(
        () => s.load(text, { overrides: overridesOf(flags, env) }),
        {},
      );
      assertEquals(e.message, msg, "message");
    };
    await bad({ port: "99999" }, {}, "'--port' must be ≤ 65535 (got '99999')");
    await bad(
      {},
      { ESCALE_LOCAL: `${s.dir}/nope` },
      `ESCALE_LOCAL: local path ${s.dir}/nope does not exist`,
    );
    await bad(
      { relay: "ftp://[bad" },
      {},
      "'--relay' cannot be read as protocol://server[:port][/path]",
    );
    await bad(
      { "password-file": `${s.dir}/missing` },
      {},
      `--password-file: ${s.dir}/missing is not an existing file`,
    );
    // Two sections and a section setting: which one would it change?
    await assertConfigError(
      () =>
        s.load(text + `[B]\nlocal path = ${s.local}\nrelay path = ${s.relay}\n`, {
          overrides: overridesOf({ mode: "upload" }),
        }),
      { includes: "--mode would apply to 2 repositories (A, B); choose one with -r" },
    );
    // Without a file: what is missing is asked for by its flag.
    const none = await assertConfigError(
      () => loadConfig(null, { env: {}, overrides: overridesOf({ relay: s.relay }) }),
      {},
    );
    assertEquals(none.message, "no folder to synchronise: give --local DIR (or ESCALE_LOCAL)");
  });
});

Deno.test("a secret from the environment is taken as given, '%' and all", async () => {
  await withScratch(async (s) => {
    const cfg = await loadConfig(null, {
      env: { HOME: s.dir },
      cwd: s.dir,
      overrides: overridesOf({ local: s.local, relay: s.relay }, {
        ESCALE_PASSPHRASE: "50%(x)s off %%",
      }),
    });
    const [a] = cfg.sections;
    assertEquals([a.encryption, a.passphrase?.value], ["aead", "50%(x)s off %%"], "passphrase");
    assert(!JSON.stringify(a.options).includes("50%"), "the secret is not among the options");
  });
});

Deno.test("every option has a flag and a variable; none takes a name escale reads itself", () => {
  const envs = SETTING_FLAGS.flatMap((f) => [f.env, ...(f.envFile ? [f.envFile] : [])]);
  assertEquals(new Set(envs).size, envs.length, "variables are unique");
  const flags = SETTING_FLAGS.map((f) => f.flag);
  assertEquals(new Set(flags).size, flags.length, "flags are unique");
  for (const r of RESERVED_ENV) assert(!envs.includes(r), `${r} is reserved`);
  for (const f of SETTING_FLAGS.filter((f) => f.spec.secret)) {
    assert(f.flag.endsWith("-file"), `secret ${f.spec.key} is given as a file`);
  }
  for (const taken of ["timeout", "config", "once", "json", "summary", "repository", "force"]) {
    assert(!flags.includes(taken), `--${taken} belongs to run`);
  }
});

Deno.test("a password inside --relay is refused; in ESCALE_RELAY or a file it is taken", async () => {
  await withScratch(async (s) => {
    const load = (flags: Record<string, string>, env: Record<string, string> = {}) =>
      loadConfig(null, {
        env: { HOME: s.dir },
        cwd: s.dir,
        overrides: overridesOf({ local: s.local, ...flags }, env),
      });
    const refused = async (relay: string, message: string, secret: string) => {
      const e = await assertConfigError(() => load({ relay }), {});
      assertEquals(e.message, message, relay);
      assert(!e.message.includes(secret), "the message does not show the secret");
    };
    const url =
      "'--relay' holds a password, and every user of this machine can read a command line: give " +
      "the password in ESCALE_PASSWORD or a file named by --password-file (or the whole address " +
      "in ESCALE_RELAY)";
    await refused("ftp://ci:Sekr3tPW@127.0.0.1:1/builds", url, "Sekr3tPW");
    await refused("https://ci:Sekr3t%2FPW@dav.example.org/builds", url, "Sekr3t");
    const rclone = (params: string) =>
      `'--relay' holds a credential (${params}), and every user of this machine can read a ` +
      "command line: give the connection string in ESCALE_RELAY, or define the remote in an " +
      "rclone configuration file (--rclone-config)";
    await refused(
      ":webdav,url='http://h/dav',user=ci,pass=0bScUrEd:builds",
      rclone("pass"),
      "0bSc",
    );
    await refused(
      ":s3,provider=AWS,access_key_id=AKIA1,secret_access_key=Zz9Secret,Session-Token=T0k:b",
      rclone("secret_access_key, Session-Token"),
      "Zz9Secret",
    );
    await refused(":webdav,url='https://ci:Pw77@h/dav':x", rclone("url"), "Pw77");

    // Nothing secret: a user name, rclone's yes/no and path parameters, an empty password.
    for (
      const relay of [
        "ftp://ci@127.0.0.1:1/builds",
        "ftp://ci:@127.0.0.1:1/builds",
        ":s3,provider=AWS,env_auth=true:bucket/builds",
        ":sftp,host=h,user=ci,key_file=/etc/ci.key:builds",
        ":webdav,url='http://h/dav',user=ci:builds",
      ]
    ) {
      const protocol = relay.startsWith(":") ? "rclone" : "ftp";
      const cfg = await load({ relay, protocol });
      assertEquals(cfg.sections[0].relay.protocol, protocol, relay);
    }
    // The environment is the process's own: the same addresses are taken from it.
    const fromEnv = await load({}, { ESCALE_RELAY: "ftp://ci:Sekr3tPW@127.0.0.1:1/builds" });
    assertEquals(fromEnv.sections[0].relay.password, "Sekr3tPW", "ESCALE_RELAY");
    const rcloneEnv = await load({ protocol: "rclone" }, {
      ESCALE_RELAY: ":webdav,url='http://h/dav',pass=x:b",
    });
    assertEquals(rcloneEnv.sections[0].relay.protocol, "rclone", "ESCALE_RELAY, rclone");
    // And from a file, even with other flags on top.
    const fromFile = await s.load(
      `[A]\nlocal path = ${s.local}\nhost address = ftp://ci:Sekr3tPW@127.0.0.1:1/builds\n`,
      { overrides: overridesOf({ mode: "upload" }) },
    );
    assertEquals(fromFile.sections[0].relay.password, "Sekr3tPW", "file");
  });
});
