// `escale run` on relays written by Python Escale 0.7 (tests/fixtures/escale-legacy).
import { assert, assertEquals } from "../assert.ts";
import { conf, escale, fingerprint, killDuring } from "./cli_helpers.ts";
import { parsePlaceholder } from "../../src/legacy/placeholder.ts";
import { copyTree, FIXTURES, pushedTree, snapshot } from "../legacy/legacy_helpers.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "escale-legacy-cli-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function section(dir: string, name: string, extra = ""): Promise<string> {
  await Deno.mkdir(`${dir}/${name}`, { recursive: true });
  await Deno.mkdir(`${dir}/relay`, { recursive: true });
  const path = `${dir}/${name}.conf`;
  await conf(
    path,
    `[${name}]\nclient = ${name}\nlocal path = ${dir}/${name}\nrelay path = ${dir}/relay\n${extra}`,
  );
  return path;
}

Deno.test("cli legacy: a section on an Escale 0.7 relay syncs in its layout (auto-detected)", async () => {
  await withDir(async (dir) => {
    await copyTree(`${FIXTURES}placeholder-fernet/after-upload/relay`, `${dir}/relay`);
    await Deno.copyFile(`${FIXTURES}placeholder-fernet/config/fernet.key`, `${dir}/fernet.key`);
    await Deno.chmod(`${dir}/fernet.key`, 0o600);
    const c = await section(
      dir,
      "peerB",
      `mode = download\nencryption = fernet\npassphrase = ${dir}/fernet.key\n`,
    );
    const r = await escale(["run", "--once", "-c", c]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(await snapshot(`${dir}/peerB`), await snapshot(`${FIXTURES}tree`));
    assertEquals(
      await snapshot(`${dir}/relay`),
      await snapshot(`${FIXTURES}placeholder-fernet/after-pull/relay`),
    );
  });
});

Deno.test("cli legacy: a setting that contradicts the relay stops with one line, and writes nothing", async () => {
  await withDir(async (dir) => {
    await copyTree(`${FIXTURES}placeholder-plain/after-upload/relay`, `${dir}/relay`);
    const before = await fingerprint(`${dir}/relay`);
    const c = await section(dir, "n", "relay format = native\n");
    const r = await escale(["run", "--once", "-c", c]);
    assertEquals(r.code, 2);
    const lines = r.stderr.trim().split("\n").filter((l) => l.includes("Escale 0.7"));
    assertEquals(lines.length, 1, r.stderr);
    assert(lines[0].includes(`set "relay format = escale-0.7"`), lines[0]);
    assert(lines[0].includes(".hello.txt.placeholder"), lines[0]);
    assertEquals(await fingerprint(`${dir}/relay`), before);
  });
  await withDir(async (dir) => {
    const n = await section(dir, "n");
    await Deno.writeTextFile(`${dir}/n/a.txt`, "a");
    assertEquals((await escale(["run", "--once", "-c", n])).code, 0);
    const before = await fingerprint(`${dir}/relay`);
    const l = await section(dir, "l", "relay format = escale-0.7\n");
    const r = await escale(["run", "--once", "-c", l]);
    assertEquals(r.code, 2);
    assert(
      r.stderr.includes(
        `holds escale's native format (found escale.json); set "relay format = native"`,
      ),
      r.stderr,
    );
    assertEquals(await fingerprint(`${dir}/relay`), before);
  });
  await withDir(async (dir) => {
    // Escale's pages paged by folder: the section must say how, as its Python clients do.
    await copyTree(`${FIXTURES}index-topdir-1/after-upload/relay`, `${dir}/relay`);
    const before = await fingerprint(`${dir}/relay`);
    const c = await section(dir, "i");
    const r = await escale(["run", "--once", "-c", c]);
    assertEquals(r.code, 2);
    assert(r.stderr.includes(`index layout paged by folder`), r.stderr);
    assert(r.stderr.includes(`set "index = topdir:N"`), r.stderr);
    assertEquals(await fingerprint(`${dir}/relay`), before);
  });
});

Deno.test("cli legacy: a client name Python's placeholder parser cannot read back is refused", async () => {
  await withDir(async (dir) => {
    const c = await section(dir, "x", "relay format = escale-0.7\n");
    await Deno.writeTextFile(
      c,
      (await Deno.readTextFile(c)).replace("client = x", "client = host:1"),
    );
    const r = await escale(["run", "--once", "-c", c]);
    assertEquals(r.code, 2);
    assert(
      r.stderr.includes(`client name "host:1" cannot be written on an Escale 0.7 relay`),
      r.stderr,
    );
    assertEquals(await snapshot(`${dir}/relay`), {});
  });
});

const KILLS: [string, "peerA" | "peerB", string][] = [
  ["pusher, between a placeholder and its data", "peerA", "write:stall:2:(^|/)[^./][^/]*$"],
  ["pusher, while writing a placeholder", "peerA", "write:stall:3:placeholder$"],
  ["puller, while reading data", "peerB", "read:stall:2:(^|/)[^./][^/]*$"],
  ["puller, while signing a placeholder", "peerB", "write:stall:2:placeholder$"],
  // Signed, so the next rounds skip the version: they must still delete the data it left.
  ["puller, while deleting released data", "peerB", "delete:stall:1:(^|/)[^./][^/]*$"],
];

Deno.test("cli legacy: SIGKILL mid-round leaves a relay Escale can read, and the next runs finish", async (t) => {
  for (const [name, victim, fault] of KILLS) {
    await t.step(name, async () => {
      await withDir(async (dir) => {
        const a = await section(dir, "peerA", "mode = upload\nrelay format = escale-0.7\n");
        const b = await section(dir, "peerB", "mode = download\nrelay format = escale-0.7\n");
        await Deno.remove(`${dir}/peerA`);
        await pushedTree(`${dir}/peerA`);
        const run = async (c: string) =>
          assertEquals((await escale(["run", "--once", "-c", c])).code, 0, c);
        if (victim === "peerB") await run(a);
        await killDuring(["run", "--once", "-c", victim === "peerA" ? a : b], fault);
        // What a Python client sees now: every placeholder parses, and every data file that
        // is not locked matches its placeholder (no lock = no transfer in progress).
        const mid = await snapshot(`${dir}/relay`);
        for (const [k, v] of Object.entries(mid)) {
          if (k.endsWith(".placeholder")) {
            parsePlaceholder(
              new TextDecoder().decode(Uint8Array.from(v, (ch) => ch.charCodeAt(0))),
              k,
            );
          }
          assert(!k.split("/").pop()!.startsWith(".escale-tmp"), k);
        }
        for (const c of [a, b, a, b]) await run(c);
        assertEquals(await snapshot(`${dir}/peerB`), await snapshot(`${FIXTURES}tree`));
        const end = await snapshot(`${dir}/relay`);
        assertEquals(
          Object.keys(end).filter((k) => !k.endsWith(".placeholder")),
          [],
          "data or locks left",
        );
        assertEquals(Object.keys(end).length, 5);
        for (const [k, v] of Object.entries(end)) {
          const p = parsePlaceholder(
            new TextDecoder().decode(Uint8Array.from(v, (ch) => ch.charCodeAt(0))),
            k,
          );
          assertEquals([p.pusher, p.pullers], ["peerA", ["peerB"]], k);
        }
      });
    });
  }
});

Deno.test("cli legacy: migrate --to-native converts an Escale 0.7 relay; clients that hold the files download nothing", async () => {
  await withDir(async (dir) => {
    // Escale's pusher uploaded the tree; peerA is that pusher's machine, now running escale.
    await copyTree(`${FIXTURES}placeholder-plain/after-upload/relay`, `${dir}/relay`);
    const b = await section(dir, "peerB", "relay format = escale-0.7\n");
    const a = await section(dir, "peerA");
    await pushedTree(`${dir}/peerA`);

    const r = await escale(["migrate", "--to-native", "-c", b]);
    assertEquals(r.code, 0, r.stderr);
    assert(r.stdout.includes("converted the relay of peerB"), r.stdout);
    // What was waiting for pullers is in peerB's folder; the relay holds no Escale object.
    assertEquals(await snapshot(`${dir}/peerB`), await snapshot(`${FIXTURES}tree`));
    const relay = Object.keys(await snapshot(`${dir}/relay`));
    assert(relay.includes("escale.json"), relay.join(", "));
    assert(!relay.some((k) => k.endsWith(".placeholder") || k.endsWith(".lock")), relay.join(", "));
    assert((await Deno.readTextFile(b)).includes("relay format = native"), "config not updated");

    // Both go on natively, in any order; contents decide, so nobody receives a file again.
    for (const [c, who] of [[b, "peerB"], [a, "peerA"], [b, "peerB"], [a, "peerA"]]) {
      const summary = `${dir}/${who}.summary.json`;
      const run = await escale(["run", "--once", "-c", c, "--summary", summary]);
      assertEquals(run.code, 0, `${who}: ${run.stderr}`);
      const s = JSON.parse(await Deno.readTextFile(summary));
      assertEquals(s.repositories[0].received.files, 0, `${who} received`);
    }
    assertEquals(await snapshot(`${dir}/peerA`), await snapshot(`${FIXTURES}tree`));
    assertEquals(await snapshot(`${dir}/peerB`), await snapshot(`${FIXTURES}tree`));
    // A second conversion finds nothing to convert.
    const again = await escale(["migrate", "--to-native", "-c", b]);
    assertEquals(again.code, 2, again.stderr);
    assert(again.stderr.includes("holds no Escale 0.7 data"), again.stderr);
  });
});
