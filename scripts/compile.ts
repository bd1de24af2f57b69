// `deno task compile [TARGET...]`: standalone escale executables in dist/, one per platform, each
// carrying the permission set of src/cli/permissions.json (never --allow-all). deno compile
// downloads its runtime (denort) from Deno's server for each target: where that server is not
// reachable, use `deno task bundle` and `deno run $(scripts/permissions) dist/escale.js`.
//
// deno's own report of a failure is a chain of causes and a backtrace; this prints one line per
// target that failed, with the innermost cause, and what to do instead.
import { DENO_PERMISSIONS } from "../src/cli/permissions.ts";

const TARGETS: Record<string, string> = {
  "x86_64-unknown-linux-gnu": "escale-linux-x86_64",
  "aarch64-unknown-linux-gnu": "escale-linux-arm64",
  "x86_64-apple-darwin": "escale-macos-x86_64",
  "aarch64-apple-darwin": "escale-macos-arm64",
  "x86_64-pc-windows-msvc": "escale-windows-x86_64.exe",
};

/**
 * One line out of deno compile's error output: for a failed download, the address and the
 * innermost cause ("dns error: …", "Connection refused …"); otherwise deno's first error line.
 */
export function failureLine(stderr: string): string {
  // deno colours its output even into a pipe unless told not to.
  // deno-lint-ignore no-control-regex
  const text = stderr.replace(/\x1b\[[0-9;]*m/g, "").split("Stack backtrace:")[0];
  const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
  const causes = lines.filter((l) => /^\d+: /.test(l)).map((l) => l.replace(/^\d+: /, ""));
  const request = causes.map((c) => /error sending request for url \(([^)\s]+)\)/.exec(c)).find(
    Boolean,
  );
  if (request) {
    return `cannot download Deno's runtime from ${request[1]}: ${causes.at(-1)}`;
  }
  const error = lines.find((l) => l.startsWith("error: "));
  return (error ?? lines[0] ?? "deno compile failed without a message").replace(/^error: /, "");
}

if (import.meta.main) {
  const root = new URL("../", import.meta.url).pathname;
  const wanted = Deno.args.length > 0 ? Deno.args : Object.keys(TARGETS);
  for (const target of wanted) {
    if (!TARGETS[target]) {
      console.error(`unknown target ${target} (known: ${Object.keys(TARGETS).join(", ")})`);
      Deno.exit(2);
    }
  }
  let failed = 0;
  let download = false;
  for (const target of wanted) {
    const output = `dist/${TARGETS[target]}`;
    const args = [
      "compile",
      "--quiet",
      "--no-prompt",
      ...DENO_PERMISSIONS,
      "--target",
      target,
      "--output",
      `${root}${output}`,
      `${root}main.ts`,
    ];
    console.error(`building ${output}`);
    const r = await new Deno.Command(Deno.execPath(), {
      args,
      cwd: root,
      env: { NO_COLOR: "1" },
      stdout: "inherit",
      stderr: "piped",
    }).output();
    if (r.success) continue;
    failed++;
    const line = failureLine(new TextDecoder().decode(r.stderr));
    download ||= line.startsWith("cannot download");
    console.error(`failed: ${output} (${target}): ${line}`);
  }
  if (failed > 0) {
    console.error(
      `${failed} of ${wanted.length} target${wanted.length > 1 ? "s" : ""} failed. ` +
        (download
          ? "deno compile downloads a runtime per target from dl.deno.land; where that server " +
            "cannot be reached, use `deno task bundle` (dist/escale.js, run with " +
            "`deno run $(scripts/permissions) dist/escale.js`) or build the binaries on a machine " +
            'with internet access (README, "Single binary").'
          : 'See README, "Single binary"; `deno task bundle` builds the one-file form instead.'),
    );
  }
  Deno.exit(failed ? 1 : 0);
}
