import { gzipSync } from "node:zlib";
import { assert, assertEquals } from "../assert.ts";
import { conf, escale, fingerprint } from "./cli_helpers.ts";
import { RelayStore } from "../../src/protocol/relay_store.ts";
import { FileRelay } from "../../src/relay/file_relay.ts";
import { commitKey, dataKey } from "../../src/protocol/format.ts";

function oneLineError(stderr: string, pattern: RegExp): void {
  const lines = stderr.trim().split("\n").filter((l) => !l.includes("warning"));
  assertEquals(lines.length, 1, `expected one line, got:\n${stderr}`);
  assert(pattern.test(lines[0]), `"${lines[0]}" does not match ${pattern}`);
  assert(!/\bat .*\.ts:\d+/.test(stderr), `stack trace printed:\n${stderr}`);
}

Deno.test("cli: broken configurations end with one file:line error, exit 2, nothing written", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "escale-badconf-" });
  await Deno.mkdir(`${dir}/local`);
  await Deno.mkdir(`${dir}/relay`);
  const cases: [string, string, RegExp][] = [
    ["missing local path", `[A]\nrelay path = ${dir}/relay\n`, /A\.conf:1: .*local path/],
    [
      "unknown protocol",
      `[A]\nlocal path = ${dir}/local\nprotocol = gopher\nrelay path = ${dir}/relay\n`,
      /A\.conf:3: .*gopher/,
    ],
    [
      "malformed line",
      `[A]\nlocal path = ${dir}/local\nthis line is not an option\n`,
      /A\.conf:3: /,
    ],
    [
      "nonexistent relay folder",
      `[A]\nlocal path = ${dir}/local\nrelay path = ${dir}/nope\n`,
      /A\.conf:3: .*nope/,
    ],
    [
      "nonexistent local folder",
      `[A]\nlocal path = ${dir}/nowhere\nrelay path = ${dir}/relay\n`,
      /A\.conf:2: .*nowhere/,
    ],
  ];
  try {
    for (const [name, text, pattern] of cases) {
      await t.step(name, async () => {
        await conf(`${dir}/A.conf`, text);
        const before = await fingerprint(dir);
        const r = await escale(["run", "--once", "-c", `${dir}/A.conf`]);
        assertEquals(r.code, 2, r.stderr);
        oneLineError(r.stderr, pattern);
        assertEquals(await fingerprint(dir), before, "something was written");
      });
    }
    await t.step("missing configuration file", async () => {
      const r = await escale(["run", "--once", "-c", `${dir}/absent.conf`]);
      assertEquals(r.code, 2);
      oneLineError(r.stderr, /absent\.conf/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: hostile paths from the relay are refused and nothing lands outside the repository", async (t) => {
  for (
    const bad of [
      "../escaped.txt",
      "/tmp/escale-absolute-escape.txt",
      "a\0b.txt",
      "sub/../../escaped.txt",
    ]
  ) {
    await t.step(JSON.stringify(bad), async () => {
      const dir = await Deno.makeTempDir({ prefix: "escale-hostile-" });
      try {
        await Deno.mkdir(`${dir}/B/local`, { recursive: true });
        await Deno.mkdir(`${dir}/relay`);
        const relay = await new FileRelay(`${dir}/relay`).open();
        await RelayStore.ensureHeader(relay, null);
        const evil = "0123456789abcdef";
        const body = new TextEncoder().encode("pwned");
        await relay.write(dataKey(evil, 1, 0), body);
        const hash = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", body)))
          .map((b) => b.toString(16).padStart(2, "0")).join("");
        const commit = {
          v: 1,
          client: evil,
          seq: 1,
          time: new Date().toISOString(),
          objects: [{ key: dataKey(evil, 1, 0), size: 5 }],
          entries: [{
            op: "put",
            path: bad,
            vv: { [evil]: 1 },
            origin: evil,
            size: 5,
            mtime: Date.now(),
            hash,
            data: [[0, 0, 5]],
          }],
        };
        await relay.write(
          commitKey(evil, 1),
          new Uint8Array(gzipSync(new TextEncoder().encode(JSON.stringify(commit)))),
        );
        await conf(
          `${dir}/B.conf`,
          `[B]\nlocal path = ${dir}/B/local\nrelay path = ${dir}/relay\nmode = download\n`,
        );
        const r = await escale(["run", "--once", "-c", `${dir}/B.conf`]);
        assertEquals(r.code, 6, r.stderr);
        oneLineError(r.stderr, /refused path/);
        assertEquals(await fingerprint(`${dir}/B/local`), "");
        for (
          const p of [
            `${dir}/B/escaped.txt`,
            `${dir}/escaped.txt`,
            "/tmp/escale-absolute-escape.txt",
          ]
        ) {
          let exists = true;
          await Deno.stat(p).catch(() => (exists = false));
          assert(!exists, `${p} was written`);
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
});
