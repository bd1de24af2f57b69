import { assert, assertEquals } from "../assert.ts";
import { ErrorLog } from "../../src/log/error_log.ts";
import { defaultLogFile } from "../../src/log/log_location.ts";

Deno.test("ErrorLog: one line per failure, YYYY/MM/DD, next to the log file, 0600, redacted", () => {
  const dir = Deno.makeTempDirSync();
  try {
    // 4 February: a swapped day and month would read 2024/04/02.
    const now = () => new Date(2024, 1, 4, 13, 5, 59);
    const log = ErrorLog.beside(`${dir}/logs/escale.log`, { now, secrets: ["s3cr3t"] });
    assertEquals(log.path, `${dir}/logs/error.log`);
    log.record("photos", "relay ftp://bob:pw@h unreachable\n(timed out)");
    log.record("docs [2]", "wrong passphrase s3cr3t");
    assertEquals(
      Deno.readTextFileSync(log.path),
      [
        "2024/02/04 13:05 photos: relay ftp://bob:***@h unreachable (timed out)",
        "2024/02/04 13:05 docs [2]: wrong passphrase ***",
        "",
      ].join("\n"),
    );
    assertEquals(Deno.statSync(log.path).mode! & 0o777, 0o600);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("ErrorLog: bounded by one backup; failures to write are reported, not thrown", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const log = new ErrorLog(`${dir}/error.log`, { maxBytes: 100 });
    for (let i = 0; i < 20; i++) log.record("s", `failure number ${i}`);
    assert(Deno.statSync(`${dir}/error.log`).size <= 100 + 60);
    assert(Deno.statSync(`${dir}/error.log.1`).size <= 100 + 60);
    assert(Deno.readTextFileSync(`${dir}/error.log`).includes("failure number 19"));

    const errors: unknown[] = [];
    Deno.writeTextFileSync(`${dir}/blocker`, "");
    new ErrorLog(`${dir}/blocker/error.log`, { onError: (e) => errors.push(e) }).record("s", "x");
    assertEquals(errors.length, 1);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("defaultLogFile: the configuration path with .log, and /var/log for /etc", () => {
  assertEquals(
    defaultLogFile("/home/u/.config/escale/escale.conf"),
    "/home/u/.config/escale/escale.log",
  );
  assertEquals(defaultLogFile("/srv/sync/peer.a.ini"), "/srv/sync/peer.a.log");
  assertEquals(defaultLogFile("/srv/sync/noext"), "/srv/sync/noext.log");
  assertEquals(defaultLogFile("/etc/escale.conf"), "/var/log/escale/escale.log");
  assertEquals(defaultLogFile("/etc/escale/site.conf"), "/var/log/escale/site.log");
  assertEquals(defaultLogFile("/escale.conf"), "/escale.log");
  assertEquals(defaultLogFile("rel.conf"), "./rel.log");
});
