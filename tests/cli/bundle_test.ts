// The artifact we can build here: `deno bundle` output run by plain `deno run`, outside the
// checkout (no deno.json, no node_modules beside it), must behave like the source.
import { assert, assertEquals } from "../assert.ts";
import { conf } from "./cli_helpers.ts";
import { readTree } from "../engine/sandbox.ts";
import { DENO_PERMISSIONS } from "../../src/cli/permissions.ts";

const root = new URL("../../", import.meta.url).pathname;
const deno = `${root}tools/node_modules/.bin/deno`;

Deno.test("cli: the bundled single file syncs two clients like the source does", async () => {
  const dir = await Deno.makeTempDir({ prefix: "escale-bundle-" });
  try {
    const out = await new Deno.Command(deno, {
      args: ["bundle", "--quiet", "--output", `${dir}/escale.js`, `${root}main.ts`],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert(out.success, new TextDecoder().decode(out.stderr));
    const run = async (...args: string[]) => {
      const r = await new Deno.Command(deno, {
        // The permission set of the compiled binaries and scripts/escale, never -A.
        args: [
          "run",
          "--quiet",
          "--no-prompt",
          ...DENO_PERMISSIONS,
          `${dir}/escale.js`,
          ...args,
        ],
        cwd: dir,
        stdout: "piped",
        stderr: "piped",
      }).output();
      return {
        code: r.code,
        out: new TextDecoder().decode(r.stdout),
        err: new TextDecoder().decode(r.stderr),
      };
    };
    const v = await run("--version");
    assertEquals(v.code, 0, v.err);
    for (const d of ["A", "B", "relay"]) await Deno.mkdir(`${dir}/${d}`);
    await Deno.writeTextFile(`${dir}/A/hello.txt`, "from the bundle");
    // Big enough for the hashing worker (hasher.ts), which the bundle must carry too.
    const big = new Uint8Array(9 * 1024 * 1024).map((_, i) => (i * 13) & 0xff);
    await Deno.writeFile(`${dir}/A/big.bin`, big);
    for (const c of ["A", "B"]) {
      await conf(
        `${dir}/${c}.conf`,
        `[${c}]\nclient = ${c}\nlocal path = ${dir}/${c}\nrelay path = ${dir}/relay\n`,
      );
    }
    for (const c of ["B", "A", "B"]) {
      const r = await run("run", "--once", "-c", `${dir}/${c}.conf`);
      assertEquals(r.code, 0, r.err);
      // A worker that failed to load would print "Uncaught (in worker" here.
      assertEquals(r.err.includes("worker"), false, r.err);
    }
    const got = await Deno.readFile(`${dir}/B/big.bin`);
    assert(got.length === big.length && got.every((b, i) => b === big[i]), "big.bin differs");
    await Deno.remove(`${dir}/B/big.bin`);
    await Deno.remove(`${dir}/A/big.bin`);
    assertEquals(await readTree(`${dir}/B`), { "hello.txt": "from the bundle" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
