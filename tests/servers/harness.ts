/**
 * Starting and stopping real servers for tests: free ports on 127.0.0.1, readiness by TCP
 * connect, clean shutdown. Each server module in this folder builds on these.
 */

/** A port that was free a moment ago (the OS picks it; we release it for the server). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Waits until something accepts TCP connections on the port, or the child exits, or timeout. */
export async function waitForPort(
  port: number,
  child?: Deno.ChildProcess,
  timeoutMs = 15_000,
  hostname = "127.0.0.1",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  child?.status.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`server for port ${port} exited before it was ready`);
    try {
      const c = await Deno.connect({ hostname, port });
      c.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  throw new Error(`nothing listens on ${hostname}:${port} after ${timeoutMs} ms`);
}

export interface RunningProcess {
  child: Deno.ChildProcess;
  stop(): Promise<void>;
}

/** Spawns a server process with output sent to a log file; `stop` sends SIGTERM then SIGKILL. */
export function spawnServer(
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string; log: string },
): RunningProcess {
  const logFile = Deno.openSync(opts.log, { write: true, create: true, append: true });
  const child = new Deno.Command(cmd, {
    args,
    env: opts.env,
    cwd: opts.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const pump = Promise.all([
    child.stdout.pipeTo(new WritableStream({ write: (c) => void logFile.writeSync(c) })).catch(
      () => {},
    ),
    child.stderr.pipeTo(new WritableStream({ write: (c) => void logFile.writeSync(c) })).catch(
      () => {},
    ),
  ]);
  let stopped = false;
  return {
    child,
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
      }, 5000);
      await child.status;
      clearTimeout(timer);
      await pump;
      logFile.close();
    },
  };
}

/** Runs a command to completion and returns its stdout; throws with stderr on failure. */
export async function run(
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; stdin?: string } = {},
): Promise<string> {
  const child = new Deno.Command(cmd, {
    args,
    env: opts.env,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (${out.code}): ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return text;
}

/** A self-signed server certificate that Deno's TLS accepts (CA:FALSE, SAN for 127.0.0.1). */
export async function makeTestCert(dir: string): Promise<{ cert: string; key: string }> {
  const cert = `${dir}/cert.pem`;
  const key = `${dir}/key.pem`;
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    key,
    "-out",
    cert,
    "-days",
    "7",
    "-subj",
    "/CN=127.0.0.1",
    "-addext",
    "basicConstraints=critical,CA:FALSE",
    "-addext",
    "extendedKeyUsage=serverAuth",
    "-addext",
    "subjectAltName=DNS:localhost,IP:127.0.0.1",
  ]);
  return { cert, key };
}

/** Whether a command exists on PATH (tests of a server report a clear failure when not). */
export async function hasCommand(name: string): Promise<boolean> {
  try {
    await run("sh", ["-c", `command -v ${name}`]);
    return true;
  } catch {
    return false;
  }
}
