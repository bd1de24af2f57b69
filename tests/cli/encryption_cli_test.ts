import { assert, assertEquals } from "../assert.ts";
import { conf, escale, fingerprint } from "./cli_helpers.ts";
import { readTree } from "../engine/sandbox.ts";

Deno.test("cli: keygen, encrypted sync, wrong key exits 5 without writing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "escale-enc-" });
  try {
    for (const d of ["A", "B", "C", "relay"]) await Deno.mkdir(`${dir}/${d}`);
    const k = await escale(["ctl", "keygen", `${dir}/relay.key`]);
    assertEquals(k.code, 0, k.stderr);
    assertEquals((await Deno.stat(`${dir}/relay.key`)).mode! & 0o777, 0o600);
    assertEquals(
      (await escale(["ctl", "keygen", `${dir}/relay.key`])).code !== 0,
      true,
      "keygen overwrote a key",
    );
    await Deno.writeTextFile(`${dir}/wrong.key`, "not the key");
    await Deno.chmod(`${dir}/wrong.key`, 0o600);
    const section = (name: string, mode: string, key: string) =>
      `[${name}]\nclient = ${name}\nlocal path = ${dir}/${name}\nrelay path = ${dir}/relay\nmode = ${mode}\npassphrase = ${dir}/${key}\n`;
    await conf(`${dir}/A.conf`, section("A", "upload", "relay.key"));
    await conf(`${dir}/B.conf`, section("B", "download", "relay.key"));
    await conf(`${dir}/C.conf`, section("C", "download", "wrong.key"));
    await Deno.writeTextFile(`${dir}/A/Confidential-Merger-Plan.txt`, "Operation Bluebird");
    for (const c of ["B", "A", "B"]) {
      const r = await escale(["run", "--once", "-c", `${dir}/${c}.conf`]);
      assertEquals(r.code, 0, r.stderr);
    }
    assertEquals(await readTree(`${dir}/B`), await readTree(`${dir}/A`));
    const before = await fingerprint(`${dir}/relay`);
    const bad = await escale(["run", "--once", "-c", `${dir}/C.conf`]);
    assertEquals(bad.code, 5, bad.stderr);
    assert(/wrong passphrase or key/.test(bad.stderr), bad.stderr);
    assertEquals(bad.stderr.trim().split("\n").length, 1, bad.stderr);
    assertEquals(await fingerprint(`${dir}/relay`), before);
    assertEquals(await readTree(`${dir}/C`), {});
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
