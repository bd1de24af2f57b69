// `escale ctl start | status | stop | restart`: a background instance per configuration.
import { assert, assertEquals } from "../assert.ts";
import { conf, escale } from "./cli_helpers.ts";

async function waitFor(cond: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("timed out waiting");
}

Deno.test("cli: ctl start, status, stop; a SIGKILLed instance leaves a stale pid file that is cleaned", async () => {
  const dir = await Deno.makeTempDir({ prefix: "escale-svc-" });
  const cfg = `${dir}/A.conf`;
  try {
    for (const d of ["A", "B", "relay"]) await Deno.mkdir(`${dir}/${d}`);
    await conf(
      cfg,
      `[A]\nclient = A\nlocal path = ${dir}/A\nrelay path = ${dir}/relay\nrefresh = 1\n`,
    );
    await conf(
      `${dir}/B.conf`,
      `[B]\nclient = B\nlocal path = ${dir}/B\nrelay path = ${dir}/relay\n`,
    );
    const start = await escale(["ctl", "start", "-c", cfg]);
    assertEquals(start.code, 0, start.stderr);
    const pid = Number(/pid (\d+)/.exec(start.stdout)![1]);
    const again = await escale(["ctl", "start", "-c", cfg]);
    assertEquals(again.code, 2, "a second instance was started");
    assert(again.stderr.includes("already running"), again.stderr);
    await Deno.writeTextFile(
      `${dir}/A/made-while-running.txt`,
      "picked up by the background instance",
    );
    await escale(["run", "--once", "-c", `${dir}/B.conf`]);
    await waitFor(async () => {
      await escale(["run", "--once", "-c", `${dir}/B.conf`]);
      return await Deno.stat(`${dir}/B/made-while-running.txt`).then(() => true, () => false);
    });
    const status = await escale(["ctl", "status", "-c", cfg]);
    assert(status.stdout.includes(`running for ${cfg} (pid ${pid}`), status.stdout);
    assert(/A: last round .* ok/.test(status.stdout), status.stdout);
    const json = JSON.parse((await escale(["ctl", "status", "--json", "-c", cfg])).stdout);
    assertEquals(json.running, true);
    assertEquals(json.sections[0].status.ok, true);
    const stop = await escale(["ctl", "stop", "-c", cfg]);
    assertEquals(stop.code, 0, stop.stderr);
    assert(stop.stdout.includes("stopped"), stop.stdout);
    assert((await escale(["ctl", "status", "-c", cfg])).stdout.includes("not running"));

    // A killed instance: the pid file stays, is recognised as stale, and start works again.
    const s2 = await escale(["ctl", "start", "-c", cfg]);
    assertEquals(s2.code, 0, s2.stderr);
    const pid2 = Number(/pid (\d+)/.exec(s2.stdout)![1]);
    Deno.kill(pid2, "SIGKILL");
    await waitFor(() =>
      Promise.resolve(
        new Deno.Command("kill", { args: ["-0", String(pid2)], stderr: "null" }).outputSync()
          .success === false,
      )
    );
    const st = await escale(["ctl", "status", "-c", cfg]);
    assert(st.stdout.includes("not running"), st.stdout);
    const s3 = await escale(["ctl", "restart", "-c", cfg]);
    assertEquals(s3.code, 0, s3.stderr);
    assert(s3.stdout.includes("started"), s3.stdout);
    assertEquals((await escale(["ctl", "stop", "-c", cfg])).code, 0);
  } finally {
    await escale(["ctl", "stop", "-c", cfg, "--timeout", "5"]).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
