// `deno task compile [TARGET...]`: standalone escale executables in dist/, one per platform, each
// carrying the permission set of src/cli/permissions.json (never --allow-all). deno compile
// downloads its runtime (denort) from Deno's server for each target: where that server is not
// reachable, use `deno task bundle` and `deno run $(scripts/permissions) dist/escale.js`.
import { DENO_PERMISSIONS } from "../src/cli/permissions.ts";

const TARGETS: Record<string, string> = {
  "x86_64-unknown-linux-gnu": "escale-linux-x86_64",
  "aarch64-unknown-linux-gnu": "escale-linux-arm64",
  "x86_64-apple-darwin": "escale-macos-x86_64",
  "aarch64-apple-darwin": "escale-macos-arm64",
  "x86_64-pc-windows-msvc": "escale-windows-x86_64.exe",
};

const root = new URL("../", import.meta.url).pathname;
const wanted = Deno.args.length > 0 ? Deno.args : Object.keys(TARGETS);
let failed = 0;
for (const target of wanted) {
  const output = TARGETS[target];
  if (!output) {
    console.error(`unknown target ${target} (known: ${Object.keys(TARGETS).join(", ")})`);
    Deno.exit(2);
  }
  const args = [
    "compile",
    "--quiet",
    "--no-prompt",
    ...DENO_PERMISSIONS,
    "--target",
    target,
    "--output",
    `${root}dist/${output}`,
    `${root}main.ts`,
  ];
  console.error(`building dist/${output}`);
  const r = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: root,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!r.success) failed++;
}
Deno.exit(failed ? 1 : 0);
