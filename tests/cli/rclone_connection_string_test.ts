// rclone connection-string remotes in `host address` (`:local:/path`,
// `:webdav,url='http://…',user=…,pass=OBSCURED:path`) sync through the real CLI, and no part of
// the string that could let someone in (the whole string, the obscured password, which
// `rclone reveal` turns back into the password) reaches any output: stderr, stdout (--json),
// the log, error.log, status files, the failure hook's ESCALE_ERROR, the maintainer's mail, or
// the arguments of the rclone processes.
import { assert, assertEquals } from "../assert.ts";
import { readTree } from "../engine/sandbox.ts";
import { SmtpServer } from "../log/smtp_server.ts";
import { run } from "../servers/harness.ts";
import { startWebDavServer } from "../servers/webdav_server.ts";
import { conf, escale } from "./cli_helpers.ts";
import { killAll, recordingRclone, runningPids } from "./escale_process.ts";

const NO_CONFIG = { RCLONE_CONFIG: "/dev/null" };

async function obscure(password: string): Promise<string> {
  return (await run("rclone", ["obscure", "-"], { stdin: password, env: NO_CONFIG })).trim();
}

/** Every regular file under a folder, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else if (e.isFile) out.push(p);
    }
  };
  await walk(dir).catch(() => {});
  return out;
}

Deno.test("cli rclone: connection strings sync, and none of their secrets reaches any output", async () => {
  const dav = await startWebDavServer();
  const smtp = new SmtpServer();
  const dir = await Deno.makeTempDir({ prefix: "escale-rclone-cs-" });
  const { binary, pids, args } = await recordingRclone(dir);
  const dead = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const deadPort = (dead.addr as Deno.NetAddr).port;
  dead.close();
  try {
    for (const d of ["A", "A2", "A3", "A4", "B", "B2", "relay"]) await Deno.mkdir(`${dir}/${d}`);
    const good = await obscure(dav.password);
    const wrongPassword = "Not-The-Dav-Password-42";
    const wrong = await obscure(wrongPassword);
    const downPassword = "Unused-Down-Password-77";
    const down = await obscure(downPassword);
    const goodRemote = `:webdav,url='${dav.url}',vendor=other,user=${dav.user},pass=${good}`;
    const wrongRemote = `:webdav,url='${dav.url}',user=${dav.user},pass='${wrong}'`;
    const downRemote = `:webdav,url='http://127.0.0.1:${deadPort}/dav',user=u,pass=${down}`;
    const common = `protocol = rclone
      rclone binary = ${binary}
      maintainer = ops@example.org
      smtp host = 127.0.0.1
      smtp port = ${smtp.port}
      on failure = /bin/sh -c 'printf "%s\\n" "$ESCALE_ERROR" >> ${dir}/hook.out'
      `;
    await conf(
      `${dir}/A.conf`,
      `[local]
      client = A
      local path = ${dir}/A
      host address = :local:${dir}/relay
      ${common}
      [dav]
      client = A
      local path = ${dir}/A2
      host address = ${goodRemote}:r
      ${common}
      [dav-wrong]
      client = A
      local path = ${dir}/A3
      host address = ${wrongRemote}:w
      ${common}
      [dav-down]
      client = A
      local path = ${dir}/A4
      host address = ${downRemote}:d
      timeout = 5
      max retries = 0
      ${common}
      `,
    );
    await Deno.chmod(`${dir}/A.conf`, 0o600);
    await conf(
      `${dir}/B.conf`,
      `[local]
      client = B
      local path = ${dir}/B
      host address = :local:${dir}/relay
      ${common}
      [dav]
      client = B
      local path = ${dir}/B2
      host address = ${goodRemote}:r
      ${common}
      `,
    );
    await Deno.chmod(`${dir}/B.conf`, 0o600);
    await Deno.writeTextFile(`${dir}/A/local.txt`, "through :local:\n");
    await Deno.writeTextFile(`${dir}/A2/dav.txt`, "through :webdav,…\n");

    const outputs: [string, string][] = [];
    for (const flags of [[], ["-v"], ["--json"]]) {
      const r = await escale(["run", "--once", ...flags, "-c", `${dir}/A.conf`], NO_CONFIG);
      const what = `A: run --once ${flags.join(" ")}`;
      // One section fails with 4 (wrong password), one with 3 (server down): 1 overall.
      assertEquals(r.code, 1, `${what}: ${r.stdout}${r.stderr}`);
      if (flags[0] !== "--json") {
        assert(/\[dav-wrong\].*error/.test(r.stderr), `${what}: ${r.stderr}`);
        assert(/\[dav-down\].*error/.test(r.stderr), `${what}: ${r.stderr}`);
        assert(!/\[(local|dav)\].*error/.test(r.stderr), `${what}: ${r.stderr}`);
      }
      outputs.push([`${what} stdout`, r.stdout], [`${what} stderr`, r.stderr]);
    }
    const b = await escale(["run", "--once", "-c", `${dir}/B.conf`], NO_CONFIG);
    assertEquals(b.code, 0, b.stderr);
    outputs.push(["B stderr", b.stderr]);
    assertEquals(await readTree(`${dir}/B`), { "local.txt": "through :local:\n" });
    assertEquals(await readTree(`${dir}/B2`), { "dav.txt": "through :webdav,…\n" });
    assert((await filesUnder(`${dav.dataDir}/r`)).length > 0, "nothing on the WebDAV server");

    const hook = await Deno.readTextFile(`${dir}/hook.out`);
    assert(/dav-wrong|webdav/.test(hook) && hook.trim().split("\n").length >= 2, hook);
    outputs.push(["ESCALE_ERROR", hook]);
    assert(smtp.sessions.length >= 2, `${smtp.sessions.length} mails`);
    smtp.sessions.forEach((s, i) => {
      outputs.push([`mail ${i}`, s.data.join("\n")], [
        `mail ${i} body`,
        SmtpServer.message(s).body,
      ]);
    });
    outputs.push(["rclone arguments", await Deno.readTextFile(args)]);
    const files = [
      `${dir}/A.log`,
      `${dir}/B.log`,
      `${dir}/error.log`,
      ...await filesUnder(`${dir}/.escale`),
    ];
    assert(files.some((f) => f.endsWith(".status.json")), files.join());
    for (const f of files) outputs.push([f, await Deno.readTextFile(f).catch(() => "")]);
    assert(outputs.some(([, t]) => t.includes("dav-down")), "no output names the failures");

    const secrets = [
      goodRemote,
      wrongRemote,
      downRemote,
      good,
      wrong,
      down,
      dav.password,
      wrongPassword,
      downPassword,
    ];
    for (const s of secrets) {
      for (const [name, text] of outputs) {
        assert(!text.includes(s), `a secret (${s.slice(0, 12)}…) appears in ${name}:\n${text}`);
      }
    }
    const left = await runningPids(pids);
    killAll(left);
    assertEquals(left, [], "rclone processes left running");
  } finally {
    killAll(await runningPids(pids));
    await smtp.close();
    await dav.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
