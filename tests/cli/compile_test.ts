// `deno task compile` where Deno's download server cannot be reached (these machines, or a
// firewalled one): one line per target that failed and what to do instead, not deno's chain of
// causes and backtrace. The server is made unreachable for certain with a proxy on a closed port,
// and the download cache with a DENO_DIR that has everything of the real one but `dl/`, where
// deno keeps the runtimes it downloaded; the module and type-check caches stay warm.
import { assert, assertEquals } from "../assert.ts";
import { failureLine } from "../../scripts/compile.ts";

const root = new URL("../../", import.meta.url).pathname;
const deno = `${root}tools/node_modules/.bin/deno`;

async function output(args: string[], env: Record<string, string> = {}) {
  const r = await new Deno.Command(deno, {
    args,
    cwd: root,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: r.code, stdout: text(r.stdout), stderr: text(r.stderr) };
}

Deno.test("compile: an unreachable download server gives one line per target and a hint", async () => {
  const info = await output(["info", "--json"]);
  assertEquals(info.code, 0, info.stderr);
  const realDir = JSON.parse(info.stdout).denoDir as string;
  const denoDir = await Deno.makeTempDir({ prefix: "escale-compile-" });
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const proxy = `http://127.0.0.1:${(closed.addr as Deno.NetAddr).port}`;
  closed.close();
  try {
    for await (const e of Deno.readDir(realDir)) {
      if (e.name !== "dl") await Deno.symlink(`${realDir}/${e.name}`, `${denoDir}/${e.name}`);
    }
    const env = {
      DENO_DIR: denoDir,
      HTTPS_PROXY: proxy,
      HTTP_PROXY: proxy,
      NO_PROXY: "",
      no_proxy: "",
    };
    const r = await output(
      ["task", "--quiet", "compile", "x86_64-pc-windows-msvc", "aarch64-apple-darwin"],
      env,
    );
    assertEquals(r.code, 1, r.stderr);
    const lines = r.stderr.trim().split("\n");
    assertEquals(lines.length, 5, r.stderr);
    assertEquals(lines[0], "building dist/escale-windows-x86_64.exe");
    assert(
      lines[1].startsWith(
        "failed: dist/escale-windows-x86_64.exe (x86_64-pc-windows-msvc): cannot download Deno's " +
          "runtime from https://dl.deno.land/release/",
      ),
      lines[1],
    );
    assert(/denort-x86_64-pc-windows-msvc\.zip: .*Connection refused/.test(lines[1]), lines[1]);
    assertEquals(lines[2], "building dist/escale-macos-arm64");
    assert(
      lines[3].startsWith("failed: dist/escale-macos-arm64 (aarch64-apple-darwin): "),
      lines[3],
    );
    assert(lines[4].startsWith("2 of 2 targets failed. "), lines[4]);
    assert(lines[4].includes("use `deno task bundle`"), lines[4]);
    assert(lines[4].includes("build the binaries on a machine with internet access"), lines[4]);

    const unknown = await output(["task", "--quiet", "compile", "pdp11-unknown-unix"], env);
    assertEquals(unknown.code, 2);
    assert(
      /^unknown target pdp11-unknown-unix \(known: x86_64-unknown-linux-gnu, /.test(unknown.stderr),
    );
  } finally {
    await Deno.remove(denoDir, { recursive: true });
  }
});

Deno.test("compile: deno's report of a failed download becomes its address and innermost cause", () => {
  // What deno compile 2.9 prints without a name server.
  const dns = [
    "\x1b[0m\x1b[1m\x1b[31merror\x1b[0m: Writing deno compile executable to temporary file 'dist/x'",
    "",
    "Caused by:",
    "    0: Setting up base binary.",
    "    1: error sending request for url (https://dl.deno.land/release/v2.9.6/denort-x86_64-pc-windows-msvc.zip): client error (Connect): dns error: failed to lookup address information: Name or service not known",
    "    2: client error (Connect)",
    "    3: dns error",
    "    4: failed to lookup address information: Name or service not known",
    "",
    "Stack backtrace:",
    "   0: <unknown>",
  ].join("\n");
  assertEquals(
    failureLine(dns),
    "cannot download Deno's runtime from " +
      "https://dl.deno.land/release/v2.9.6/denort-x86_64-pc-windows-msvc.zip: " +
      "failed to lookup address information: Name or service not known",
  );
  assertEquals(
    failureLine('error: Module not found "file:///x/main.ts".\n'),
    'Module not found "file:///x/main.ts".',
  );
});
