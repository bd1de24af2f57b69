/**
 * The real servers the network benchmarks run against (Apache WebDAV, moto S3, ProFTPD FTP and
 * explicit FTPS, from tests/servers/), and how escale and rclone reach a folder on each, either
 * directly on loopback or through a WAN proxy (wan_proxy.ts) with a link profile.
 *
 * FTP through the proxy: the passive data connections must cross the link too, and with FTPS
 * the control connection is encrypted, so the proxy cannot rewrite the PASV / EPSV replies.
 * Instead ProFTPD listens on 127.0.0.2 (control and passive ports) and the proxy takes the same
 * port numbers on 127.0.0.1: one control listener, and one listener per passive port of a
 * 128-port range given to ProFTPD (`PassivePorts`), each forwarding to the same port on
 * 127.0.0.2. EPSV answers only a port, which both clients (escale, rclone's jlaffaye/ftp) join on
 * the control connection's address, 127.0.0.1: the proxy. PASV would name an address: ProFTPD
 * announces 127.0.0.1 (`MasqueradeAddress`), the proxy again. Nothing can bypass the proxy: no
 * server listens on 127.0.0.1, so a missed port is a refused connection, not an unshaped one;
 * and the certificate (issued to 127.0.0.1) stays valid for the address the clients dial.
 */
import { startWebDavServer } from "../tests/servers/webdav_server.ts";
import { startS3Server } from "../tests/servers/s3_server.ts";
import { type FtpServer, startFtpServer } from "../tests/servers/ftp_server.ts";
import { run } from "../tests/servers/harness.ts";
import { startKeepAliveFront } from "./keepalive_front.ts";
import type { LinkProfile } from "./wan_link.ts";
import { type ProxyOptions, type Route, WanProxy } from "./wan_proxy.ts";

export const SERVERS = ["webdav", "s3", "ftp", "ftps"] as const;
export type ServerKind = typeof SERVERS[number];

/** A running server and how each tool reaches a folder `name` on it. */
export interface Target {
  escaleLines(name: string, dir: string): Promise<string>;
  rcloneEnv: Record<string, string>;
  rcloneRemote(name: string): string;
  rcloneFlags: string[];
  /** with a link profile: the proxy every connection goes through (its counters) */
  proxy?: WanProxy;
  stop(): Promise<void>;
}

/** rclone's obscured form of a password, for its config variables. */
export async function obscure(password: string): Promise<string> {
  // Through stdin: a password never appears in a process argument.
  return (await run("rclone", ["obscure", "-"], { stdin: password })).trim();
}

async function secretFile(dir: string, user: string, password: string): Promise<string> {
  const path = `${dir}/relay.credential`;
  await Deno.writeTextFile(path, `${user}:${password}\n`, { mode: 0o600 });
  return path;
}

/** A shaped front for an HTTP server at `url`: the same URL with the proxy's port. */
function httpFront(proxy: WanProxy | undefined, url: string): string {
  if (!proxy) return url;
  const u = new URL(url);
  const port = proxy.listen({
    kind: "http",
    port: 0,
    to: { hostname: u.hostname, port: Number(u.port) },
  });
  u.port = String(port);
  return u.toString().replace(/\/$/, url.endsWith("/") ? "/" : "");
}

const PASSIVE_PORTS = 128;
const SERVER_ADDRESS = "127.0.0.2";

/** ProFTPD behind the proxy (see the header); returns the server and the control port to dial. */
export async function shapedFtp(
  proxy: WanProxy,
  tls: boolean,
): Promise<{ ftp: FtpServer; port: number }> {
  for (let attempt = 0; attempt < 20; attempt++) {
    // Below Linux's ephemeral range (32768+), like the test server's own choice.
    const lo = 20000 + Math.floor(Math.random() * (12000 - PASSIVE_PORTS));
    const hi = lo + PASSIVE_PORTS - 1;
    const routes: Route[] = [];
    for (let p = lo; p <= hi; p++) {
      routes.push({ kind: "ftp-data", port: p, to: { hostname: SERVER_ADDRESS, port: p } });
    }
    try {
      proxy.listenAll(routes);
    } catch {
      continue; // a port of the range is taken on 127.0.0.1: try another range
    }
    const ftp = await startFtpServer({
      tls,
      address: SERVER_ADDRESS,
      masqueradeAddress: "127.0.0.1",
      passivePorts: [lo, hi],
    });
    const port = proxy.listen({
      kind: "ftp-control",
      port: 0,
      to: { hostname: SERVER_ADDRESS, port: ftp.port },
    });
    return { ftp, port };
  }
  throw new Error("no free range of passive ports on 127.0.0.1 for the FTP proxy");
}

