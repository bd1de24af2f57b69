import { assert, assertEquals } from "../assert.ts";
import { conf, escale } from "./cli_helpers.ts";
import { parseModifiers } from "../../src/cli/access_command.ts";

Deno.test("access modifiers parse like Escale's, without its rw- trap", () => {
  assertEquals(parseModifiers("r-"), { r: "-" });
  assertEquals(parseModifiers("w"), { w: "+" });
  assertEquals(parseModifiers("r-w+"), { r: "-", w: "+" });
  assertEquals(parseModifiers("rw-"), { r: "+", w: "-" });
  assertEquals(parseModifiers("w?"), { w: "?" });
  let failed = false;
  try {
    parseModifiers("x+");
  } catch {
    failed = true;
  }
  assert(failed);
});

Deno.test("cli: ctl access r- keeps a file from being uploaded; the setting is shown back", async () => {
  const dir = await Deno.makeTempDir({ prefix: "escale-access-" });
  try {
    for (const d of ["A", "B", "relay"]) await Deno.mkdir(`${dir}/${d}`);
    await conf(
      `${dir}/A.conf`,
      `[A]\nlocal path = ${dir}/A\nrelay path = ${dir}/relay\nmode = upload\n`,
    );
    await conf(
      `${dir}/B.conf`,
      `[B]\nlocal path = ${dir}/B\nrelay path = ${dir}/relay\nmode = download\n`,
    );
    await Deno.writeTextFile(`${dir}/A/private.txt`, "mine");
    await Deno.writeTextFile(`${dir}/A/public.txt`, "ours");
    const set = await escale([
      "ctl",
      "access",
      "-c",
      `${dir}/A.conf`,
      `${dir}/A/private.txt`,
      "r-",
    ]);
    assertEquals(set.code, 0, set.stderr);
    assertEquals(set.stdout.trim(), "private.txt: r-w?");
    const show = await escale(["ctl", "access", "-c", `${dir}/A.conf`, "private.txt"]);
    assertEquals(show.stdout.trim(), "private.txt: r-w?");
    for (const c of ["B", "A", "B"]) {
      assertEquals((await escale(["run", "--once", "-c", `${dir}/${c}.conf`])).code, 0);
    }
    const got = [...Deno.readDirSync(`${dir}/B`)].map((e) => e.name).filter((n) =>
      !n.startsWith(".")
    );
    assertEquals(got, ["public.txt"]);
    const outside = await escale(["ctl", "access", "-c", `${dir}/A.conf`, "/etc/passwd", "r-"]);
    assertEquals(outside.code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
