// Full A→B sync through real servers, configured as users do (config file, secret file, CA
// file), with the command line: WebDAV over HTTP and HTTPS (Apache), S3 (moto). Also runs
// `escale ctl test-relay` against each, and checks that no secret reaches any output.
import { assert, assertEquals } from "../assert.ts";
import { conf, escale } from "./cli_helpers.ts";
import { readTree } from "../engine/sandbox.ts";
import { startWebDavServer } from "../servers/webdav_server.ts";
import { startS3Server } from "../servers/s3_server.ts";
import { startFtpServer } from "../servers/ftp_server.ts";
import { run } from "../servers/harness.ts";

/** Runs the scenario with `relayLines` as the relay part of both configurations. */
async function scenario(
  name: string,
  relayLines: (dir: string) => Promise<string>,
  secrets: string[],
  env: Record<string, string> = {},
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: `escale-${name}-` });
  try {
    for (const d of ["A", "B"]) await Deno.mkdir(`${dir}/${d}`);
    const relay = await relayLines(dir);
    await conf(
      `${dir}/A.conf`,
      `[A]\nclient = A\nlocal path = ${dir}/A\nmode = upload\nchunk size = 256KB\n${relay}`,
    );
    await conf(
      `${dir}/B.conf`,
      `[B]\nclient = B\nlocal path = ${dir}/B\nmode = download\n${relay}`,
    );
    await Deno.mkdir(`${dir}/A/sub dir/ünï`, { recursive: true });
    await Deno.writeTextFile(`${dir}/A/sub dir/ünï/notes 1.txt`, "hello over the network\n");
    await Deno.writeTextFile(`${dir}/A/big.bin`, "0123456789".repeat(100_000));
    for (let i = 0; i < 30; i++) await Deno.writeTextFile(`${dir}/A/small-${i}.txt`, `small ${i}`);
    const outputs: string[] = [];
    for (const c of ["B", "A", "B", "A"]) {
      const r = await escale(["run", "--once", "-v", "-c", `${dir}/${c}.conf`], env);
      outputs.push(r.stdout, r.stderr);
      assertEquals(r.code, 0, `${c}: ${r.stderr}`);
    }
    assertEquals(await readTree(`${dir}/B`, true), await readTree(`${dir}/A`, true));
    const t = await escale(["ctl", "test-relay", "-c", `${dir}/A.conf`], env);
    outputs.push(t.stdout, t.stderr);
    assertEquals(t.code, 0, t.stdout + t.stderr);
    assert(/\d+ passed, 0 failed/.test(t.stdout), t.stdout);
    for (const log of [`${dir}/A.log`, `${dir}/B.log`]) {
      outputs.push(await Deno.readTextFile(log).catch(() => ""));
    }
    for (const s of secrets) {
      assert(!outputs.some((o) => o.includes(s)), `a secret appears in the output or logs`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function credential(dir: string, user: string, password: string): Promise<string> {
  const path = `${dir}/relay.credential`;
  await Deno.writeTextFile(path, `${user}:${password}\n`, { mode: 0o600 });
  return path;
}

Deno.test("cli: sync through Apache WebDAV over HTTP and HTTPS", async (t) => {
  const dav = await startWebDavServer({ password: "dav-Secret-4417" });
  try {
    await t.step(
      "http, password in a secret file",
      () =>
        scenario(
          "dav-http",
          async (dir) =>
            `host address = ${dav.url}relay-http\nsecret file = ${await credential(
              dir,
              dav.user,
              dav.password,
            )}\n`,
          [dav.password],
        ),
    );
    await t.step(
      "https with a test CA, password inline",
      () =>
        scenario("dav-https", () =>
          Promise.resolve(
            `host address = ${dav.httpsUrl}relay-https\nuser = ${dav.user}\npassword = ${dav.password}\nca file = ${dav.caFile}\n`,
          ), [dav.password]),
    );
  } finally {
    await dav.stop();
  }
});

Deno.test("cli: sync through S3 (moto)", async () => {
  const s3 = await startS3Server();
  try {
    await scenario("s3", () =>
      Promise.resolve(
        `protocol = s3\nendpoint = ${s3.endpoint}\nbucket = ${s3.bucket}\nregion = ${s3.region}\nhost directory = team/relay\naccess key id = ${s3.accessKeyId}\nsecret access key = ${s3.secretAccessKey}\n`,
      ), [s3.secretAccessKey]);
  } finally {
    await s3.stop();
  }
});

Deno.test("cli: wrong credentials and an unreachable relay end in one line with their exit codes", async () => {
  const dav = await startWebDavServer({ password: "right-Pass-9921" });
  const dir = await Deno.makeTempDir({ prefix: "escale-badnet-" });
  try {
    await Deno.mkdir(`${dir}/A`);
    await conf(
      `${dir}/auth.conf`,
      `[A]\nlocal path = ${dir}/A\nhost address = ${dav.url}r\nuser = ${dav.user}\npassword = wrong-Pass-1234\n`,
    );
    const r = await escale(["run", "--once", "-c", `${dir}/auth.conf`]);
    assertEquals(r.code, 4, r.stderr);
    assert(!r.stderr.includes("wrong-Pass-1234"), r.stderr);
    const port = (() => {
      const s = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const p = (s.addr as Deno.NetAddr).port;
      s.close();
      return p;
    })();
    await conf(
      `${dir}/down.conf`,
      `[A]\nlocal path = ${dir}/A\nhost address = http://127.0.0.1:${port}/dav/r\nuser = u\npassword = p\ntimeout = 2\nmax retries = 1\n`,
    );
    const d = await escale(["run", "--once", "-c", `${dir}/down.conf`]);
    assertEquals(d.code, 3, d.stderr);
    assertEquals(
      d.stderr.trim().split("\n").filter((l) => !l.includes("warning")).length,
      1,
      d.stderr,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
    await dav.stop();
  }
});

Deno.test("cli: sync through ProFTPD over FTP and explicit FTPS", async (t) => {
  const ftp = await startFtpServer({ password: "ftp-Secret-7731" });
  try {
    await t.step(
      "plain ftp",
      () =>
        scenario(
          "ftp",
          (dir) =>
            credential(dir, ftp.user, ftp.password).then((f) =>
              `host address = ftp://${ftp.host}:${ftp.port}/relay-plain\nsecret file = ${f}\n`
            ),
          [ftp.password],
        ),
    );
    await t.step("ftps with a test CA", () =>
      scenario("ftps", () =>
        Promise.resolve(
          `protocol = ftps\nhost address = ${ftp.host}\nport = ${ftp.port}\nhost directory = relay-tls\nuser = ${ftp.user}\npassword = ${ftp.password}\nca file = ${ftp.certFile}\n`,
        ), [ftp.password]));
  } finally {
    await ftp.stop();
  }
});

Deno.test("cli: sync through rclone remotes (a local remote, and an ftp remote on ProFTPD)", async (t) => {
  const base = { RCLONE_CONFIG: "/dev/null" };
  await t.step("local remote from environment variables", async () => {
    const target = await Deno.makeTempDir({ prefix: "escale-rclone-local-" });
    try {
      await scenario(
        "rclone-local",
        () =>
          Promise.resolve(
            `protocol = rclone\nhost address = disk\nhost directory = ${target}/relay\n`,
          ),
        [],
        {
          ...base,
          RCLONE_CONFIG_DISK_TYPE: "local",
        },
      );
    } finally {
      await Deno.remove(target, { recursive: true });
    }
  });
  await t.step("ftp remote", async () => {
    const ftp = await startFtpServer({ password: "rc-Secret-5519", tls: false });
    try {
      const obscured = (await run("rclone", ["obscure", "-"], { stdin: ftp.password })).trim();
      await scenario(
        "rclone-ftp",
        () => Promise.resolve(`protocol = rclone\nhost address = srv\nhost directory = relay\n`),
        [ftp.password],
        {
          ...base,
          RCLONE_CONFIG_SRV_TYPE: "ftp",
          RCLONE_CONFIG_SRV_HOST: ftp.host,
          RCLONE_CONFIG_SRV_PORT: String(ftp.port),
          RCLONE_CONFIG_SRV_USER: ftp.user,
          RCLONE_CONFIG_SRV_PASS: obscured,
        },
      );
    } finally {
      await ftp.stop();
    }
  });
});
