import { assert, assertEquals, settlesWithin } from "../assert.ts";
import { Notifier } from "../../src/log/notifier.ts";
import { FailureReporter } from "../../src/log/failure_reporter.ts";
import { ErrorLog } from "../../src/log/error_log.ts";
import { collectingLogger } from "../../src/log/logger.ts";
import { SmtpServer } from "./smtp_server.ts";

const PASSWORD = "Tr0ub4dor&3";
const PASSPHRASE = "correct horse battery staple";
const failure = {
  section: "photos",
  message: `cannot reach ftp://bob:${PASSWORD}@nas.local/photos; key "${PASSPHRASE}" rejected`,
  exitCode: 3,
};

/** A hook script that records its arguments and the ESCALE_* variables. */
function hookScript(dir: string, extra = ""): string {
  const path = `${dir}/hook.sh`;
  Deno.writeTextFileSync(
    path,
    `#!/bin/sh
{
  echo "argc=$#"
  for a in "$@"; do echo "arg=$a"; done
  echo "section=$ESCALE_SECTION"
  echo "error=$ESCALE_ERROR"
  echo "code=$ESCALE_EXIT_CODE"
  echo "home=$HOME"
} > "${dir}/hook.out"
${extra}
`,
  );
  Deno.chmodSync(path, 0o755);
  // Run through sh, not exec'd directly: a fork by another test worker while the script was
  // still open for writing would make exec fail with "text file busy".
  return `/bin/sh ${path}`;
}

