// The Deno permission set of src/cli/permissions.json (scripts/escale, the bundle, the compiled
// binaries): narrow (no --allow-all, no ffi, named variables, programs and system calls), enough
// for every command, and refusing what escale has no business with.
import { assert, assertEquals } from "../assert.ts";
import { conf, escale } from "./cli_helpers.ts";
import { DENO_PERMISSIONS } from "../../src/cli/permissions.ts";
import { RESERVED_ENV, settingEnvNames } from "../../src/config/setting_flags.ts";
import { CONFIG_ENV } from "../../src/util/env.ts";
import { DIRECT_PROGRAMS } from "../../src/util/spawn.ts";
import { recordingRclone } from "./escale_process.ts";

const root = new URL("../../", import.meta.url).pathname;
const deno = `${root}tools/node_modules/.bin/deno`;

/** Runs `code` as a module under the permission set; returns what it printed. */
async function underTheSet(code: string, env: Record<string, string> = {}): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "escale-perms-" });
  try {
    await Deno.writeTextFile(`${dir}/probe.ts`, code);
    const out = await new Deno.Command(deno, {
      args: ["run", "--quiet", "--no-prompt", ...DENO_PERMISSIONS, `${dir}/probe.ts`],
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    return new TextDecoder().decode(out.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("permissions: the set is narrow", () => {
  for (const f of DENO_PERMISSIONS) {
    assert(!/^--allow-(all|ffi|import)|^-A$/.test(f), `${f} is not needed`);
    if (/^--allow-(env|run|sys)/.test(f)) assert(f.includes("="), `${f} must name what it allows`);
  }
  // The programs the set allows are the ones src/util/spawn.ts starts directly.
  const run = DENO_PERMISSIONS.find((f) => f.startsWith("--allow-run="))!;
  assertEquals(run.slice("--allow-run=".length).split(",").sort(), [...DIRECT_PROGRAMS].sort());
});

Deno.test("permissions: every variable escale reads is allowed, an unrelated one is refused", async () => {
  const wanted = [...settingEnvNames(), ...RESERVED_ENV, ...CONFIG_ENV, "NO_COLOR", "TERM"];
  const out = await underTheSet(
    `
    const names = ${JSON.stringify(wanted)};
    const refused = [];
    for (const n of names) {
      if (Deno.permissions.querySync({ name: "env", variable: n }).state !== "granted") refused.push(n);
    }
    console.log("refused:" + refused.join(","));
    for (const n of ["PATH", "SECRET_TOKEN", "GITHUB_TOKEN", "SSH_AUTH_SOCK"]) {
      try {
        Deno.env.get(n);
        console.log("read " + n);
      } catch (e) {
        console.log("denied " + n + " " + e.name);
      }
    }
    try {
      new Deno.Command("ls").outputSync();
      console.log("ran ls");
    } catch (e) {
      console.log("denied ls " + e.name);
    }
    try {
      Deno.osUptime();
      console.log("read uptime");
    } catch (e) {
      console.log("denied uptime " + e.name);
    }
  `,
    { PATH: "/usr/bin:/bin", SECRET_TOKEN: "t0ken", GITHUB_TOKEN: "g" },
  );
  assert(out.includes("refused:\n"), out);
  for (const n of ["PATH", "SECRET_TOKEN", "GITHUB_TOKEN", "SSH_AUTH_SOCK"]) {
    assert(out.includes(`denied ${n} NotCapable`), out);
  }
  assert(out.includes("denied ls NotCapable"), out);
  assert(out.includes("denied uptime NotCapable"), out);
});

Deno.test("permissions: every command works under the set (scripts/escale runs with it)", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "escale-perms-" }));
  const env = { HOME: dir };
  const ok = async (args: string[], e: Record<string, string> = env) => {
    const r = await escale(args, e);
    assertEquals(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    // A refused permission surfaces as NotCapable in an internal error.
    assert(!/NotCapable|Requires \w+ access/.test(r.stdout + r.stderr), r.stderr);
    return r;
  };
  try {
    for (const d of ["A", "B", "relay"]) await Deno.mkdir(`${dir}/${d}`);
    await Deno.writeTextFile(`${dir}/A/a.txt`, "a");
    await ok(["--help"]);
    await ok(["--version"]);
    await ok(["completions", "zsh"]);
    await ok(["ctl", "keygen", `${dir}/k.key`]);
    const cfg = `${dir}/a.conf`;
    await ok([
      "init",
      "--yes",
      "-c",
      cfg,
      "--section",
      "A",
      "--local-path",
      `${dir}/A`,
      "--service",
      "file",
      "--relay-path",
      `${dir}/relay`,
      "--key-file",
      `${dir}/k.key`,
    ]);
    await ok(["run", "--once", "-c", cfg]);
    await ok(["ctl", "status", "-c", cfg, "--json"]);
    await ok(["ctl", "access", "-c", cfg, `${dir}/A/a.txt`, "r-"]);
    await ok(["ctl", "test-relay", "-c", cfg]);
    await ok(["ctl", "start", "-c", cfg]);
    await ok(["ctl", "stop", "-c", cfg]);
    await ok([
      "run",
      "--once",
      "--local",
      `${dir}/B`,
      "--relay",
      `${dir}/relay`,
      "--client-name",
      "B",
    ], { ...env, ESCALE_PASSPHRASE_FILE: `${dir}/k.key` });
    await ok(["ctl", "evict", "-c", cfg, "B"]);
    // Programs the user names start through env: a hook, and an rclone binary of their own.
    const rclone = await recordingRclone(dir);
    await conf(
      `${dir}/r.conf`,
      `[R]\nclient = R\nlocal path = ${dir}/B\nprotocol = rclone\nhost address = :local:${dir}/relay-r\nrclone binary = ${rclone.binary}\non failure = /bin/sh -c 'echo hooked > ${dir}/hook.out'\n`,
    );
    await Deno.mkdir(`${dir}/relay-r`);
    await ok(["run", "--once", "-c", `${dir}/r.conf`], { ...env, RCLONE_CONFIG: "/dev/null" });
    assert((await Deno.readTextFile(rclone.pids)).trim() !== "", "the rclone binary ran");
    // A relay below a file cannot work: the round fails and the hook runs.
    const text = await Deno.readTextFile(`${dir}/r.conf`);
    await Deno.writeTextFile(`${dir}/r.conf`, text.replace(`${dir}/relay-r`, `${dir}/A/a.txt/r`));
    const failed = await escale(["run", "--once", "-c", `${dir}/r.conf`], env);
    assert(failed.code !== 0, "the round fails");
    assert(!/NotCapable|Requires \w+ access/.test(failed.stderr), failed.stderr);
    assertEquals((await Deno.readTextFile(`${dir}/hook.out`)).trim(), "hooked");
  } finally {
    await escale(["ctl", "stop", "-c", `${dir}/a.conf`], env).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
