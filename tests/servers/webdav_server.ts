/**
 * A real Apache mod_dav server for tests: HTTP and HTTPS (test certificate, CA:FALSE) on random
 * loopback ports, Basic auth from a temporary htpasswd, everything under one temporary folder that
 * `stop` removes. A second location, `/quota/`, refuses request bodies larger than
 * `quotaBytes` with 413, which is how the tests exercise the "server out of space" path.
 * With `mtls`, a third port serves the same root over HTTPS only to clients that present a
 * certificate signed by a throwaway test CA.
 */
import { freePort, makeTestCert, run, spawnServer, waitForPort } from "./harness.ts";

export interface WebDavServer {
  /** base URL of the DAV root over HTTP, ending in "/" (e.g. http://127.0.0.1:PORT/dav/) */
  url: string;
  /** the same root over HTTPS, served with the test certificate */
  httpsUrl: string;
  /** a DAV root that answers 413 to any body larger than `quotaBytes` */
  quotaUrl: string;
  quotaBytes: number;
  /** PEM file of the test certificate (pass it as `caFile`) */
  caFile: string;
  user: string;
  password: string;
  /** the folder served under /dav/ (Apache also writes its `.DAV/` property folder there) */
  dataDir: string;
  /** with `mtls`: the DAV root demanding a client certificate, and that certificate's files */
  mtls?: { url: string; certFile: string; keyFile: string };
  /**
   * Apache's own account of the errors it answered with a server failure (5xx) or could not
   * classify, from its error log: what a failing test prints beside its own message.
   */
  serverErrors(): Promise<string[]>;
  stop(): Promise<void>;
}

