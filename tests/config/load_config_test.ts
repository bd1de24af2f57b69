import { loadConfig } from "../../src/config/load_config.ts";
import { assert, assertConfigError, assertEquals } from "../assert.ts";
import { lines, type Scratch, withScratch } from "./helpers.ts";

Deno.test("Escale's minimal two-peer example loads with Escale's meaning", async () => {
  await withScratch(async (s) => {
    const cfg = await s.load(lines(
      `log file = ${s.dir}/A/escale.log`,
      "[A]",
      "client = peerA",
      `local path = ${s.local}`,
      `relay path = ${s.relay}`,
      "protocol = file",
      "mode = upload",
      "refresh = 2",
    ));
    assertEquals(cfg.file, `${s.dir}/escale.conf`, "file");
    assertEquals(cfg.global, { logLevel: "debug", logRotate: 3, logFile: `${s.dir}/A/escale.log` });
    assertEquals(cfg.warnings, [], "warnings");
    const a = cfg.sections[0];
    assertEquals(
      [a.name, a.line, a.clientName, a.localPath, a.mode, a.refreshSec],
      ["A", 2, "peerA", s.local, "upload", 2],
      "section",
    );
    assertEquals(a.relay, { protocol: "file", directory: s.relay, timeoutSec: 60, maxRetries: 3 });
    assertEquals(
      [a.encryption, a.lockTimeoutSec, a.maxPageSize, a.chunkSize, a.conflict, a.deleteThreshold],
      ["none", 259200, 200 * 1024 * 1024, 8 * 1024 * 1024, "keep-both", 0.5],
      "defaults",
    );
    assertEquals(
      [a.modificationTime, a.checksumCache, a.propagateDeletions, a.hiddenFiles, a.verbosity],
      [true, true, true, false, 1],
      "boolean defaults",
    );
    assertEquals(a.uploadMaxWaitSec, 600, "upload max wait");
    assertEquals(a.where, {
      "client name": 3,
      "local path": 4,
      "host directory": 5,
      "protocol": 6,
      "mode": 7,
      "refresh": 8,
    });
  });
});

Deno.test("Escale's wizard 'Local disk' section works (absolute directory stays absolute)", async () => {
  await withScratch(async (s) => {
    const cfg = await s.load(lines(
      "[file]",
      "client name = vm",
      `local path = ${s.local}`,
      "protocol = file",
      "host address = localhost",
      `host directory = ${s.relay}`,
      "mode = shared",
      "refresh = 10",
      "disk quota = 2GB",
      "checksum cache = on",
    ));
    const f = cfg.sections[0];
    assertEquals(f.relay.directory, s.relay, "relay folder");
    assertEquals(f.diskQuota, 2 * 1024 ** 3, "quota");
    assertEquals(f.refreshSec, 10, "refresh");
  });
});

Deno.test("globals are inherited, sections override, values are typed", async () => {
  await withScratch(async (s) => {
    await Deno.mkdir(`${s.dir}/other`);
    const cfg = await s.load(lines(
      `local path = ${s.local}`,
      `relay path = ${s.relay}`,
      "refresh = 1",
      "lock timeout = 1",
      "include = *.txt, *.md ,, /re+/",
      "[A]",
      "[B]",
      "Local  Path = other",
      "refresh = 1.5m",
      "lock timeout = no",
      "puller timeout = 2h",
      "delete threshold = 10%",
      "transfers = 8",
      "chunk size = 512KiB",
      "pullers = 3",
      "conflict = keep both",
      "hidden files = yes",
      "maintainer = ops@example.org",
    ));
    const [a, b] = cfg.sections;
    assertEquals([a.refreshSec, a.lockTimeoutSec], [1, 1], "1 means one second");
    assertEquals(a.filters.include, ["*.txt", "*.md", "/re+/"], "list");
    assertEquals(a.localPath, s.local, "inherited local path");
    assertEquals(b.localPath, `${s.dir}/other`, "relative to the config folder");
    assertEquals([b.refreshSec, b.lockTimeoutSec, b.pullerTimeoutSec], [90, 0, 7200], "durations");
    assertEquals([b.deleteThreshold, b.transfers, b.chunkSize], [0.1, 8, 512 * 1024], "numbers");
    assertEquals([b.pullerCount, b.conflict, b.hiddenFiles], [3, "keep-both", true], "others");
    assertEquals(b.filters.hiddenFiles, true, "hidden files reach the filters");
    assertEquals(b.maintainer, "ops@example.org", "maintainer");
    assertEquals(b.where["refresh"], 9, "override line");
    assertEquals(a.where["refresh"], 3, "inherited line");
  });
});

