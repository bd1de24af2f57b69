/**
 * A real `escale` process the test can watch and signal while it runs, with a hang detector:
 * `ended` kills the process (SIGKILL) if it has not exited within a generous bound, so that a
 * hang fails the test instead of hanging CI. The bound is not a speed assertion.
 */
const root = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

export interface Ended {
  /** the exit code, or null when the process had to be killed */
  code: number | null;
  stdout: string;
  stderr: string;
}

export class EscaleProcess {
  readonly child: Deno.ChildProcess;
  #stderr = "";
  #stdout = "";
  #drained: Promise<unknown>;
  #waiters: { test: (s: string) => boolean; resolve: () => void }[] = [];

  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = new Deno.Command(`${root}/scripts/escale`, {
      args,
      env: { NO_COLOR: "1", ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const pump = async (s: ReadableStream<Uint8Array>, add: (t: string) => void) => {
      for await (const t of s.pipeThrough(new TextDecoderStream())) {
        add(t);
        const ready = this.#waiters.filter((w) => w.test(this.#stderr));
        this.#waiters = this.#waiters.filter((w) => !ready.includes(w));
        for (const w of ready) w.resolve();
      }
    };
    this.#drained = Promise.all([
      pump(this.child.stdout, (t) => (this.#stdout += t)),
      pump(this.child.stderr, (t) => (this.#stderr += t)),
    ]).catch(() => {});
  }

  get pid(): number {
    return this.child.pid;
  }

  get stderr(): string {
    return this.#stderr;
  }

  /** Resolves once stderr matches `re` (or rejects when the process ends first). */
  waitForStderr(re: RegExp): Promise<void> {
    if (re.test(this.#stderr)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#waiters.push({ test: (s) => re.test(s), resolve });
      this.child.status.then(() => {
        if (!re.test(this.#stderr)) {
          reject(new Error(`escale ended without printing ${re}:\n${this.#stderr}`));
        }
      });
    });
  }

  kill(signal: Deno.Signal): void {
    this.child.kill(signal);
  }

  /** Waits for the exit; a process still running after `limitMs` is killed and reported. */
  async ended(limitMs: number): Promise<Ended> {
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      try {
        this.child.kill("SIGKILL");
      } catch { /* gone meanwhile */ }
    }, limitMs);
    const status = await this.child.status;
    clearTimeout(timer);
    await this.#drained;
    return { code: killed ? null : status.code, stdout: this.#stdout, stderr: this.#stderr };
  }
}

/**
 * An `rclone binary` for the configuration that records the pid of every rclone it starts
 * (exec keeps the pid), so that a test can tell whether any is left running, and its arguments
 * (one line per call), so that a test can tell what other local users could read in the
 * process list.
 */
export async function recordingRclone(
  dir: string,
): Promise<{ binary: string; pids: string; args: string }> {
  const binary = `${dir}/rclone-recording`;
  const pids = `${dir}/rclone.pids`;
  const args = `${dir}/rclone.args`;
  const rclone = new TextDecoder().decode(
    (await new Deno.Command("sh", { args: ["-c", "command -v rclone"], stdout: "piped" }).output())
      .stdout,
  ).trim();
  await Deno.writeTextFile(
    binary,
    `#!/bin/sh\necho $$ >> '${pids}'\nprintf '%s\\n' "$*" >> '${args}'\nexec '${rclone}' "$@"\n`,
  );
  await Deno.chmod(binary, 0o755);
  return { binary, pids, args };
}

/** Pids from a `recordingRclone` list whose process still runs (zombies count as ended). */
export async function runningPids(pidsFile: string): Promise<number[]> {
  const text = await Deno.readTextFile(pidsFile).catch(() => "");
  const alive: number[] = [];
  for (const line of text.split("\n")) {
    const pid = Number(line.trim());
    if (!pid) continue;
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => "");
    // The third field of /proc/PID/stat is the state; Z is an exited child not yet reaped.
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    if (stat && state !== "Z" && state !== "X") alive.push(pid);
  }
  return alive;
}

/** Kills what `runningPids` found, so that a failing test leaves nothing behind either. */
export function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* gone meanwhile */ }
  }
}
