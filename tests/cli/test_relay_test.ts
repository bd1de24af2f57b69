import { assert, assertEquals } from "../assert.ts";
import { conf, escale } from "./cli_helpers.ts";

Deno.test("ctl test-relay prints a skip line for each capability the backend does not claim", async () => {
  const dir = await Deno.makeTempDir({ prefix: "escale-test-relay-" });
  try {
    await Deno.mkdir(`${dir}/A`);
    await Deno.mkdir(`${dir}/relay`);
    await Deno.writeTextFile(`${dir}/rclone.conf`, "");
    // rclone's local backend, through rclone: no atomic create-if-absent, temporary objects.
    await conf(
      `${dir}/A.conf`,
      `[photos]\nlocal path = ${dir}/A\nprotocol = rclone\nhost address = :local:${dir}/relay\n` +
        `rclone config = ${dir}/rclone.conf\n`,
    );
    const r = await escale(["ctl", "test-relay", "-c", `${dir}/A.conf`]);
    assertEquals(r.code, 0, r.stdout + r.stderr);
    const lines = r.stdout.split("\n");
    assert(
      lines.includes(
        "  skip create-if-absent is atomic: of concurrent creators exactly one wins: the backend does not claim atomic create-if-absent",
      ),
      r.stdout,
    );
    assert(lines.some((l) => /^ {2}ok {3}a range read transfers the range/.test(l)), r.stdout);
    assert(/\d+ passed, 0 failed, 1 skipped/.test(r.stdout), r.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
