// An unreadable local file or folder (issue 18) is reported and left as it is; everything else
// syncs, nothing is taken for deleted, and it goes once it is readable again. Root reads
// everything, so as root this test runs itself again as user nobody.
import { assert, assertEquals } from "../assert.ts";
import { withSandbox } from "./sandbox.ts";

async function asNobody(): Promise<void> {
  const home = await Deno.makeTempDir({ prefix: "escale-nobody-" });
  try {
    await Deno.chmod(home, 0o777);
    const out = await new Deno.Command("setpriv", {
      args: [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        Deno.execPath(),
        "test",
        "--allow-all",
        "--no-prompt",
        new URL(import.meta.url).pathname,
      ],
      env: { DENO_DIR: `${home}/deno`, HOME: home, TMPDIR: home, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert(out.success, `the test as user nobody failed:\n${text}`);
    assert(/1 passed/.test(text), text);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

Deno.test("unreadable files and folders are reported, not deleted, and sent once readable", async () => {
  if (Deno.uid() === 0) return await asNobody();
  await withSandbox(async (sb) => {
    const a = await sb.client("A");
    const b = await sb.client("B");
    await a.write("locked/inside.txt", "in a folder that becomes unreadable");
    await a.write("open.txt", "v1");
    await b.sync();
    await a.sync();
    await b.sync();
    assertEquals(Object.keys(await b.tree()), ["locked/inside.txt", "open.txt"]);
    await a.write("secret.txt", "not readable yet");
    await Deno.chmod(`${a.root}/secret.txt`, 0o000);
    await Deno.chmod(`${a.root}/locked`, 0o000);
    await a.write("open.txt", "v2 (longer)");
    try {
      await a.sync();
      const problems = (await a.repo()).state.problems().map((p) => `${p.direction} ${p.path}`);
      assertEquals(problems, ["up locked", "up secret.txt"]);
      await b.sync();
      assertEquals(await b.read("open.txt"), "v2 (longer)");
      assertEquals(await b.read("locked/inside.txt"), "in a folder that becomes unreadable");
    } finally {
      await Deno.chmod(`${a.root}/secret.txt`, 0o644);
      await Deno.chmod(`${a.root}/locked`, 0o755);
    }
    await a.sync();
    await b.sync();
    assertEquals(await b.tree(), await a.tree());
    assertEquals(Object.keys(await b.tree()).length, 3);
    assertEquals((await a.repo()).state.problems(), []);
  });
});