/** Starts a fresh server of `kind`; with `profile`, every connection goes through a WAN proxy. */
export async function startTarget(
  kind: ServerKind,
  profile?: LinkProfile,
  proxyOptions?: ProxyOptions,
): Promise<Target> {
  const proxy = profile ? new WanProxy(profile, proxyOptions) : undefined;
  const stopProxy = () => proxy?.stop();
  try {
    if (kind === "webdav") {
      const dav = await startWebDavServer();
      const url = httpFront(proxy, dav.url);
      return {
        escaleLines: async (name, dir) =>
          `host address = ${url}${name}\nsecret file = ${await secretFile(
            dir,
            dav.user,
            dav.password,
          )}\n`,
        rcloneEnv: {
          RCLONE_CONFIG_SRV_TYPE: "webdav",
          RCLONE_CONFIG_SRV_URL: url,
          RCLONE_CONFIG_SRV_VENDOR: "other",
          RCLONE_CONFIG_SRV_USER: dav.user,
          RCLONE_CONFIG_SRV_PASS: await obscure(dav.password),
        },
        rcloneRemote: (name) => `srv:${name}`,
        rcloneFlags: [],
        proxy,
        stop: async () => {
          stopProxy();
          await dav.stop();
        },
      };
    }
    if (kind === "s3") {
      const s3 = await startS3Server();
      // Through the link, moto's one-connection-per-request would cost a handshake per request
      // that real S3 does not (keepalive_front.ts).
      const front = proxy
        ? await startKeepAliveFront(s3.endpoint).catch(async (e) => {
          await s3.stop();
          throw e;
        })
        : undefined;
      const endpoint = httpFront(proxy, front?.endpoint ?? s3.endpoint);
      return {
        escaleLines: (name) =>
          Promise.resolve(
            `protocol = s3\nendpoint = ${endpoint}\nbucket = ${s3.bucket}\nregion = ${s3.region}\nhost directory = ${name}\naccess key id = ${s3.accessKeyId}\nsecret access key = ${s3.secretAccessKey}\n`,
          ),
        rcloneEnv: {
          RCLONE_CONFIG_SRV_TYPE: "s3",
          RCLONE_CONFIG_SRV_PROVIDER: "Other",
          RCLONE_CONFIG_SRV_ENDPOINT: endpoint,
          RCLONE_CONFIG_SRV_REGION: s3.region,
          RCLONE_CONFIG_SRV_ACCESS_KEY_ID: s3.accessKeyId,
          RCLONE_CONFIG_SRV_SECRET_ACCESS_KEY: s3.secretAccessKey,
          RCLONE_CONFIG_SRV_FORCE_PATH_STYLE: "true",
        },
        rcloneRemote: (name) => `srv:${s3.bucket}/${name}`,
        // rclone's S3 backend refuses this machine's AWS_CA_BUNDLE (see environment.md); a HEAD
        // after each upload is a request escale does not make either.
        rcloneFlags: ["--s3-no-head"],
        proxy,
        stop: async () => {
          stopProxy();
          await front?.stop();
          await s3.stop();
        },
      };
    }
    const tls = kind === "ftps";
    const { ftp, port } = proxy
      ? await shapedFtp(proxy, tls)
      : { ftp: await startFtpServer({ tls }), port: 0 };
    const host = proxy ? "127.0.0.1" : ftp.host;
    const ctrlPort = proxy ? port : ftp.port;
    const env: Record<string, string> = {
      RCLONE_CONFIG_SRV_TYPE: "ftp",
      RCLONE_CONFIG_SRV_HOST: host,
      RCLONE_CONFIG_SRV_PORT: String(ctrlPort),
      RCLONE_CONFIG_SRV_USER: ftp.user,
      RCLONE_CONFIG_SRV_PASS: await obscure(ftp.password),
    };
    if (tls) {
      env.RCLONE_CONFIG_SRV_EXPLICIT_TLS = "true";
      // rclone's FTP backend ignores --ca-cert, but Go reads its trusted roots from SSL_CERT_FILE:
      // this way rclone verifies the server's certificate, as escale does with `ca file`.
      env.SSL_CERT_FILE = ftp.certFile;
    }
    return {
      escaleLines: async (name, dir) =>
        tls
          ? `protocol = ftps\nhost address = ${host}\nport = ${ctrlPort}\nhost directory = ${name}\nsecret file = ${await secretFile(
            dir,
            ftp.user,
            ftp.password,
          )}\nca file = ${ftp.certFile}\n`
          : `host address = ftp://${host}:${ctrlPort}/${name}\nsecret file = ${await secretFile(
            dir,
            ftp.user,
            ftp.password,
          )}\n`,
      rcloneEnv: env,
      rcloneRemote: (name) => `srv:${name}`,
      // rclone splits downloads above 250 MiB into 4 ranged RETRs and closes each data connection
      // when its range is done; ProFTPD answers 426 and rclone fails the file three times over
      // (rclone issues 3445, 3942, 7532). Its documented workaround is one stream per file.
      rcloneFlags: ["--multi-thread-streams", "0"],
      proxy,
      stop: async () => {
        stopProxy();
        await ftp.stop();
      },
    };
  } catch (e) {
    stopProxy();
    throw e;
  }
}
