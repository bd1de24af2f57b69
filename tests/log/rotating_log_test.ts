import { assert, assertEquals } from "../assert.ts";
import { RotatingLog } from "../../src/log/rotating_log.ts";
import { EscaleError } from "../../src/errors/errors.ts";

const fixed = () => new Date(2024, 2, 5, 9, 7, 3); // 5 March 2024, 09:07:03 local time

function read(path: string): string {
  return Deno.readTextFileSync(path);
}

Deno.test("RotatingLog: Escale-like line format, children, level names, folder and 0600 mode", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/sub/deeper/escale.log`;
    const log = RotatingLog.open({ level: "debug", rotate: 3, path, now: fixed });
    log.log("info", "started");
    const a = log.child("photos");
    a.log("debug", "scanned 3 files");
    a.log("warn", "slow relay");
    a.child("ftp").log("error", "two\nlines\r\nthree");
    log.close();
    assertEquals(read(path).split("\n"), [
      "05/03 09:07:03 escale[INFO]\tstarted",
      "05/03 09:07:03 escale[photos][DEBUG]\tscanned 3 files",
      "05/03 09:07:03 escale[photos][WARNING]\tslow relay",
      "05/03 09:07:03 escale[photos][ftp][ERROR]\ttwo",
      "\tlines",
      "\tthree",
      "",
    ]);
    assertEquals(Deno.statSync(path).mode! & 0o777, 0o600);
    assertEquals(Deno.statSync(`${dir}/sub/deeper`).mode! & 0o077, 0);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("RotatingLog: level filter from the configuration's names", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const cases: [string, string[]][] = [
      ["debug", ["DEBUG", "INFO", "WARNING", "ERROR"]],
      ["INFO", ["INFO", "WARNING", "ERROR"]],
      ["warning", ["WARNING", "ERROR"]],
      ["warn", ["WARNING", "ERROR"]],
      ["error", ["ERROR"]],
      ["critical", ["ERROR"]],
    ];
    for (const [level, want] of cases) {
      const path = `${dir}/${level}.log`;
      const log = RotatingLog.open({ rotate: 3, path, level, now: fixed });
      for (const l of ["debug", "info", "warn", "error"] as const) log.log(l, l);
      log.close();
      const got = read(path).trim().split("\n").map((s) => /\[([A-Z]+)\]/.exec(s)![1]);
      assertEquals(got, want, level);
    }
    let err: unknown;
    try {
      RotatingLog.open({ path: `${dir}/x.log`, level: "loud", rotate: 3 });
    } catch (e) {
      err = e;
    }
    assert(err instanceof EscaleError && err.kind === "config", String(err));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("RotatingLog: rotates at the size limit and keeps `rotate` backups", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/r.log`;
    const log = RotatingLog.open({ level: "debug", path, rotate: 2, maxBytes: 200, now: fixed });
    // Each line is 100 bytes: two fit in a file.
    const line = (n: number) => `${String(n).padStart(3, "0")} ${"x".repeat(100 - 29 - 4)}`;
    for (let n = 1; n <= 9; n++) log.log("info", line(n));
    log.close();
    const lines = (p: string) =>
      read(p).trim().split("\n").map((s) => s.split("\t")[1].slice(0, 3));
    for (const p of [path, `${path}.1`, `${path}.2`]) {
      assert(Deno.statSync(p).size <= 200, `${p} is ${Deno.statSync(p).size} bytes`);
      assertEquals(Deno.statSync(p).mode! & 0o777, 0o600, p);
    }
    assertEquals(lines(path), ["009"]);
    assertEquals(lines(`${path}.1`), ["007", "008"]);
    assertEquals(lines(`${path}.2`), ["005", "006"]);
    let third = true;
    try {
      Deno.statSync(`${path}.3`);
    } catch {
      third = false;
    }
    assert(!third, "only two backups are kept");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("RotatingLog: rotate = 0 restarts the file instead of growing it", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/r.log`;
    const log = RotatingLog.open({ level: "debug", path, rotate: 0, maxBytes: 300, now: fixed });
    for (let n = 0; n < 50; n++) log.log("info", `line ${n} ${"y".repeat(40)}`);
    log.close();
    assert(Deno.statSync(path).size <= 300);
    assert(read(path).includes("line 49 "));
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["r.log"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("RotatingLog: an existing world-readable log is narrowed to 0600", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/old.log`;
    Deno.writeTextFileSync(path, "old line\n", { mode: 0o644 });
    Deno.chmodSync(path, 0o644);
    const log = RotatingLog.open({ level: "debug", rotate: 3, path, now: fixed });
    log.log("info", "new");
    log.close();
    assertEquals(Deno.statSync(path).mode! & 0o777, 0o600);
    assert(read(path).startsWith("old line\n"), "appends, never truncates");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("RotatingLog: every line is on disk when log() returns, even after close", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/sync.log`;
    const log = RotatingLog.open({ level: "debug", rotate: 3, path, now: fixed });
    log.log("info", "first");
    assert(read(path).includes("first"), "written synchronously");
    log.close();
    log.log("info", "after close");
    assert(read(path).includes("after close"), "reopened on demand");
    log.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("RotatingLog: follows a file removed or rotated by another process", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/shared.log`;
    const log = RotatingLog.open({ level: "debug", rotate: 3, path, now: fixed });
    log.log("info", "one");
    Deno.renameSync(path, `${path}.1`);
    log.log("info", "two");
    Deno.removeSync(path);
    log.log("info", "three");
    log.close();
    assert(read(`${path}.1`).includes("one") && !read(`${path}.1`).includes("two"));
    assertEquals(read(path).trim().split("\n").length, 1);
    assert(read(path).includes("three"));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("RotatingLog: a write failure is reported once and never thrown", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/logs/x.log`;
    const errors: unknown[] = [];
    const log = RotatingLog.open({
      level: "debug",
      rotate: 3,
      path,
      now: fixed,
      onError: (e) => errors.push(e),
    });
    log.log("info", "ok");
    // The folder disappears and a file takes its place: the log cannot be reopened.
    Deno.removeSync(`${dir}/logs`, { recursive: true });
    Deno.writeTextFileSync(`${dir}/logs`, "not a folder");
    log.log("info", "lost 1");
    log.log("info", "lost 2");
    assertEquals(errors.length, 1);
    Deno.removeSync(`${dir}/logs`);
    log.log("info", "back");
    log.close();
    assert(read(path).includes("back"));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("RotatingLog: a log that cannot be opened is a local-io EscaleError", () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/file`, "");
    let err: unknown;
    try {
      RotatingLog.open({ path: `${dir}/file/x.log`, level: "debug", rotate: 3 });
    } catch (e) {
      err = e;
    }
    assert(err instanceof EscaleError && err.kind === "local-io", String(err));
    assert(err.message.includes(`${dir}/file/x.log`), err.message);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("RotatingLog: nothing is lost when the process exits abruptly", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/exit.log`;
    const mod = new URL("../../src/log/rotating_log.ts", import.meta.url).href;
    const code = `import { RotatingLog } from ${JSON.stringify(mod)};
      const log = RotatingLog.open({ path: ${JSON.stringify(path)}, level: "debug", rotate: 3 });
      for (let i = 0; i < 1000; i++) log.log("info", "line " + i);
      Deno.exit(3);`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--quiet", code],
      stdout: "null",
      stderr: "piped",
    }).output();
    assertEquals(out.code, 3, new TextDecoder().decode(out.stderr));
    const lines = read(path).trim().split("\n");
    assertEquals(lines.length, 1000);
    assert(lines[999].endsWith("\tline 999"));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
