// Escale's puller extracts a whole update tar with `extractall` and trusts index entries; escale
// takes only regular files with safe relative names, and never writes outside the local folder.
import { createHash } from "node:crypto";
import { createTarPacker, type TarHeader } from "modern-tar";
import { assert, assertEquals } from "../assert.ts";
import { FileRelay } from "../../src/relay/file_relay.ts";
import { formatIndex } from "../../src/legacy/index_text.ts";
import { formatPlaceholder } from "../../src/legacy/placeholder.ts";
import { bzip2Program } from "../../src/util/bzip2_program.ts";
import { bytesStream, collect } from "../../src/util/streams.ts";
import { LegacyClient, snapshot } from "./legacy_helpers.ts";
import { withDir } from "./index_helpers.ts";

type Member = { header: TarHeader; body?: string };

/** A tar.bz2 of exactly these members, names and types as given. */
async function hostileTar(members: Member[]): Promise<Uint8Array> {
  const { readable, controller } = createTarPacker();
  const bz = bzip2Program("compress", "the test needs", "install bzip2");
  const out = collect(readable.pipeThrough(bz), 1 << 24, "tar");
  for (const m of members) {
    const w = controller.add(m.header).getWriter();
    if (m.body) await w.write(new TextEncoder().encode(m.body));
    await w.close();
  }
  controller.finalize();
  return await out;
}

function meta(content: string): string {
  return formatPlaceholder({
    pusher: "evil",
    timestamp: 1700000000,
    checksum: createHash("sha512").update(content).digest("hex"),
    extra: [],
    pullers: [],
  });
}

/** Publishes an update of page 0 as a (hostile) Python pusher would. */
async function publish(relay: string, entries: [string, string][], members: Member[]) {
  const ts = 1800000000;
  const map = new Map(entries.map(([p, c]) => [p, meta(c)]));
  const bz = bzip2Program("compress", "the test needs", "install bzip2");
  const page = collect(bz.readable, 1 << 20, "page");
  await bytesStream(formatIndex(map, "persistent")).pipeTo(bz.writable);
  await Deno.writeFile(`${relay}/.0.index`, await page);
  await Deno.writeFile(`${relay}/.0.${ts}.index`, formatIndex(map, "update"));
  await Deno.writeFile(`${relay}/.0.${ts}.data`, await hostileTar(members));
}

const file = (name: string, body: string): Member => ({
  header: { name, size: body.length, type: "file", mode: 0o644 },
  body,
});

Deno.test("legacy index: hostile tar members and index entries are refused, never written outside", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(`${dir}/relay`);
    await Deno.mkdir(`${dir}/B`);
    await Deno.mkdir(`${dir}/outside`);
    const names = ["../escape.txt", "/tmp/abs.txt", "a/../../up.txt", "ok/../../x.txt"];
    await publish(
      `${dir}/relay`,
      [["good.txt", "good\n"], ...names.map((n) => [n, "evil\n"] as [string, string]), [
        "link",
        "",
      ], ["hard", ""]],
      [
        file("good.txt", "good\n"),
        ...names.map((n) => file(n, "evil\n")),
        { header: { name: "link", size: 0, type: "symlink", linkname: `${dir}/outside` } },
        { header: { name: "hard", size: 0, type: "link", linkname: "/etc/passwd" } },
        { header: { name: "dev", size: 0, type: "character-device" } },
        { header: { name: "fifo", size: 0, type: "fifo" } },
        file("not-in-index.txt", "stowaway\n"),
      ],
    );
    const b = new LegacyClient(`${dir}/B`, new FileRelay(`${dir}/relay`), `${dir}/b.db`, {
      clientName: "peerB",
      mode: "download",
      index: { kind: "single" },
    });
    try {
      const s = await b.round();
      assertEquals(s.downloaded, 1);
      assertEquals(await snapshot(`${dir}/B`), { "good.txt": "good\n" });
      assertEquals(await snapshot(`${dir}/outside`), {});
      const top = Object.keys(await snapshot(dir)).filter((k) =>
        !k.startsWith("relay/") && !k.startsWith("b.db")
      );
      assertEquals(top, ["B/good.txt"]);
      await Deno.stat("/tmp/abs.txt").then(
        () => assert(false, "/tmp/abs.txt written"),
        () => {},
      );
      const log = b.lines.join("\n");
      for (const n of ["../escape.txt", "/tmp/abs.txt", "a/../../up.txt"]) {
        assert(log.includes(`refusing ${JSON.stringify(n)}`), `${n} not reported:\n${log}`);
      }
      assert(log.includes(`"link": a symlink entry`), log);
      assert(log.includes(`"dev": a character-device entry`), log);
      // Each refusal is one line, no stack trace.
      assert(!log.includes("    at "), log);
      // The update was consumed: this client has everything it can safely take.
      assertEquals(
        Object.keys(await snapshot(`${dir}/relay`)).filter((k) =>
          /^\.0\.\d+\.(index|data)$/.test(k)
        ),
        [],
      );
    } finally {
      b.close();
    }
  });
});

