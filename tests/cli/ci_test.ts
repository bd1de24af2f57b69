// CI artifact relaying as a pipeline does it: two separate escale processes without any
// configuration file, a pusher that waits until its output was delivered and a puller started
// later that waits for it, over a real WebDAV server; and the waits' timeout (exit code 10),
// a relay still unreachable at that timeout (exit code 3), the run summary, `refresh = no`, flag
// errors, and the flags and variables the CI examples use.
import { assert, assertEquals } from "../assert.ts";
import { conf, escale } from "./cli_helpers.ts";
import { RESERVED_ENV, settingEnvNames } from "../../src/config/setting_flags.ts";
import { EscaleProcess } from "./escale_process.ts";
import { readTree } from "../engine/sandbox.ts";
import { startWebDavServer } from "../servers/webdav_server.ts";

/** Generous bound for a hang; never a speed assertion. */
const HANG_MS = 180_000;

async function scratch(): Promise<string> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "escale-ci-" }));
  for (const d of ["out", "in", "home"]) await Deno.mkdir(`${dir}/${d}`);
  return dir;
}

interface Summary {
  exitCode: number;
  error?: string;
  repositories: {
    name: string;
    client: string;
    exitCode: number;
    error?: string;
    rounds: number;
    sent: { files: number; bytes: number };
    received: { files: number; bytes: number };
    deleted: number;
    moved: number;
    conflicts: number;
    released: number;
    wait?: { for: string[]; done: boolean; missing: string[]; message: string };
  }[];
}

/** Every regular file below `dir` (Apache's own .DAV folder aside). */
async function objectsUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.name === ".DAV") continue;
    if (e.isDirectory) out.push(...(await objectsUnder(`${dir}/${e.name}`)));
    else out.push(`${dir}/${e.name}`);
  }
  return out;
}

const readSummary = async (path: string) => JSON.parse(await Deno.readTextFile(path)) as Summary;