Deno.test("Notifier: mails the maintainer and runs the hook, with secrets hidden everywhere", async () => {
  const dir = Deno.makeTempDirSync();
  const srv = new SmtpServer();
  try {
    const log = collectingLogger();
    const n = new Notifier({
      maintainer: "Admin <admin@example.org>, ops@example.org",
      smtpHost: "127.0.0.1",
      smtpPort: srv.port,
      onFailure: `${hookScript(dir)} --flag "two words"`,
      secrets: [PASSWORD, PASSPHRASE],
      log,
      hostname: "box",
    });
    assert(n.configured);
    await n.notify({ ...failure, detail: "escale retries in 40 s" });

    const [s] = srv.sessions;
    assertEquals(s.commands.slice(0, 4), [
      "EHLO box",
      "MAIL FROM:<escale@box>",
      "RCPT TO:<admin@example.org>",
      "RCPT TO:<ops@example.org>",
    ]);
    const m = SmtpServer.message(s);
    assert(m.headers.get("subject")!.startsWith("escale[photos] failed on box: cannot reach"));
    assert(m.body.startsWith("'escale[photos]' on box hit the following error:"), m.body);
    assert(m.body.includes("cannot reach ftp://bob:***@nas.local/photos"), m.body);
    assert(m.body.includes("escale retries in 40 s"), m.body);
    assert(m.body.includes("Exit code: 3 (relay unreachable"), m.body);

    const out = Deno.readTextFileSync(`${dir}/hook.out`);
    assertEquals(out.split("\n").slice(0, 3), ["argc=2", "arg=--flag", "arg=two words"]);
    assert(out.includes("section=photos\n"), out);
    assert(
      out.includes('error=cannot reach ftp://bob:***@nas.local/photos; key "***" rejected\n'),
      out,
    );
    assert(out.includes("code=3\n"), out);
    assert(out.includes(`home=${Deno.env.get("HOME") ?? ""}\n`), "the environment is inherited");

    const everything = [s.commands.join("\n"), s.data.join("\n"), m.body, out, log.lines.join("\n")]
      .join("\n");
    for (const secret of [PASSWORD, PASSPHRASE, encodeURIComponent(PASSWORD)]) {
      assert(!everything.includes(secret), `${secret} leaked`);
    }
    assert(
      log.lines.includes(
        "INFO told admin@example.org, ops@example.org about the failure by e-mail",
      ),
    );
  } finally {
    await srv.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("Notifier: the error never appears on the hook's command line", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    // The hook looks at its own command line as the process list shows it to everyone.
    const path = `${dir}/ps.sh`;
    Deno.writeTextFileSync(path, `#!/bin/sh\ntr '\\0' ' ' < /proc/$$/cmdline > "${dir}/cmdline"\n`);
    Deno.chmodSync(path, 0o755);
    await new Notifier({ onFailure: path, log: collectingLogger() }).notify({
      section: "s",
      message: "UNIQUE-ERROR-TEXT",
      exitCode: 1,
    });
    const cmdline = Deno.readTextFileSync(`${dir}/cmdline`);
    assert(cmdline.includes("ps.sh"), cmdline);
    assert(!cmdline.includes("UNIQUE-ERROR-TEXT"), cmdline);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("Notifier: failures are logged as warnings, never thrown", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const closedPort = (l.addr as Deno.NetAddr).port;
    l.close();
    const log = collectingLogger();
    const failing = `${dir}/fail.sh`;
    Deno.writeTextFileSync(
      failing,
      `#!/bin/sh\necho "no route to pager (${PASSWORD})" >&2\nexit 7\n`,
    );
    Deno.chmodSync(failing, 0o755);
    await new Notifier({
      maintainer: "admin@example.org, not an address",
      smtpHost: "127.0.0.1",
      smtpPort: closedPort,
      onFailure: failing,
      secrets: [PASSWORD],
      log,
    }).notify(failure);
    await new Notifier({ onFailure: `${dir}/missing-hook arg`, log }).notify(failure);
    await new Notifier({ onFailure: `hook 'unterminated`, log }).notify(failure);
    const text = log.lines.join("\n");
    assert(!text.includes(PASSWORD), text);
    assert(
      text.includes(`WARN maintainer: "not an address" is not an e-mail address; skipped`),
      text,
    );
    assert(
      text.includes(
        `WARN cannot e-mail the maintainer through 127.0.0.1:${closedPort}: SMTP server`,
      ),
      text,
    );
    assert(
      text.includes(`WARN on failure: ${failing} exited with code 7: no route to pager (***)`),
      text,
    );
    assert(text.includes(`WARN on failure: cannot run ${dir}/missing-hook:`), text);
    assert(text.includes("WARN on failure: unterminated ' quote in the command"), text);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("Notifier: a hook that hangs is stopped; one that leaves a child behind does not hold us", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const log = collectingLogger();
    // The hook sleeps 30 s: finishing well before that means it was stopped.
    await settlesWithin(
      new Notifier({ onFailure: "sleep 30", log, hookTimeoutMs: 300 }).notify(failure),
      20_000,
      "notify with a hanging hook",
    );
    assert(
      log.lines.some((l) => l.includes("on failure: sleep did not finish within 0.3 s")),
      log.lines.join("\n"),
    );

    // The background `sleep` keeps the hook's stdout open after the hook itself exited.
    // Waiting for that output to close would take the sleep's 30 s.
    const hook = hookScript(dir, "sleep 30 &\nexit 0");
    await settlesWithin(new Notifier({ onFailure: hook, log }).notify(failure), 20_000, "notify");
    let out = "";
    try {
      out = Deno.readTextFileSync(`${dir}/hook.out`);
    } catch {
      // reported below with the log
    }
    assert(out.includes("section=photos"), `hook output: ${out}\nlog:\n${log.lines.join("\n")}`);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("Notifier: nothing configured, nothing done", async () => {
  const log = collectingLogger();
  const n = new Notifier({ maintainer: " ", onFailure: "", log });
  assert(!n.configured);
  await n.notify(failure);
  assertEquals(log.lines, []);
});

Deno.test("FailureReporter: error.log and notification once per failing episode", async () => {
  const dir = Deno.makeTempDirSync();
  const srv = new SmtpServer();
  try {
    const log = collectingLogger();
    const notifier = new Notifier({
      maintainer: "admin@example.org",
      smtpHost: "127.0.0.1",
      smtpPort: srv.port,
      secrets: [PASSWORD],
      log,
    });
    const errorLog = ErrorLog.beside(`${dir}/escale.log`, { secrets: [PASSWORD] });
    const r = new FailureReporter(errorLog);
    await r.failed(failure, notifier);
    await r.failed({ ...failure, message: "still down" }, notifier);
    assert(r.isFailing("photos"));
    await r.failed({ section: "docs", message: "disk full", exitCode: 8 }, notifier);
    r.succeeded("photos");
    assert(!r.isFailing("photos"));
    await r.failed({ ...failure, message: "down again" }, notifier);
    const lines = Deno.readTextFileSync(errorLog.path).trim().split("\n").map((l) => l.slice(17));
    assertEquals(lines, [
      `photos: cannot reach ftp://bob:***@nas.local/photos; key "${PASSPHRASE}" rejected`,
      "docs: disk full",
      "photos: down again",
    ]);
    assertEquals(srv.sessions.length, 3);
  } finally {
    await srv.close();
    Deno.removeSync(dir, { recursive: true });
  }
});