/** Error-log lines of an expected refusal: 4xx answers, a body over quota, a wrong password. */
const EXPECTED = /\[4\d\d, #\d+\]|\[-102, #\d+\]|AH01617|AH10159/;

const MODULES = "/usr/lib/apache2/modules";

/** Starts Apache in the foreground from a temporary ServerRoot; /etc/apache2 is never read. */
export async function startWebDavServer(
  opts: { user?: string; password?: string; quotaBytes?: number; mtls?: boolean } = {},
): Promise<WebDavServer> {
  const user = opts.user ?? "tester";
  const password = opts.password ?? `pw-${crypto.randomUUID()}`;
  const quotaBytes = opts.quotaBytes ?? 64 * 1024;
  const root = await Deno.makeTempDir({ prefix: "escale-webdav-" });
  try {
    // Apache's children run as nobody when we are root, so they must be able to reach the files.
    await Deno.chmod(root, 0o755);
    const data = `${root}/data`;
    const quota = `${root}/quota`;
    for (const d of [data, quota, `${root}/run`, `${root}/logs`]) await Deno.mkdir(d);
    const { cert, key } = await makeTestCert(root);
    await run("htpasswd", ["-icB", `${root}/htpasswd`, user], { stdin: password });
    await Deno.chmod(`${root}/htpasswd`, 0o644);
    let runAs = "";
    if (Deno.uid() === 0) {
      runAs = "User nobody\nGroup nogroup";
      await run("chown", ["-R", "nobody:nogroup", data, quota, `${root}/run`]);
    }
    const port = freePort();
    let sport = freePort();
    while (sport === port) sport = freePort();
    let mport = 0;
    let mtlsHost = "";
    if (opts.mtls) {
      while (mport === 0 || mport === port || mport === sport) mport = freePort();
      const ca = await makeClientCa(root);
      mtlsHost = `Listen 127.0.0.1:${mport}
<VirtualHost 127.0.0.1:${mport}>
  SSLEngine on
  SSLCertificateFile ${cert}
  SSLCertificateKeyFile ${key}
  SSLCACertificateFile ${ca}
  SSLVerifyClient require
  SSLVerifyDepth 1
</VirtualHost>`;
    }
    const dir = (path: string, extra = "") =>
      `<Directory ${path}>
  Dav On
  AuthType Basic
  AuthName "escale test"
  AuthUserFile ${root}/htpasswd
  Require valid-user
  ${extra}
</Directory>`;
    const conf = `ServerRoot "${root}"
ServerName 127.0.0.1
${runAs}
PidFile ${root}/run/httpd.pid
Mutex file:${root}/run default
DefaultRuntimeDir ${root}/run
ErrorLog ${root}/logs/error.log
LogLevel warn
${
      [
        "mpm_event",
        "authz_core",
        "authz_user",
        "authn_core",
        "authn_file",
        "auth_basic",
        "alias",
        "mime",
        "dav",
        "dav_fs",
        "dav_lock",
        "ssl",
        "socache_shmcb",
      ].map((m) => `LoadModule ${m}_module ${MODULES}/mod_${m}.so`).join("\n")
    }
StartServers 1
ServerLimit 2
ThreadsPerChild 16
MaxRequestWorkers 32
Listen 127.0.0.1:${port}
Listen 127.0.0.1:${sport}
SSLSessionCache shmcb:${root}/run/ssl_scache(512000)
TypesConfig /dev/null
DavLockDB ${root}/run/DavLock
<VirtualHost 127.0.0.1:${sport}>
  SSLEngine on
  SSLCertificateFile ${cert}
  SSLCertificateKeyFile ${key}
</VirtualHost>
${mtlsHost}
Alias /dav ${data}
Alias /quota ${quota}
${dir(data)}
${dir(quota, `LimitRequestBody ${quotaBytes}`)}
`;
    await Deno.writeTextFile(`${root}/httpd.conf`, conf);
    const proc = spawnServer("/usr/sbin/apache2", ["-f", `${root}/httpd.conf`, "-DFOREGROUND"], {
      log: `${root}/logs/stdout.log`,
    });
    try {
      await waitForPort(port, proc.child);
      await waitForPort(sport, proc.child);
      if (mport) await waitForPort(mport, proc.child);
    } catch (e) {
      await proc.stop();
      const log = await Deno.readTextFile(`${root}/logs/error.log`).catch(() => "");
      throw new Error(`apache did not start: ${e instanceof Error ? e.message : e}\n${log}`);
    }
    return {
      url: `http://127.0.0.1:${port}/dav/`,
      httpsUrl: `https://127.0.0.1:${sport}/dav/`,
      quotaUrl: `http://127.0.0.1:${port}/quota/`,
      quotaBytes,
      caFile: cert,
      user,
      password,
      dataDir: data,
      mtls: mport
        ? {
          url: `https://127.0.0.1:${mport}/dav/`,
          certFile: `${root}/client.pem`,
          keyFile: `${root}/client.key`,
        }
        : undefined,
      async serverErrors() {
        const log = await Deno.readTextFile(`${root}/logs/error.log`).catch(() => "");
        return log.split("\n").filter((l) =>
          /\[[a-z_]+:(error|crit|alert|emerg)\]/.test(l) && !EXPECTED.test(l)
        );
      },
      async stop() {
        await proc.stop();
        await Deno.remove(root, { recursive: true }).catch(() => {});
      },
    };
  } catch (e) {
    await Deno.remove(root, { recursive: true }).catch(() => {});
    throw e;
  }
}

/** A test CA and a client certificate it signed (client.pem, client.key); returns the CA file. */
async function makeClientCa(dir: string): Promise<string> {
  const ca = `${dir}/client-ca.pem`;
  const caKey = `${dir}/client-ca.key`;
  await run("openssl", [
    ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", caKey, "-out", ca],
    ...["-days", "7", "-subj", "/CN=escale test client CA"],
    ...["-addext", "basicConstraints=critical,CA:TRUE"],
    ...["-addext", "keyUsage=critical,keyCertSign"],
  ]);
  await run("openssl", [
    ...["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${dir}/client.key`],
    ...["-out", `${dir}/client.csr`, "-subj", "/CN=escale test client"],
  ]);
  await Deno.writeTextFile(
    `${dir}/client.ext`,
    "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=clientAuth\n",
  );
  await run("openssl", [
    ...["x509", "-req", "-in", `${dir}/client.csr`, "-CA", ca, "-CAkey", caKey],
    ...["-CAcreateserial", "-out", `${dir}/client.pem`, "-days", "7"],
    ...["-extfile", `${dir}/client.ext`],
  ]);
  return ca;
}