Deno.test("legacy index: a symbolic link planted in the local folder is never followed", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(`${dir}/relay`);
    await Deno.mkdir(`${dir}/B`);
    await Deno.mkdir(`${dir}/outside`);
    await Deno.symlink(`${dir}/outside`, `${dir}/B/sub`);
    await publish(
      `${dir}/relay`,
      [["sub/x.txt", "through the link\n"], ["y.txt", "fine\n"]],
      [file("sub/x.txt", "through the link\n"), file("y.txt", "fine\n")],
    );
    const b = new LegacyClient(`${dir}/B`, new FileRelay(`${dir}/relay`), `${dir}/b.db`, {
      clientName: "peerB",
      mode: "download",
      index: { kind: "single" },
    });
    try {
      const s = await b.round();
      assertEquals(s.downloaded, 1);
      assertEquals(s.problems, 1);
      assertEquals(await snapshot(`${dir}/outside`), {});
      assertEquals(await Deno.readTextFile(`${dir}/B/y.txt`), "fine\n");
      assert(b.lines.join("\n").includes("symbolic link"), b.lines.join("\n"));
    } finally {
      b.close();
    }
  });
});

Deno.test("legacy index: a truncated update writes nothing, stops nothing, and names the file", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(`${dir}/relay`);
    await Deno.mkdir(`${dir}/B`);
    await publish(`${dir}/relay`, [["a.txt", "a\n"], ["b.txt", "b\n"]], [
      file("a.txt", "a\n"),
      file("b.txt", "b\n"),
    ]);
    // The same update cut inside its first member's body, compressed again.
    const name = [...Deno.readDirSync(`${dir}/relay`)].map((e) => e.name)
      .find((n) => n.endsWith(".data"))!;
    const unzip = bzip2Program("decompress", "the test needs", "install bzip2");
    const tar = collect(unzip.readable, 1 << 24, "tar");
    await bytesStream(await Deno.readFile(`${dir}/relay/${name}`)).pipeTo(unzip.writable);
    const cut = (await tar).slice(0, 513);
    const zip = bzip2Program("compress", "the test needs", "install bzip2");
    const packed = collect(zip.readable, 1 << 24, "tar.bz2");
    await bytesStream(cut).pipeTo(zip.writable);
    await Deno.writeFile(`${dir}/relay/${name}`, await packed);
    const b = new LegacyClient(`${dir}/B`, new FileRelay(`${dir}/relay`), `${dir}/b.db`, {
      clientName: "peerB",
      mode: "download",
      index: { kind: "single" },
    });
    try {
      const s = await b.round();
      assertEquals([s.downloaded, s.problems], [0, 1]);
      assertEquals(await snapshot(`${dir}/B`), {});
      const log = b.lines.join("\n");
      assert(log.includes("a.txt: not received"), log);
      assert(!log.includes("    at "), log);
    } finally {
      b.close();
    }
  });
});