Deno.test("modes: Escale spellings, extensions, push/pull only", async () => {
  const table: [string, string][] = [
    ["mode = shared", "shared"],
    ["mode = Sharing", "shared"],
    ["synchronization mode = upload", "upload"],
    ["mode = download", "download"],
    ["mode = conservative", "conservative"],
    ["mode = protective", "conservative"],
    ["mode = preservative", "conservative"],
    ["mode = mirror-upload", "mirror-upload"],
    ["mode = Mirror Push", "mirror-upload"],
    ["mode = mirror_pull", "mirror-download"],
    ["mode = backup upload", "backup-upload"],
    ["mode = backup-pull", "backup-download"],
    ["push only = yes", "upload"],
    ["read only = true", "upload"],
    ["pull only = on", "download"],
    ["write only = 1", "download"],
    ["push only = no", "shared"],
  ];
  await withScratch(async (s) => {
    for (const [line, mode] of table) {
      const cfg = await s.load(base(s, line));
      assertEquals(cfg.sections[0].mode, mode, line);
    }
    const both = await s.load(base(s, "mode = mirror-upload", "push only = yes"));
    assertEquals(both.sections[0].mode, "mirror-upload", "push only fits mirror-upload");
  });
});

function base(s: Scratch, ...extra: string[]): string {
  return lines("[S]", `local path = ${s.local}`, `relay path = ${s.relay}`, ...extra);
}

Deno.test("broken configurations fail with file:line and kind config", async () => {
  await withScratch(async (s) => {
    const file = `${s.dir}/escale.conf`;
    await Deno.writeTextFile(`${s.dir}/plain`, "x");
    const cases: [string, number, string][] = [
      [lines("a = 1", "[S]", "x = 1"), 2, "has no 'local path'"],
      [lines("[S]", `local path = ${s.dir}/missing`), 2, "does not exist"],
      [lines("[S]", `local path = ${s.dir}/plain`), 2, "is not a folder"],
      [base(s, "protocol = gopher"), 4, "not a known protocol"],
      [base(s, "mode = sideways"), 4, "valid modes: shared, upload, download"],
      [base(s, "port = abc"), 4, "whole number"],
      [base(s, "port = 70000"), 4, "≤ 65535"],
      [base(s, "hidden files = maybe"), 4, "yes/no"],
      [base(s, "disk quota = 5 parsecs"), 4, "unknown unit"],
      [base(s, "refresh = 0"), 4, "must be > 0"],
      [base(s, "transfers = 0"), 4, "≥ 1"],
      [base(s, "delete threshold = 3"), 4, "between 0 and 1"],
      [base(s, "conflict = coin toss"), 4, "keep-both, newest, local, remote"],
      [lines("[S]", `local path = ${s.local}`, `relay path = ${s.dir}/nope`), 3, "relay folder"],
      [
        lines("[S]", `local path = ${s.local}`, `address = file://${s.dir}/nope`),
        3,
        "relay folder",
      ],
      [lines("[S]", `local path = ${s.local}`, "protocol = ftp"), 1, "needs a server"],
      [lines("[S]", `local path = ${s.local}`), 1, "no relay is configured"],
      [lines("[S]", `local path = ${s.local}`, "address = ftp.example.org"), 3, "protocol"],
      [lines("[S]", `local path = ${s.local}`, "address = gopher://h/x"), 3, "unknown scheme"],
      [base(s, "push only = yes", "pull only = yes"), 5, "cannot both be yes"],
      [base(s, "mode = download", "push only = yes"), 5, "contradicts mode download"],
      [base(s, "user = a", "username = b"), 5, "are the same option 'user'"],
      [base(s, "encryption = blowfish"), 4, "must move to Fernet together"],
      [base(s, "encryption = native"), 4, "one authenticated cipher"],
      [base(s, "encryption = rot13"), 4, "yes or no"],
      [base(s, "encryption = yes"), 4, "no 'passphrase'"],
      [base(s, "include = *.txt, /(oops/"), 4, "invalid regular expression"],
      [base(s, "exclude directory = /[z-a]/"), 4, "invalid regular expression"],
      [base(s, "client = %(nobody)s"), 4, "'nobody', which is not set"],
      [base(s, "local path = x"), 4, "duplicate option 'local path'"],
      [lines("[S]", "path = /x", `local path = ${s.local}`), 3, "same option 'local path'"],
      [lines("[S]", "oops"), 2, "cannot parse"],
      [base(s, "log file = /x") + lines("[T]", "[S]"), 6, "duplicate section [S]"],
    ];
    for (const [text, line, includes] of cases) {
      await assertConfigError(() => s.load(text), { file, line, includes });
    }
    // A section named "error" is an ordinary name here.
    const cfg = await s.load(
      lines("[error]", `local path = ${s.local}`, `relay path = ${s.relay}`),
    );
    assertEquals(cfg.sections[0].name, "error", "section named error");
  });
});

