/**
 * Apache as a reverse proxy in front of moto_server, on the server's side of the emulated link.
 *
 * moto runs on Werkzeug's development server, which closes the connection after every response
 * ("Connection: close", always). Real S3 keeps connections alive, so through the WAN proxy every
 * S3 request would pay a TCP handshake (one more RTT) that no real deployment pays. Apache keeps
 * the client's connections alive and opens a fresh loopback connection to moto per request, where
 * it costs nothing. The Host header and the request line pass unchanged (`ProxyPreserveHost`,
 * `nocanon`, encoded slashes kept), so signed requests stay valid.
 */
import { freePort, spawnServer, waitForPort } from "../tests/servers/harness.ts";

const MODULES = "/usr/lib/apache2/modules";

export interface KeepAliveFront {
  /** the same endpoint as the upstream's, with the front's port */
  endpoint: string;
  stop(): Promise<void>;
}

export async function startKeepAliveFront(upstream: string): Promise<KeepAliveFront> {
  const u = new URL(upstream);
  const root = await Deno.makeTempDir({ prefix: "escale-keepalive-" });
  try {
    await Deno.chmod(root, 0o755);
    await Deno.mkdir(`${root}/run`);
    const port = freePort();
    const conf = `ServerRoot "${root}"
ServerName 127.0.0.1
${Deno.uid() === 0 ? "User nobody\nGroup nogroup" : ""}
PidFile ${root}/run/httpd.pid
Mutex file:${root}/run default
DefaultRuntimeDir ${root}/run
ErrorLog ${root}/error.log
LogLevel warn
${
      ["mpm_event", "authz_core", "proxy", "proxy_http"]
        .map((m) => `LoadModule ${m}_module ${MODULES}/mod_${m}.so`).join("\n")
    }
StartServers 1
ServerLimit 2
ThreadsPerChild 32
MaxRequestWorkers 64
Listen 127.0.0.1:${port}
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 60
Timeout 600
LimitRequestBody 0
LimitRequestLine 65536
AllowEncodedSlashes NoDecode
ProxyRequests Off
ProxyPreserveHost On
ProxyPass / http://${u.host}/ nocanon
ProxyPassReverse / http://${u.host}/
`;
    await Deno.writeTextFile(`${root}/httpd.conf`, conf);
    if (Deno.uid() === 0) await Deno.chown(`${root}/run`, 65534, 65534).catch(() => {});
    const proc = spawnServer("/usr/sbin/apache2", ["-f", `${root}/httpd.conf`, "-DFOREGROUND"], {
      log: `${root}/stdout.log`,
    });
    try {
      await waitForPort(port, proc.child);
    } catch (e) {
      await proc.stop();
      const log = await Deno.readTextFile(`${root}/error.log`).catch(() => "");
      throw new Error(`apache (keep-alive front) did not start: ${e}\n${log}`);
    }
    return {
      endpoint: `http://127.0.0.1:${port}`,
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
