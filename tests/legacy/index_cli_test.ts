// `escale run` on relays in Escale 0.7's index layout (tests/fixtures/escale-legacy/index-*).
import { assert, assertEquals } from "../assert.ts";
import { conf, escale, killDuring } from "../cli/cli_helpers.ts";
import { parseIndex } from "../../src/legacy/index_text.ts";
import { copyTree, FIXTURES, pushedTree, snapshot } from "./legacy_helpers.ts";
import { readPersistent, updateFiles, withDir } from "./index_helpers.ts";

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

Deno.test("cli index: a section on Escale's index relay pulls in its layout (auto-detected, Fernet)", async () => {
  await withDir(async (dir) => {
    await copyTree(`${FIXTURES}index-1-fernet/after-upload/relay`, `${dir}/relay`);
    await Deno.copyFile(`${FIXTURES}index-1-fernet/config/fernet.key`, `${dir}/fernet.key`);
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
      await snapshot(`${FIXTURES}index-1-fernet/after-pull/relay`),
    );
  });
});

Deno.test("cli index: pages by folder with index = topdir:1, as the Python clients say", async () => {
  await withDir(async (dir) => {
    await copyTree(`${FIXTURES}index-topdir-1/after-upload/relay`, `${dir}/relay`);
    const c = await section(dir, "peerB", "mode = download\nindex = topdir:1\n");
    const r = await escale(["run", "--once", "-c", c]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(await snapshot(`${dir}/peerB`), await snapshot(`${FIXTURES}tree`));
    assertEquals(
      await snapshot(`${dir}/relay`),
      await snapshot(`${FIXTURES}index-topdir-1/after-pull/relay`),
    );
  });
});

const KILLS: [string, "peerA" | "peerB", string][] = [
  ["pusher, while writing the update data", "peerA", "write:stall:1:\\.data$"],
  ["pusher, between the page and the update index", "peerA", "write:stall:1:^\\.0\\.\\d+\\.index$"],
  ["puller, while reading the update data", "peerB", "read:stall:1:\\.data$"],
  ["puller, before it signs the update", "peerB", "delete:stall:1:^\\.0\\.\\d+\\.index$"],
  ["puller, between the update index and its data", "peerB", "delete:stall:1:\\.data$"],
];

Deno.test("cli index: SIGKILL mid-round leaves a relay Escale can read, and the next runs finish", async (t) => {
  for (const [name, victim, fault] of KILLS) {
    await t.step(name, async () => {
      await withDir(async (dir) => {
        const legacy = "relay format = escale-0.7\nindex = 1\n";
        const a = await section(dir, "peerA", `mode = upload\n${legacy}`);
        const b = await section(dir, "peerB", `mode = download\n${legacy}`);
        await Deno.remove(`${dir}/peerA`);
        await pushedTree(`${dir}/peerA`);
        const run = async (c: string) => {
          const r = await escale(["run", "--once", "-c", c]);
          assertEquals(r.code, 0, `${c}: ${r.stderr}`);
        };
        if (victim === "peerB") await run(a);
        await killDuring(["run", "--once", "-c", victim === "peerA" ? a : b], fault);
        // What a Python client sees now: the page and any update index parse.
        for (const k of Object.keys(await snapshot(`${dir}/relay`))) {
          assert(!k.startsWith(".escale-part-"), k);
          if (k === ".0.index") await readPersistent(`${dir}/relay/${k}`);
          else if (k.endsWith(".index")) {
            parseIndex(await Deno.readFile(`${dir}/relay/${k}`), "update", k);
          }
        }
        for (const c of [a, b, a, b]) await run(c);
        assertEquals(await snapshot(`${dir}/peerB`), await snapshot(`${FIXTURES}tree`));
        // Only the page is left, listing each file once, as peerA published it.
        assertEquals(Object.keys(await snapshot(`${dir}/relay`)), [".0.index"]);
        const page = await readPersistent(`${dir}/relay/.0.index`);
        assertEquals(page.entries.size, 5);
        for (const meta of page.entries.values()) assert(meta!.includes("pusher: peerA"), meta!);
      });
    });
  }
});

Deno.test("cli index: migrate --to-native converts an index relay; clients that hold the files download nothing", async () => {
  await withDir(async (dir) => {
    // Escale's pusher uploaded the tree; peerA is that pusher's machine, now running escale.
    await copyTree(`${FIXTURES}index-1/after-upload/relay`, `${dir}/relay`);
    const b = await section(dir, "peerB", "relay format = escale-0.7\nindex = 1\n");
    const a = await section(dir, "peerA");
    await pushedTree(`${dir}/peerA`);
    // While another client holds a page, nothing is converted.
    await Deno.writeTextFile(`${dir}/relay/.0.lock`, "lock%1.0\nowner: peerZ\nmode: r");
    const busy = await escale(["migrate", "--to-native", "-c", b]);
    assert(busy.code !== 0, busy.stderr);
    assert(busy.stderr.includes("page 0 is locked by peerZ"), busy.stderr);
    assertEquals(await snapshot(`${dir}/peerB`), {});
    await Deno.remove(`${dir}/relay/.0.lock`);

    const r = await escale(["migrate", "--to-native", "-c", b]);
    assertEquals(r.code, 0, r.stderr);
    assert(r.stdout.includes("5 waiting files taken here first"), r.stdout);
    assertEquals(await snapshot(`${dir}/peerB`), await snapshot(`${FIXTURES}tree`));
    const relay = Object.keys(await snapshot(`${dir}/relay`));
    assert(relay.includes("escale.json"), relay.join(", "));
    assert(!relay.some((k) => k.startsWith(".0.")), relay.join(", "));
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
  });
});

/** A PATH holding every program of this one but bzip2 (a machine without it). */
async function pathWithoutBzip2(dir: string): Promise<string> {
  const bin = `${dir}/bin`;
  await Deno.mkdir(bin);
  for (const d of (Deno.env.get("PATH") ?? "").split(":").reverse()) {
    const entries = await Array.fromAsync(Deno.readDir(d)).catch(() => []);
    for (const e of entries) {
      if (e.name.includes("bzip2")) continue;
      await Deno.remove(`${bin}/${e.name}`).catch(() => {});
      await Deno.symlink(`${d}/${e.name}`, `${bin}/${e.name}`);
    }
  }
  return bin;
}

Deno.test("cli index: without the bzip2 program a puller and a pusher still work (WebAssembly bzip2)", async () => {
  await withDir(async (dir) => {
    const PATH = await pathWithoutBzip2(dir);
    await copyTree(`${FIXTURES}index-1/after-upload/relay`, `${dir}/relay`);
    const b = await section(dir, "peerB", "mode = download\n");
    const pulled = await escale(["run", "--once", "-c", b], { PATH });
    assertEquals(pulled.code, 0, pulled.stderr);
    assertEquals(await snapshot(`${dir}/peerB`), await snapshot(`${FIXTURES}tree`));
    const a = await section(dir, "peerA", "mode = upload\n");
    // Over 900 kB: the update data is several bzip2 streams, one per chunk.
    const big = crypto.getRandomValues(new Uint8Array(65536)).map((x) => x % 16);
    const sent: Record<string, Uint8Array> = {
      "new.bin": crypto.getRandomValues(new Uint8Array(65536)),
      "big.bin": new Uint8Array(2_500_000).map((_, i) => big[i % big.length]),
    };
    for (const [k, v] of Object.entries(sent)) await Deno.writeFile(`${dir}/peerA/${k}`, v);
    const pushed = await escale(["run", "--once", "-c", a], { PATH });
    assertEquals(pushed.code, 0, pushed.stderr);
    const keys = Object.keys(await snapshot(`${dir}/relay`));
    const data = keys.find((k) => /^\.0\.\d+\.data$/.test(k))!;
    assert(data, keys.join(", "));
    assertEquals(Object.keys(await updateFiles(`${dir}/relay/${data}`)).sort(), [
      "big.bin",
      "new.bin",
    ]);
    const page = await readPersistent(`${dir}/relay/.0.index`);
    assertEquals(page.entries.size, 7);
    const again = await escale(["run", "--once", "-c", b], { PATH });
    assertEquals(again.code, 0, again.stderr);
    for (const [k, v] of Object.entries(sent)) {
      assertEquals(await Deno.readFile(`${dir}/peerB/${k}`), v, k);
    }
  });
});
