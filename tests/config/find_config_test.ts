import { relative } from "node:path";
import { defaultConfigPath, findConfigFile } from "../../src/config/find_config.ts";
import { assertConfigError, assertEquals } from "../assert.ts";

async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    out.push(e.name);
    if (e.isDirectory) {
      out.push(...(await listTree(`${dir}/${e.name}`)).map((n) => `${e.name}/${n}`));
    }
  }
  return out.sort();
}

Deno.test("config search order: -c, $ESCALE_CONFIG, ~/.config, ~/.escale, /etc", async () => {
  const home = await Deno.realPath(await Deno.makeTempDir({ prefix: "escale-home-" }));
  try {
    const system = `${home}/etc-escale.conf`;
    const xdg = `${home}/.config/escale/escale.conf`;
    const dot = `${home}/.escale/escale.conf`;
    const explicit = `${home}/mine.conf`;
    const env = { HOME: home };
    const find = (c?: string, e: Record<string, string> = env) =>
      findConfigFile(c, { env: e, systemFile: system });

    const none = await assertConfigError(() => find(), { includes: "escale init" });
    assertEquals(none.message.includes(xdg) && none.message.includes(system), true, "lists paths");
    assertEquals(await listTree(home), [], "searching created nothing");

    await Deno.writeTextFile(system, "");
    assertEquals(find(), system, "system file last");
    await Deno.mkdir(`${home}/.escale`);
    await Deno.writeTextFile(dot, "");
    assertEquals(find(), dot, "~/.escale before /etc");
    await Deno.mkdir(`${home}/.config/escale`, { recursive: true });
    await Deno.writeTextFile(xdg, "");
    assertEquals(find(), xdg, "~/.config first");
    await Deno.writeTextFile(explicit, "");
    assertEquals(find(undefined, { ...env, ESCALE_CONFIG: explicit }), explicit, "env var");
    assertEquals(find(explicit, { ...env, ESCALE_CONFIG: dot }), explicit, "-c wins");

    await assertConfigError(() => find(`${home}/missing.conf`), {
      includes: "missing.conf (from -c) does not exist",
    });
    await assertConfigError(() => find(undefined, { ...env, ESCALE_CONFIG: `${home}/nope` }), {
      includes: "(from $ESCALE_CONFIG) does not exist",
    });
    await assertConfigError(() => find(home), { includes: "not a regular file" });

    // A folder where the file should be is skipped like a missing file.
    await Deno.remove(xdg);
    await Deno.mkdir(xdg);
    assertEquals(find(), dot, "folder skipped");

    assertEquals(find(relative(Deno.cwd(), explicit)), explicit, "relative -c from the cwd");
    assertEquals(defaultConfigPath({ env }), xdg, "default path for escale init");
    assertEquals(defaultConfigPath({ env: { ...env, ESCALE_CONFIG: "/x/y.conf" } }), "/x/y.conf");
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
