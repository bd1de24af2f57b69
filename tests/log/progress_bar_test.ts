import { assert, assertEquals } from "../assert.ts";
import { type BarStream, ProgressBars } from "../../src/log/progress_bar.ts";
import { emptyStats } from "../../src/log/round_events.ts";

/** A fake terminal: records what cli-progress draws. */
function fakeTty(isTTY = true): BarStream & { text(): string } {
  const parts: string[] = [];
  return {
    isTTY,
    columns: 120,
    write(s: string | Uint8Array) {
      parts.push(typeof s === "string" ? s : new TextDecoder().decode(s));
      return true;
    },
    text: () => parts.join(""),
  } as unknown as BarStream & { text(): string };
}

// deno-lint-ignore no-control-regex
const plain = (s: string) => s.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]/g, "");

const MiB = 1024 * 1024;

Deno.test("ProgressBars: files, bytes, speed and ETA on a terminal; removed at the end", async () => {
  const tty = fakeTty();
  let t = 0;
  const bars = await ProgressBars.create({ stream: tty, enabled: true, now: () => t });
  try {
    const s = bars.sink();
    s.begin("docs");
    s.event({ type: "file-start", direction: "up", path: "a", size: 6 * MiB });
    s.event({ type: "file-start", direction: "down", path: "b", size: 4 * MiB });
    t = 1000;
    s.event({ type: "bytes", direction: "up", bytes: 2 * MiB });
    t = 2000;
    s.event({ type: "bytes", direction: "up", bytes: 2 * MiB });
    s.event({ type: "file-done", direction: "up", path: "a", size: 6 * MiB });
    await new Promise((r) => setTimeout(r, 250)); // cli-progress redraws at 10 fps
    const drawn = plain(tty.text());
    assert(drawn.includes("docs ["), drawn);
    assert(drawn.includes("40%"), drawn);
    assert(drawn.includes("1/2 files"), drawn);
    assert(drawn.includes("4.0 MiB/10.0 MiB"), drawn);
    assert(drawn.includes("2.0 MiB/s"), drawn);
    assert(drawn.includes("ETA 00:03"), drawn);
    bars.logLine("escale[docs]: a log line");
    s.end(emptyStats());
    assert(plain(tty.text()).includes("escale[docs]: a log line\n"), "flushed above the bars");
    const before = tty.text().length;
    bars.logLine("after the round");
    assertEquals(tty.text().slice(before), "after the round\n");
  } finally {
    bars.stop();
  }
});

Deno.test("ProgressBars: a round with nothing to transfer draws nothing", async () => {
  const tty = fakeTty();
  const bars = await ProgressBars.create({ stream: tty, enabled: true });
  const s = bars.sink();
  s.begin("idle");
  s.event({ type: "deleted", path: "x" });
  s.end(emptyStats());
  bars.stop();
  assertEquals(tty.text(), "");
});

Deno.test("ProgressBars: two repositories share the screen; a failure removes its bar", async () => {
  const tty = fakeTty();
  const bars = await ProgressBars.create({ stream: tty, enabled: true });
  try {
    const a = bars.sink();
    const b = bars.sink();
    a.begin("alpha");
    b.begin("beta");
    a.event({ type: "file-start", direction: "up", path: "x", size: 100 });
    b.event({ type: "file-start", direction: "down", path: "y", size: 100 });
    await new Promise((r) => setTimeout(r, 150));
    const drawn = plain(tty.text());
    assert(drawn.includes("alpha [") && drawn.includes("beta ["), drawn);
    a.fail("boom", 1);
    b.event({ type: "bytes", direction: "down", bytes: 100 });
    b.end(emptyStats());
  } finally {
    bars.stop();
  }
});

Deno.test("ProgressBars: disabled, it prints nothing at all", async () => {
  const tty = fakeTty();
  const bars = await ProgressBars.create({ stream: tty, enabled: false });
  const s = bars.sink();
  s.begin("docs");
  s.event({ type: "file-start", direction: "up", path: "a", size: 10 });
  s.event({ type: "bytes", direction: "up", bytes: 10 });
  s.event({ type: "file-done", direction: "up", path: "a", size: 10 });
  s.end(emptyStats());
  bars.stop();
  assertEquals(tty.text(), "");
});

const script = (mod: string) =>
  `import { ProgressBars } from ${JSON.stringify(mod)};
  const bars = await ProgressBars.create();
  const s = bars.sink();
  s.begin("docs");
  s.event({ type: "file-start", direction: "up", path: "a", size: 1048576 });
  for (let i = 1; i <= 16; i++) {
    s.event({ type: "bytes", direction: "up", bytes: 65536 });
    await new Promise((r) => setTimeout(r, 40));
  }
  s.event({ type: "file-done", direction: "up", path: "a", size: 1048576 });
  console.log("enabled=" + bars.enabled);
  await new Promise((r) => setTimeout(r, 3000));
  s.end({});
  bars.stop();
  console.log("DONE");`;

Deno.test("ProgressBars: off by default when output is not a terminal", async () => {
  const mod = new URL("../../src/log/progress_bar.ts", import.meta.url).href;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", script(mod).replace("3000", "0")],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 0, err);
  assertEquals(new TextDecoder().decode(out.stdout), "enabled=false\nDONE\n");
  assertEquals(err, "");
});

const hasTmux = (() => {
  try {
    return new Deno.Command("tmux", { args: ["-V"], stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "ProgressBars: visible on a real terminal (tmux)",
  ignore: !hasTmux,
  async fn() {
    const dir = Deno.makeTempDirSync();
    const session = `escale-progress-${Deno.pid}`;
    const tmux = (...args: string[]) =>
      new Deno.Command("tmux", { args, stdout: "piped", stderr: "piped" }).outputSync();
    try {
      const mod = new URL("../../src/log/progress_bar.ts", import.meta.url).href;
      Deno.writeTextFileSync(`${dir}/p.ts`, script(mod));
      const config = new URL("../../deno.json", import.meta.url).pathname;
      const cmd = `${Deno.execPath()} run -A --quiet --config ${config} ${dir}/p.ts; sleep 30`;
      assert(tmux("new-session", "-d", "-s", session, "-x", "150", "-y", "20", cmd).success);
      let screen = "";
      for (let i = 0; i < 100 && !screen.includes("enabled="); i++) {
        await new Promise((r) => setTimeout(r, 100));
        screen = new TextDecoder().decode(tmux("capture-pane", "-p", "-t", session).stdout);
      }
      assert(screen.includes("enabled=true"), screen);
      assert(
        /docs \[#+-*\] \d+% \| \d\/1 files \| [\d.]+ (KiB|MiB)\/1\.0 MiB/.test(screen),
        screen,
      );
      assert(/ETA \d\d:\d\d/.test(screen) && /\/s /.test(screen), screen);
    } finally {
      tmux("kill-session", "-t", session);
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