Deno.test("ci: a pusher waits for delivery, a puller started later waits for changes (WebDAV)", async () => {
  const dav = await startWebDavServer({ password: "ci-Dav-Secret-5521" });
  const dir = await scratch();
  try {
    await Deno.mkdir(`${dir}/out/bin`);
    await Deno.writeTextFile(`${dir}/out/bin/app`, "#!/bin/sh\necho built\n");
    await Deno.writeTextFile(`${dir}/out/report.txt`, "tests: 42 passed\n".repeat(1000));
    const key = `${dir}/home/relay.key`;
    const keygen = await escale(["ctl", "keygen", key], { HOME: `${dir}/home` });
    assertEquals(keygen.code, 0, keygen.stderr);
    const relay = `${dav.url.replace("://", `://${dav.user}@`)}builds`;
    // What a CI job puts in the environment from its secret store: never on the command line.
    const env = {
      HOME: `${dir}/home`,
      ESCALE_PASSWORD: dav.password,
      ESCALE_PASSPHRASE_FILE: key,
      ESCALE_REFRESH: "1",
    };
    const pusherArgs = [
      "run",
      "--local",
      `${dir}/out`,
      "--relay",
      relay,
      "--mode",
      "upload",
      "--client-name",
      "ci",
      "--wait-delivered",
      "--timeout",
      "10m",
      "--summary",
      `${dir}/push-summary.json`,
    ];
    const pusher = new EscaleProcess(pusherArgs, env);
    // The puller starts only once the pusher has published and is waiting for it.
    await pusher.waitForStderr(/waiting: no puller has registered on the relay yet/);
    const pullerArgs = [
      "run",
      "--local",
      `${dir}/in`,
      "--relay",
      relay,
      "--mode",
      "mirror-download",
      "--client-name",
      "lab",
      "--wait-for-changes",
      "--timeout",
      "10m",
      "--json",
      "--summary",
      `${dir}/pull-summary.json`,
    ];
    const puller = new EscaleProcess(pullerArgs, env);
    const [p, q] = await Promise.all([pusher.ended(HANG_MS), puller.ended(HANG_MS)]);
    assertEquals(q.code, 0, q.stderr);
    assertEquals(p.code, 0, p.stderr);
    assert(/every expected puller has everything/.test(p.stderr), p.stderr);
    assertEquals(await readTree(`${dir}/in`, true), await readTree(`${dir}/out`, true));

    const push = await readSummary(`${dir}/push-summary.json`);
    assertEquals(push.exitCode, 0);
    const [r] = push.repositories;
    assertEquals([r.client, r.exitCode, r.sent.files], ["ci", 0, 2]);
    assert(r.released >= 1, "the delivered commit left the relay");
    assertEquals(r.wait?.done, true);
    const pull = await readSummary(`${dir}/pull-summary.json`);
    assertEquals([pull.exitCode, pull.repositories[0].received.files], [0, 2]);

    const events = q.stdout.trim().split("\n").map((l) => JSON.parse(l));
    const last = events.filter((e) => e.event === "waiting").at(-1);
    assertEquals([last?.done, last?.for], [true, ["changes"]], q.stdout);
    // Delivered and released: what is left on the server is the relay's header and the two
    // client records, no commit and no data.
    const left = await objectsUnder(`${dav.dataDir}/builds`);
    assertEquals(left.length, 3, left.join(", "));
    for (const o of [p.stdout, p.stderr, q.stdout, q.stderr]) {
      assert(!o.includes(dav.password), "the password reached an output");
    }
  } finally {
    await dav.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ci: --wait-delivered --timeout exits 10 and names the puller that is missing", async () => {
  const dir = await scratch();
  try {
    await Deno.mkdir(`${dir}/relay`);
    await Deno.writeTextFile(`${dir}/out/a.txt`, "a");
    const env = { HOME: `${dir}/home`, ESCALE_RELAY: `${dir}/relay`, ESCALE_REFRESH: "1" };
    // "lab" registers as a puller, then does not come back.
    const lab = await escale(
      ["run", "--once", "--local", `${dir}/in`, "--mode", "download", "--client-name", "lab"],
      env,
    );
    assertEquals(lab.code, 0, lab.stderr);
    const push = await escale([
      "run",
      "--local",
      `${dir}/out`,
      "--mode",
      "upload",
      "--client-name",
      "ci",
      "--wait-delivered",
      "--timeout",
      "2",
      "--summary",
      `${dir}/s.json`,
    ], env);
    assertEquals(push.code, 10, push.stderr);
    assert(
      /timed out after 2 s: not yet received by lab \(1 commit\)/.test(push.stderr),
      push.stderr,
    );
    const s = await readSummary(`${dir}/s.json`);
    assertEquals([s.exitCode, s.repositories[0].exitCode], [10, 10]);
    assertEquals(s.repositories[0].wait?.missing, ["lab"]);

    // A puller waiting for changes that never come times out the same way.
    const idle = await escale([
      "run",
      "--local",
      `${dir}/in`,
      "--mode",
      "download",
      "--client-name",
      "lab2",
      "--wait-for-changes",
      "--timeout",
      "1",
    ], { ...env, ESCALE_RELAY: `${dir}/relay` });
    // lab2 is new: the pending commit arrives at once, so it does not wait.
    assertEquals(idle.code, 0, idle.stderr);
    const again = await escale([
      "run",
      "--local",
      `${dir}/in`,
      "--mode",
      "download",
      "--client-name",
      "lab2",
      "--wait-for-changes",
      "--timeout",
      "1",
    ], env);
    assertEquals(again.code, 10, again.stderr);
    assert(/timed out after 1 s: nothing new has arrived yet/.test(again.stderr), again.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ci: flag mistakes are one-line usage errors (exit 2), and the summary says so", async () => {
  const dir = await scratch();
  try {
    const env = { HOME: `${dir}/home` };
    const noRelay = await escale(
      ["run", "--local", `${dir}/out`, "--summary", `${dir}/s.json`],
      env,
    );
    assertEquals(noRelay.code, 2, noRelay.stderr);
    assertEquals(noRelay.stderr.trim(), "escale: no relay: give --relay URL (or ESCALE_RELAY)");
    const noRelaySummary = await readSummary(`${dir}/s.json`);
    assertEquals([noRelaySummary.exitCode, noRelaySummary.error], [
      2,
      "no relay: give --relay URL (or ESCALE_RELAY)",
    ]);

    // The parser's own errors get their summary too, whatever the order of the flags.
    const parsing: [string[], RegExp][] = [
      [
        ["--timeout", "abc", "--summary", `${dir}/p1.json`],
        /^option '--timeout <duration>' argument 'abc' is invalid/,
      ],
      [["--summary", `${dir}/p2.json`, "--nosuch"], /^unknown option '--nosuch'$/],
      [[`--summary=${dir}/p3.json`, "--passwd=hunter2"], /^unknown option '--passwd=…'$/],
      [["--summary", `${dir}/p4.json`, "surplus"], /^too many arguments for 'run'/],
    ];
    for (const [i, [args, error]] of parsing.entries()) {
      const r = await escale(["run", "--local", `${dir}/out`, ...args], env);
      assertEquals(r.code, 2, r.stderr);
      const s = await readSummary(`${dir}/p${i + 1}.json`);
      assertEquals([s.exitCode, s.repositories], [2, []], args.join(" "));
      assert(error.test(s.error ?? ""), s.error);
      assert(!r.stderr.includes("hunter2") && !JSON.stringify(s).includes("hunter2"), r.stderr);
    }

    const badMode = await escale(
      ["run", "--local", `${dir}/out`, "--relay", `${dir}/home`, "--mode", "sideways"],
      env,
    );
    assertEquals(badMode.code, 2);
    assert(
      /^escale: '--mode' is not a known mode: 'sideways'/.test(badMode.stderr),
      badMode.stderr,
    );

    const badEnv = await escale(["run", "--local", `${dir}/out`, "--relay", `${dir}/home`], {
      ...env,
      ESCALE_DELETE_THRESHOLD: "lots",
    });
    assertEquals(badEnv.code, 2);
    assert(/^escale: 'ESCALE_DELETE_THRESHOLD' /.test(badEnv.stderr), badEnv.stderr);

    // A secret has no flag that takes it as a value.
    const secret = await escale(
      ["run", "--local", `${dir}/out`, "--relay", `${dir}/home`, "--password", "hunter2"],
      env,
    );
    assertEquals(secret.code, 2);
    assert(/unknown option '--password'/.test(secret.stderr), secret.stderr);
    assert(!secret.stderr.includes("hunter2"), secret.stderr);
    // Nor inside the relay's address: a password there would be on the command line too.
    const inRelay = await escale([
      "run",
      "--local",
      `${dir}/out`,
      "--relay",
      "ftp://ci:Sekr3tPW@127.0.0.1:1/builds",
      "--summary",
      `${dir}/relay-summary.json`,
    ], env);
    assertEquals(inRelay.code, 2, inRelay.stderr);
    assert(
      /^escale: '--relay' holds a password, .*: give the password in ESCALE_PASSWORD or a file named by --password-file .*\n$/
        .test(inRelay.stderr),
      inRelay.stderr,
    );
    const relaySummary = await Deno.readTextFile(`${dir}/relay-summary.json`);
    assertEquals(JSON.parse(relaySummary).exitCode, 2);
    for (const o of [inRelay.stderr, inRelay.stdout, relaySummary]) {
      assert(!o.includes("Sekr3tPW"), o);
    }
    const missingKey = await escale([
      "run",
      "--local",
      `${dir}/out`,
      "--relay",
      `${dir}/home`,
      "--passphrase-file",
      `${dir}/nope.key`,
    ], env);
    assertEquals(missingKey.code, 2);
    assertEquals(
      missingKey.stderr.trim(),
      `escale: --passphrase-file: ${dir}/nope.key is not an existing file`,
    );

    const timeoutAlone = await escale(
      ["run", "--once", "--local", `${dir}/out`, "--relay", `${dir}/home`, "--timeout", "5"],
      env,
    );
    assertEquals(timeoutAlone.code, 2);
    assert(/--timeout needs --wait-delivered or --wait-for-changes/.test(timeoutAlone.stderr));
    const wrongSide = await escale([
      "run",
      "--local",
      `${dir}/out`,
      "--relay",
      `${dir}/home`,
      "--mode",
      "download",
      "--wait-delivered",
    ], env);
    assertEquals(wrongSide.code, 2);
    assert(/does not upload \(mode download\)/.test(wrongSide.stderr), wrongSide.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ci: `refresh = no` runs one round and exits; a flag beats the file", async () => {
  const dir = await scratch();
  try {
    await Deno.mkdir(`${dir}/relay`);
    await Deno.writeTextFile(`${dir}/out/a.txt`, "a");
    await conf(
      `${dir}/push.conf`,
      `[out]\nclient = ci\nlocal path = ${dir}/out\nrelay path = ${dir}/relay\nmode = download\nrefresh = no\n`,
    );
    // Without --once: `refresh = no` ends the run after its round. The file says download; the
    // flag makes it the pusher.
    const p = new EscaleProcess(["run", "-c", `${dir}/push.conf`, "--mode", "upload"], {
      HOME: `${dir}/home`,
    });
    const r = await p.ended(HANG_MS);
    assertEquals(r.code, 0, r.stderr);
    assert(/sent 1 file/.test(r.stderr), r.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ci: a waiting run stopped by SIGTERM exits 130 and still writes its summary", async () => {
  const dir = await scratch();
  try {
    await Deno.mkdir(`${dir}/relay`);
    await Deno.writeTextFile(`${dir}/out/a.txt`, "a");
    const p = new EscaleProcess([
      "run",
      "--local",
      `${dir}/out`,
      "--relay",
      `${dir}/relay`,
      "--mode",
      "upload",
      "--wait-delivered",
      "--summary",
      `${dir}/s.json`,
    ], { HOME: `${dir}/home`, ESCALE_REFRESH: "1" });
    await p.waitForStderr(/waiting: no puller has registered/);
    p.kill("SIGTERM");
    const r = await p.ended(HANG_MS);
    assertEquals(r.code, 130, r.stderr);
    const s = await readSummary(`${dir}/s.json`);
    assertEquals([s.exitCode, s.repositories[0].sent.files], [130, 1]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ci: the summary counts bytes, local deletions and conflicts as the round's events do", async () => {
  const dir = await scratch();
  try {
    await Deno.mkdir(`${dir}/relay`);
    const env = { HOME: `${dir}/home`, ESCALE_RELAY: `${dir}/relay` };
    const round = async (local: string, client: string, summary: string) => {
      const r = await escale([
        "run",
        "--once",
        "--json",
        "--local",
        `${dir}/${local}`,
        "--client-name",
        client,
        "--summary",
        `${dir}/${summary}`,
      ], env);
      assertEquals(r.code, 0, r.stderr);
      const ends = r.stdout.trim().split("\n").map((l) => JSON.parse(l)).filter((e) =>
        e.event === "round-end"
      );
      assertEquals(ends.length, 1, r.stdout);
      return {
        s: (await readSummary(`${dir}/${summary}`)).repositories[0],
        totals: ends[0].totals,
      };
    };
    await Deno.writeTextFile(`${dir}/out/x.txt`, "x".repeat(100));
    await Deno.writeTextFile(`${dir}/out/y.txt`, "y".repeat(50));
    const first = await round("out", "a", "a1.json");
    assertEquals([first.s.sent, first.s.received], [{ files: 2, bytes: 150 }, {
      files: 0,
      bytes: 0,
    }]);
    const got = await round("in", "b", "b1.json");
    assertEquals([got.s.received, got.s.deleted, got.s.conflicts], [
      { files: 2, bytes: 150 },
      0,
      0,
    ]);

    // a deletes y.txt and edits x.txt; b edits x.txt too before it hears of it.
    await Deno.remove(`${dir}/out/y.txt`);
    await Deno.writeTextFile(`${dir}/out/x.txt`, "a".repeat(30));
    await Deno.writeTextFile(`${dir}/in/x.txt`, "b".repeat(40));
    await round("out", "a", "a2.json");
    const { s, totals } = await round("in", "b", "b2.json");
    assertEquals([s.deleted, s.conflicts], [1, 1], JSON.stringify(s));
    assertEquals(s.received, { files: totals.filesDown, bytes: totals.bytesDown });
    assertEquals([s.deleted, s.conflicts, s.moved], [
      totals.deleted,
      totals.conflicts,
      totals.moved,
    ]);
    // keep-both: b's edit stays, a's version arrives beside it as a conflict copy.
    assertEquals(s.received, { files: 1, bytes: 30 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * The `escale run` command lines of a text (shell lines continued with `\`, YAML folded `>`
 * scalars joined), each as the words after `run`, up to a `#` comment.
 */
function runCommandLines(text: string): string[][] {
  const lines = text.replace(/\\\n\s*/g, " ").split("\n");
  const joined: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    if (/(^|\s)>\s*$/.test(line)) {
      const indent = line.search(/\S/);
      while (i + 1 < lines.length && lines[i + 1].search(/\S/) > indent) line += " " + lines[++i];
    }
    joined.push(line);
  }
  const out: string[][] = [];
  for (const line of joined) {
    const m = /\bescale["']?\s+run\b([^#]*)/.exec(line);
    if (m) out.push(m[1].trim().split(/\s+/));
  }
  return out;
}

Deno.test("ci: docs/ci.md and `escale run --help` use only flags and variables that exist", async () => {
  const help = await escale(["run", "--help"]);
  assertEquals(help.code, 0, help.stderr);
  // run's flags, from its own option list: `  -c, --config <file>  …`, `  --once  …`
  const flags = new Set(["--help"]);
  for (const m of help.stdout.matchAll(/^ {2}(?:-\w, )?(--[a-z][a-z-]*)/gm)) flags.add(m[1]);
  for (const f of ["--relay", "--local", "--wait-delivered", "--summary", "--password-file"]) {
    assert(flags.has(f), `the option list was read: ${f}`);
  }
  const variables = new Set([...settingEnvNames(), ...RESERVED_ENV]);
  const doc = await Deno.readTextFile(new URL("../../docs/ci.md", import.meta.url));
  const fenced = [...doc.matchAll(/^```\w*\n([\s\S]*?)^```$/gm)].map((m) => m[1]).join("\n");
  const examples = help.stdout.slice(help.stdout.indexOf("Examples:"));
  for (const [where, text] of [["docs/ci.md", fenced], ["run --help", examples]]) {
    const commands = runCommandLines(text);
    assert(commands.length >= 2, `${where}: the examples were found`);
    for (const words of commands) {
      for (const w of words.filter((w) => w.startsWith("--"))) {
        const flag = w.replace(/=.*/, "");
        assert(
          flags.has(flag),
          `${where}: ${flag} is not a flag of escale run: ${words.join(" ")}`,
        );
      }
    }
  }
  // The flags the prose of docs/ci.md names, as `--flag …`.
  for (const m of doc.matchAll(/`(--[a-z][a-z-]*)/g)) {
    assert(flags.has(m[1]), `docs/ci.md: ${m[1]} is not a flag of escale run`);
  }
  // Every variable of docs/ci.md and of the help's examples; in the option list, those an option
  // reads (`$ESCALE_…`; the `on failure` hook's own ESCALE_SECTION… are set, not read).
  const named = [
    ...[...doc.matchAll(/\bESCALE_[A-Z0-9_]+\b/g)].map((m) => ["docs/ci.md", m[0]]),
    ...[...examples.matchAll(/\bESCALE_[A-Z0-9_]+\b/g)].map((m) => ["run --help", m[0]]),
    ...[...help.stdout.matchAll(/\$(ESCALE_[A-Z0-9_]+)\b/g)].map((m) => ["run --help", m[1]]),
  ];
  assert(named.length > 10, "the variables were found");
  for (const [where, name] of named) {
    assert(variables.has(name), `${where}: escale reads no ${name}`);
  }
});

Deno.test("ci: a wait retries an unreachable relay until --timeout, then exits 3, not 10", async () => {
  const dir = await scratch();
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (closed.addr as Deno.NetAddr).port;
  closed.close();
  try {
    await Deno.writeTextFile(`${dir}/out/a.txt`, "a");
    const r = await escale([
      "run",
      "--local",
      `${dir}/out`,
      "--relay",
      `ftp://ci@127.0.0.1:${port}/builds`,
      "--mode",
      "upload",
      "--wait-delivered",
      "--timeout",
      "3",
      "--summary",
      `${dir}/s.json`,
    ], {
      HOME: `${dir}/home`,
      ESCALE_PASSWORD: "unused-pw",
      ESCALE_REFRESH: "1",
      // One connection attempt per round: a refused one is over long before the timeout.
      ESCALE_MAX_RETRIES: "0",
    });
    assertEquals(r.code, 3, r.stderr);
    // Not given up at the first failure: retried while the timeout allowed it.
    assert(/retrying in \d+ s/.test(r.stderr), r.stderr);
    assert(/cannot connect to 127\.0\.0\.1:\d+: Connection refused/.test(r.stderr), r.stderr);
    const s = await readSummary(`${dir}/s.json`);
    assertEquals([s.exitCode, s.repositories[0].exitCode, s.repositories[0].rounds], [3, 3, 0]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