Deno.test("-r selects sections in file order; an unknown one lists the sections", async () => {
  await withScratch(async (s) => {
    const text = lines(
      `local path = ${s.local}`,
      `relay path = ${s.relay}`,
      "[A]",
      "[B]",
      "[C]",
      "mode = nonsense",
    );
    const cfg = await s.load(text, { sections: ["B", "A"] });
    assertEquals(cfg.sections.map((x) => x.name), ["A", "B"], "selected");
    await assertConfigError(() => s.load(text, { sections: ["A", "Z"] }), {
      file: `${s.dir}/escale.conf`,
      includes: "no section [Z]",
    });
    const e = await assertConfigError(() => s.load(text, { sections: ["Z"] }), {});
    assert(e.message.includes("(sections: A, B, C)"), e.message);
    await assertConfigError(() => s.load(text), { file: `${s.dir}/escale.conf`, line: 6 });
  });
});

Deno.test("a missing or unreadable configuration file is a config error", async () => {
  await withScratch(async (s) => {
    await assertConfigError(() => loadConfig(`${s.dir}/none.conf`), { includes: "does not exist" });
    await assertConfigError(() => loadConfig(s.dir), { includes: "not a regular file" });
    await Deno.writeFile(`${s.dir}/bin.conf`, new Uint8Array([0x5b, 0xff, 0xfe, 0x5d]));
    await assertConfigError(() => loadConfig(`${s.dir}/bin.conf`), { includes: "not UTF-8" });
  });
});

Deno.test("warnings: unknown keys with suggestions, unused options, misplaced globals", async () => {
  await withScratch(async (s) => {
    const cfg = await s.load(lines(
      "refrsh = 3",
      "[S]",
      `local path = ${s.local}`,
      `relay path = ${s.relay}`,
      "locl path = x",
      "frobnicate = 1",
      "index = 1",
      "max pending transfers = 4",
      "priority = upload",
      "checksum = sha512",
      "log file = /tmp/x.log",
      "client count = 3",
    ));
    const f = `${s.dir}/escale.conf`;
    assertEquals(cfg.warnings, [
      `${f}:1: unknown option 'refrsh' (did you mean 'refresh'?)`,
      `${f}:5: unknown option 'locl path' (did you mean 'local path'?)`,
      `${f}:6: unknown option 'frobnicate'`,
      `${f}:11: 'log file' is read only before the first section; ignored in [S]`,
      `${f}:8: 'max pending transfers' has no effect: parallelism is set with 'transfers'`,
      `${f}:9: 'priority' has no effect: each round downloads then uploads and no phase waits ` +
      "for the other",
      `${f}:10: checksum 'sha512' has no effect: escale always hashes content with sha256`,
    ]);
    assertEquals(cfg.global.logFile, undefined, "misplaced log file ignored");
  });
});

Deno.test("a config without sections loads with a warning", async () => {
  await withScratch(async (s) => {
    const cfg = await s.load(lines("log level = info"));
    assertEquals(cfg.sections, [], "sections");
    assertEquals(cfg.warnings.length, 1, "one warning");
    assert(cfg.warnings[0].includes("no [section]"), cfg.warnings[0]);
  });
});

Deno.test("client name: host name, or the section name on a host called localhost", async () => {
  await withScratch(async (s) => {
    const text = base(s);
    assertEquals((await s.load(text)).sections[0].clientName, "testhost", "host name");
    const local = await s.load(text, { hostname: "localhost" });
    assertEquals(local.sections[0].clientName, "S", "localhost");
    await assertConfigError(() => s.load(base(s, "client name =")), {
      file: `${s.dir}/escale.conf`,
      line: 4,
      includes: "client name",
    });
  });
});

Deno.test("% handling: lone % literal, %% and references expand", async () => {
  await withScratch(async (s) => {
    const cfg = await s.load(lines(
      `root = ${s.dir}`,
      "[S]",
      "local path = %(root)s/local",
      `relay path = ${s.relay}`,
      "client = 100%% sure",
      "maintainer = 50%off",
    ));
    const x = cfg.sections[0];
    assertEquals([x.localPath, x.clientName, x.maintainer], [s.local, "100% sure", "50%off"], "%");
  });
});

Deno.test("keep alive: seconds, yes = 60, 0 and no = off", async () => {
  await withScratch(async (s) => {
    const table: [string, number | undefined][] = [
      ["keep alive = 5", 5],
      ["keep alive = 1", 1],
      ["keep alive = yes", 60],
      ["keep alive = 2m", 120],
      ["keep alive = 0", undefined],
      ["keep alive = no", undefined],
    ];
    for (const [line, expected] of table) {
      assertEquals((await s.load(lines(line))).global.keepAlive, expected, line);
    }
    await assertConfigError(() => s.load(lines("keep alive = often")), { line: 1 });
  });
});
