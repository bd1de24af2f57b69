/**
 * A throw-away ProFTPD for tests: one virtual user chrooted (mod_vroot) into a temp data folder,
 * explicit FTPS with a CA:FALSE test certificate, passive ports near a free port, everything in a
 * temp state folder. Runs in the foreground (`--nodaemon`) and stops with SIGTERM.
 */
import { freePort, makeTestCert, run, spawnServer, waitForPort } from "./harness.ts";

export interface FtpServerOptions {
  user?: string;
  password?: string;
  /** TLS on (AUTH TLS offered); plain FTP stays allowed unless `tlsRequired` */
  tls?: boolean;
  tlsRequired?: boolean;
  /**
   * Keep ProFTPD's default of refusing TLS data connections that do not resume the control
   * connection's session: Deno cannot resume sessions, so this reproduces the refusal.
   */
  requireSessionReuse?: boolean;
  /** the loopback address to listen on (default 127.0.0.1); the WAN benchmark's proxy takes 127.0.0.1 */
  address?: string;
  /** the address announced in PASV replies (ProFTPD's MasqueradeAddress) */
  masqueradeAddress?: string;
  /** the passive port range, inclusive (default: a random 300-port window) */
  passivePorts?: [number, number];
}

export interface FtpServer {
  host: string;
  port: number;
  user: string;
  password: string;
  /** the folder the user sees as "/" */
  dataDir: string;
  certFile: string;
  /** the passive port range ProFTPD announces, inclusive */
  passivePorts: [number, number];
  stop(): Promise<void>;
}

export async function startFtpServer(opts: FtpServerOptions = {}): Promise<FtpServer> {
  const user = opts.user ?? "tester";
  const password = opts.password ?? "s3cret-" + crypto.randomUUID().slice(0, 8);
  const state = await Deno.makeTempDir({ prefix: "ftp-state-" });
  // ProFTPD refuses a world-writable folder for its pid and scoreboard files.
  await Deno.chmod(state, 0o700);
  const dataDir = await Deno.makeTempDir({ prefix: "ftp-data-" });
  const { cert, key } = await makeTestCert(state);
  const uid = Deno.uid() ?? 0;
  const gid = Deno.gid() ?? 0;
  const uname = (await run("id", ["-un"])).trim();
  const gname = (await run("id", ["-gn"])).trim();
  // The password reaches openssl on stdin, never as an argument.
  const hash = (await run("openssl", ["passwd", "-6", "-stdin"], { stdin: password + "\n" }))
    .trim();
  await Deno.writeTextFile(
    `${state}/ftpd.passwd`,
    `${user}:${hash}:${uid}:${gid}::${dataDir}:/bin/sh\n`,
    { mode: 0o600 },
  );
  await Deno.writeTextFile(`${state}/ftpd.group`, `${gname}:x:${gid}:\n`, { mode: 0o600 });

  const port = freePort();
  // A busy port in the range is harmless: ProFTPD then lets the kernel pick one.
  // Passive ports below Linux's ephemeral range (32768+), so that outgoing connections of the
  // tests never occupy them; a random 300-port window keeps parallel servers apart.
  const randomLo = 20000 + Math.floor(Math.random() * 12000);
  const [pasvLo, pasvHi] = opts.passivePorts ?? [randomLo, randomLo + 300];
  const address = opts.address ?? "127.0.0.1";
  const tlsBlock = opts.tls === false ? "" : `
<IfModule mod_tls.c>
  TLSEngine                  on
  TLSRequired                ${opts.tlsRequired ? "on" : "off"}
  TLSProtocol                TLSv1.2 TLSv1.3
  TLSRSACertificateFile      ${cert}
  TLSRSACertificateKeyFile   ${key}
  ${opts.requireSessionReuse ? "" : "TLSOptions                 NoSessionReuseRequired"}
  TLSVerifyClient            off
  TLSLog                     ${state}/tls.log
</IfModule>`;
  const conf = `
ServerName          "escale-test-ftp"
ServerType          standalone
DefaultServer       on
Port                ${port}
DefaultAddress      ${address}
SocketBindTight     on
UseIPv6             off
User                ${uname}
Group               ${gname}
${uid === 0 ? "RootLogin           on" : ""}
ControlsEngine      off
PidFile             ${state}/proftpd.pid
ScoreboardFile      ${state}/proftpd.scoreboard
DelayTable          none
WtmpLog             off
UseReverseDNS       off
ServerLog           ${state}/server.log
SystemLog           none
TransferLog         none
AuthOrder           mod_auth_file.c
AuthUserFile        ${state}/ftpd.passwd
AuthGroupFile       ${state}/ftpd.group
RequireValidShell   off
AllowOverwrite      on
AllowStoreRestart   on
AllowRetrieveRestart on
PassivePorts        ${pasvLo} ${pasvHi}
${opts.masqueradeAddress ? `MasqueradeAddress   ${opts.masqueradeAddress}` : ""}
Umask               022
MaxInstances        60
TimeoutIdle         600
ModulePath          /usr/lib/proftpd
LoadModule          mod_tls.c
LoadModule          mod_vroot.c
VRootEngine         on
DefaultRoot         ~
${tlsBlock}
`;
  await Deno.writeTextFile(`${state}/proftpd.conf`, conf);
  const proc = spawnServer("proftpd", ["--nodaemon", "-c", `${state}/proftpd.conf`], {
    log: `${state}/stdout.log`,
  });
  try {
    await waitForPort(port, proc.child, undefined, address);
  } catch (e) {
    await proc.stop();
    const log = await Deno.readTextFile(`${state}/stdout.log`).catch(() => "");
    throw new Error(`proftpd did not start: ${e instanceof Error ? e.message : e}\n${log}`);
  }
  return {
    host: address,
    port,
    user,
    password,
    dataDir,
    certFile: cert,
    passivePorts: [pasvLo, pasvHi],
    async stop() {
      await proc.stop();
      await Deno.remove(state, { recursive: true }).catch(() => {});
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    },
  };
}
