import { loadConfig } from "../config/load_config.ts";
import { findConfigFile } from "../config/find_config.ts";
import type { LoadedConfig } from "../config/settings.ts";
import { EscaleError } from "../errors/errors.ts";
import { formatBytes } from "./run_command.ts";
import {
  isEscale,
  pidFile,
  readJson,
  runningInstance,
  type SectionStatus,
  statusFile,
} from "./service_files.ts";
import { stateDir } from "./state_location.ts";
import { DENO_PERMISSIONS } from "./permissions.ts";

export interface ServiceOptions {
  config?: string;
  repository?: string[];
  timeout?: number;
  json?: boolean;
}

async function load(o: ServiceOptions): Promise<LoadedConfig> {
  return await loadConfig(findConfigFile(o.config), { sections: o.repository });
}

/** How to start this very program again: the Deno binary and main module, or a compiled binary. */
function selfCommand(): { cmd: string; args: string[] } {
  const exe = Deno.execPath();
  const main = new URL(Deno.mainModule);
  if (!/(^|\/)deno$/.test(exe) || main.protocol !== "file:") return { cmd: exe, args: [] };
  const dir = main.pathname.slice(0, main.pathname.lastIndexOf("/"));
  const config: string[] = [];
  try {
    Deno.statSync(`${dir}/deno.json`);
    config.push("--config", `${dir}/deno.json`);
  } catch { /* a bundle needs no configuration */ }
  return {
    cmd: exe,
    args: ["run", "--quiet", "--no-prompt", ...DENO_PERMISSIONS, ...config, main.pathname],
  };
}

/** `escale ctl start`: a background `escale run` for this configuration. */
export async function startCommand(o: ServiceOptions, print: (l: string) => void): Promise<void> {
  const cfg = await load(o);
  const running = runningInstance(cfg);
  if (running) {
    throw new EscaleError(
      "usage",
      `escale is already running for ${cfg.file} (pid ${running.pid})`,
    );
  }
  const dir = stateDir(cfg);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const errFile = `${dir}/daemon.err`;
  const self = selfCommand();
  const args = [...self.args, "run", "-q", "-c", cfg.file, "--pid-file", pidFile(cfg)];
  for (const r of o.repository ?? []) args.push("-r", r);
  // setsid detaches the instance from this terminal and its signals.
  const err = await Deno.open(errFile, { write: true, create: true, truncate: true, mode: 0o600 });
  const child = new Deno.Command("setsid", {
    args: [self.cmd, ...args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const pump = child.stderr.pipeTo(err.writable).catch(() => {});
  child.unref();
  const deadline = Date.now() + (o.timeout ?? 30) * 1000;
  let exited = false;
  child.status.then(() => (exited = true));
  while (Date.now() < deadline) {
    const rec = runningInstance(cfg);
    if (rec) {
      print(
        `escale started for ${cfg.file} (pid ${rec.pid}); logs: see 'log file', status: escale ctl status`,
      );
      return;
    }
    if (exited) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await Promise.race([pump, new Promise((r) => setTimeout(r, 500))]);
  const tail = (await Deno.readTextFile(errFile).catch(() => "")).trim().split("\n").pop() ?? "";
  throw new EscaleError(
    "permanent",
    `escale did not start${tail ? `: ${tail.replace(/^escale: /, "")}` : ""}`,
  );
}

/** Sends a signal through kill(1): Deno.kill needs the permission to run any program. */
function signal(pid: number, name: "TERM" | "KILL"): void {
  new Deno.Command("kill", { args: [`-${name}`, String(pid)], stderr: "null" }).outputSync();
}

/** `escale ctl stop`: SIGTERM, wait for the current step to finish, SIGKILL after the timeout. */
export async function stopCommand(o: ServiceOptions, print: (l: string) => void): Promise<void> {
  const cfg = await load(o);
  const rec = runningInstance(cfg);
  if (!rec) {
    print(`escale is not running for ${cfg.file}`);
    return;
  }
  signal(rec.pid, "TERM");
  const deadline = Date.now() + (o.timeout ?? 30) * 1000;
  while (Date.now() < deadline && isEscale(rec.pid)) await new Promise((r) => setTimeout(r, 100));
  if (isEscale(rec.pid)) {
    signal(rec.pid, "KILL");
    print(`escale (pid ${rec.pid}) did not stop within ${o.timeout ?? 30} s; killed`);
  } else print(`escale (pid ${rec.pid}) stopped`);
  try {
    Deno.removeSync(pidFile(cfg));
  } catch { /* removed by the instance */ }
}

/** `escale ctl status`: the instance, and per repository what its last round left. */
export async function statusCommand(o: ServiceOptions, print: (l: string) => void): Promise<void> {
  const cfg = await load(o);
  const rec = runningInstance(cfg);
  const sections = cfg.sections.map((s) => ({
    name: s.name,
    status: readJson<SectionStatus>(statusFile(cfg, s)),
  }));
  if (o.json) {
    print(
      JSON.stringify({
        config: cfg.file,
        running: rec !== null,
        pid: rec?.pid,
        started: rec?.started,
        sections,
      }),
    );
    return;
  }
  print(
    rec
      ? `escale is running for ${cfg.file} (pid ${rec.pid}, since ${rec.started})`
      : `escale is not running for ${cfg.file}`,
  );
  for (const { name, status } of sections) {
    if (!status) {
      print(`  ${name}: no round yet`);
      continue;
    }
    print(`  ${name}: last round ${status.lastRound} ${status.ok ? "ok" : "FAILED"}`);
    if (status.lastError) print(`    last error (${status.lastErrorAt}): ${status.lastError}`);
    const r = status.repo;
    if (!r) continue;
    print(
      `    pending: ${r.pendingUploads} local changes to send, ${r.pendingDownloads} commits to apply`,
    );
    print(
      `    on the relay: ${formatBytes(r.relayBytes)}${
        r.diskQuota ? ` of a ${formatBytes(r.diskQuota)} quota` : ""
      }`,
    );
    for (const w of r.waitingOn) {
      print(`    waiting for ${w.client} to apply ${w.commits} commit${w.commits > 1 ? "s" : ""}`);
    }
    const problems = r.problems ?? [];
    if (problems.length) {
      print(`    ${problems.length} file${problems.length > 1 ? "s" : ""} not synchronised:`);
      for (const p of problems) {
        const what = p.direction === "down" ? "cannot be written here" : "cannot be sent";
        print(`      ${p.path}: ${what} since ${p.since}: ${p.reason}`);
      }
    }
  }
}
