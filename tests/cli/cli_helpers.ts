import { assert } from "../assert.ts";
/** Runs the real launcher (scripts/escale) as a subprocess, as users and cron do. */
const root = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function escale(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const out = await new Deno.Command(`${root}/scripts/escale`, {
    args,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

export function conf(path: string, text: string): Promise<void> {
  return Deno.writeTextFile(path, text.replace(/^\s+/gm, ""));
}

/** Every file under a folder with size and mtime: to prove that nothing was written. */
export async function fingerprint(dir: string): Promise<string> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else {
        const st = await Deno.stat(p);
        out.push(`${p}:${st.size}:${st.mtime?.getTime()}`);
      }
    }
  };
  await walk(dir).catch(() => {});
  return out.sort().join("\n");
}

/**
 * Runs escale as a child of python, which reports the child's peak RSS in KiB as the last line of
 * its standard output (after whatever escale printed).
 */
export async function escaleWithPeak(
  args: string[],
): Promise<{ code: number; stderr: string; kib: number }> {
  const py = "import resource, subprocess, sys\n" +
    "code = subprocess.call(sys.argv[1:])\n" +
    "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n";
  const out = await new Deno.Command("python3", {
    args: ["-c", py, `${root}/scripts/escale`, ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const [code, kib] = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!.split(" ")
    .map(Number);
  return { code, kib, stderr: new TextDecoder().decode(out.stderr) };
}

/** Runs escale with ESCALE_FAULTS stalling a chosen relay operation, and SIGKILLs it there. */
export async function killDuring(args: string[], fault: string): Promise<void> {
  const child = new Deno.Command(`${root}/scripts/escale`, {
    args,
    env: { ESCALE_FAULTS: fault, NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  const deadline = Date.now() + 60_000;
  while (!seen.includes("fault injection: stalling") && Date.now() < deadline) {
    const r = await reader.read();
    if (r.done) break;
    seen += r.value;
  }
  assert(
    seen.includes("fault injection: stalling"),
    `the process never reached the fault:\n${seen}`,
  );
  child.kill("SIGKILL");
  await child.status;
  await reader.cancel().catch(() => {});
}
