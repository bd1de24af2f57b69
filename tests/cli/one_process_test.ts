// One client, one process (issue 18): while an `escale run` uses a repository's state, a second
// process on it exits at once with code 9 and the first one's pid (cron overlapping a daemon used
// to publish twice, resurrect deletions and make conflict copies). The lock is the kernel's, so
// a SIGKILLed holder leaves nothing behind; a daemon retries and takes over.
import { assert, assertEquals } from "../assert.ts";
import { readTree } from "../engine/sandbox.ts";
import { conf, escale } from "./cli_helpers.ts";

const root = new URL("../../", import.meta.url).pathname;

/** A real `escale` process whose stderr can be awaited line by line. */
function spawn(args: string[], env: Record<string, string> = {}) {
  const child = new Deno.Command(`${root}scripts/escale`, {
    args,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  return {
    child,
    /** Reads stderr until `text` has appeared (at most a minute, as a guard against a hang). */
    async waitFor(text: string): Promise<string> {
      const deadline = Date.now() + 60_000;
      while (!seen.includes(text) && Date.now() < deadline) {
        const r = await reader.read();
        if (r.done) break;
        seen += r.value;
      }
      assert(seen.includes(text), `never printed ${JSON.stringify(text)}:\n${seen}`);
      const out = seen;
      seen = seen.slice(seen.indexOf(text) + text.length);
      return out;
    },
    async end(): Promise<Deno.CommandStatus> {
      const status = await child.status;
      await reader.cancel().catch(() => {});
      return status;
    },
  };
}

Deno.test("cli: a second process on a repository exits with 9; a SIGKILLed holder frees it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "escale-oneproc-" });
  const started: ReturnType<typeof spawn>[] = [];
  try {
    for (const c of ["A", "B", "relay"]) await Deno.mkdir(`${dir}/${c}`);
    for (const c of ["A", "B"]) {
      await conf(
        `${dir}/${c}.conf`,
        `[${c}]\nclient name = ${c}\nlocal path = ${dir}/${c}\nrelay path = ${dir}/relay\nrefresh = 1\n`,
      );
    }
    assertEquals((await escale(["run", "--once", "-c", `${dir}/B.conf`])).code, 0);
    await Deno.writeTextFile(`${dir}/A/f.txt`, "from A");

    // The holder stops in the middle of its round, lock taken, until it is killed.
    const holder = spawn(["run", "--once", "-c", `${dir}/A.conf`], {
      ESCALE_FAULTS: "write:stall:1:^data/",
    });
    started.push(holder);
    await holder.waitFor("fault injection: stalling");
    const busy = new RegExp(
      `A: another escale process \\(pid ${holder.child.pid}\\) is already synchronising ` +
        "this repository; ",
    );

    const second = await escale(["run", "--once", "-c", `${dir}/A.conf`]);
    assertEquals(second.code, 9, second.stderr);
    const lines = second.stderr.trim().split("\n");
    assertEquals(lines.length, 1, second.stderr);
    assert(busy.test(lines[0]), lines[0]);

    // Commands that write the state need it to themselves; reading it does not.
    for (const args of [["ctl", "access", `${dir}/A/f.txt`, "r-"], ["ctl", "evict", "B"]]) {
      const r = await escale([...args, "-c", `${dir}/A.conf`]);
      assertEquals(r.code, 9, `${args.join(" ")}: ${r.stderr}`);
      assert(busy.test(r.stderr), r.stderr);
    }
    for (const args of [["ctl", "access", `${dir}/A/f.txt`], ["ctl", "status"]]) {
      const r = await escale([...args, "-c", `${dir}/A.conf`]);
      assertEquals(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    }
    // Another repository is not concerned.
    assertEquals((await escale(["run", "--once", "-c", `${dir}/B.conf`])).code, 0);

    // A daemon does not give up: it reports the holder, retries, and takes over once it is gone.
    const daemon = spawn(["run", "-c", `${dir}/A.conf`]);
    started.push(daemon);
    await daemon.waitFor(`another escale process (pid ${holder.child.pid})`);
    holder.child.kill("SIGKILL");
    await holder.end();
    await daemon.waitFor("sent 1 file");
    daemon.child.kill("SIGTERM");
    assertEquals((await daemon.end()).code, 0);

    assertEquals((await escale(["run", "--once", "-c", `${dir}/B.conf`])).code, 0);
    assertEquals(await readTree(`${dir}/B`), { "f.txt": "from A" });
  } finally {
    for (const p of started) {
      try {
        p.child.kill("SIGKILL");
      } catch { /* already ended */ }
      await p.end();
    }
    await Deno.remove(dir, { recursive: true });
  }
});
