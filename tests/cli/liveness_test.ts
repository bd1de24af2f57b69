// Every escale process ends: a failing rclone relay does not leave the run waiting on its rclone
// child, and SIGTERM stops a run that is stuck (a stalled relay, a hook that never returns) with
// exit code 130 and no child left behind. Each run gets a hang detector (a generous bound after
// which the test kills escale and fails), never a speed assertion.
import { assert, assertEquals } from "../assert.ts";
import { conf } from "./cli_helpers.ts";
import { EscaleProcess, killAll, recordingRclone, runningPids } from "./escale_process.ts";

/** Far more than any of these runs needs; only a hang reaches it. */
const HANG_MS = 30_000;

/** rclone reads no config file of the user's: remotes come from the environment only. */
const NO_CONFIG = { RCLONE_CONFIG: "/dev/null" };

async function sandbox(name: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: `escale-live-${name}-` });
  await Deno.mkdir(`${dir}/A`);
  await Deno.writeTextFile(`${dir}/A/a.txt`, "some content\n");
  return dir;
}

/** A port where nothing listens (bound, then released). */
function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("liveness: a run --once on a failing rclone relay prints its error, exits, and leaves no rclone running", async () => {
  const dir = await sandbox("rclone-fail");
  const { binary, pids } = await recordingRclone(dir);
  const dead = closedPort();
  const cases: { name: string; lines: string; env?: Record<string, string>; code: number }[] = [
    { name: "unknown remote", lines: "protocol = rclone\nhost address = nosuch:path", code: 2 },
    { name: "dropbox not configured", lines: "protocol = dropbox\nhost address = box:", code: 2 },
    {
      name: "server down",
      lines: "protocol = rclone\nhost address = deaddav:relay\ntimeout = 5\nmax retries = 0",
      env: {
        RCLONE_CONFIG_DEADDAV_TYPE: "webdav",
        RCLONE_CONFIG_DEADDAV_URL: `http://127.0.0.1:${dead}/dav`,
      },
      code: 3,
    },
  ];
  try {
    for (const c of cases) {
      await conf(
        `${dir}/A.conf`,
        `[A]\nclient = A\nlocal path = ${dir}/A\nrclone binary = ${binary}\n${c.lines}\n`,
      );
      const p = new EscaleProcess(["run", "--once", "-c", `${dir}/A.conf`], {
        ...NO_CONFIG,
        ...c.env,
      });
      const r = await p.ended(HANG_MS);
      assert(r.code !== null, `${c.name}: escale did not exit:\n${r.stderr}`);
      assertEquals(r.code, c.code, `${c.name}: ${r.stderr}`);
      const errors = r.stderr.split("\n").filter((l) => /error/i.test(l));
      assertEquals(errors.length, 1, `${c.name}: not one error line:\n${r.stderr}`);
      assert(!/\bat .*\.ts:\d+/.test(r.stderr), `${c.name}: a stack trace:\n${r.stderr}`);
      const left = await runningPids(pids);
      killAll(left);
      assertEquals(left, [], `${c.name}: rclone processes left running`);
      assert((await Deno.readTextFile(pids)).trim() !== "", `${c.name}: rclone never ran`);
      await Deno.remove(pids);
    }
  } finally {
    killAll(await runningPids(pids));
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("liveness: a data object replaced by a FIFO on a file relay is an integrity error, not a hang", async () => {
  const dir = await sandbox("fifo");
  try {
    await Deno.mkdir(`${dir}/B`);
    await Deno.mkdir(`${dir}/relay`);
    const section = (c: string) =>
      `[${c}]\nclient = ${c}\nlocal path = ${dir}/${c}\nrelay path = ${dir}/relay\n`;
    await conf(`${dir}/A.conf`, section("A"));
    await conf(`${dir}/B.conf`, section("B"));
    const b0 = await new EscaleProcess(["run", "--once", "-c", `${dir}/B.conf`]).ended(HANG_MS);
    assertEquals(b0.code, 0, b0.stderr);
    const a = await new EscaleProcess(["run", "--once", "-c", `${dir}/A.conf`]).ended(HANG_MS);
    assertEquals(a.code, 0, a.stderr);
    const objects: string[] = [];
    const walk = async (d: string) => {
      for await (const e of Deno.readDir(d)) {
        if (e.isDirectory) await walk(`${d}/${e.name}`);
        else objects.push(`${d}/${e.name}`);
      }
    };
    await walk(`${dir}/relay/data`);
    assert(objects.length > 0, "A published no data object");
    for (const f of objects) {
      await Deno.remove(f);
      const mk = await new Deno.Command("mkfifo", { args: [f] }).output();
      assert(mk.success, "mkfifo failed");
    }
    const b = await new EscaleProcess(["run", "--once", "-c", `${dir}/B.conf`]).ended(HANG_MS);
    assert(b.code !== null, `escale hung on the FIFO:\n${b.stderr}`);
    assertEquals(b.code, 6, b.stderr);
    assert(/error: .*data\/.*not a regular file/.test(b.stderr), b.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
