// Round trips against the index-layout snapshots written by the real Python Escale 0.7.13
// (tests/fixtures/escale-legacy/index-*): escale reads what Escale wrote, and writes what a
// Python puller reads (checked by parsing it the way Escale's read_index does).
import { assert, assertEquals } from "../assert.ts";
import { FileRelay } from "../../src/relay/file_relay.ts";
import {
  copyTree,
  FIXTURES,
  LegacyClient,
  mtimes,
  pushedTree,
  snapshot,
} from "./legacy_helpers.ts";
import { parseIndex } from "../../src/legacy/index_text.ts";
import {
  CASES,
  fernetOf,
  readPersistent,
  TREE_MTIMES,
  updateFiles,
  withDir,
} from "./index_helpers.ts";

for (const c of CASES) {
  Deno.test(`legacy ${c.name}: a puller reads what Escale's pusher wrote`, async () => {
    await withDir(async (dir) => {
      await copyTree(`${FIXTURES}${c.name}/after-upload/relay`, `${dir}/relay`);
      await Deno.mkdir(`${dir}/B`);
      const b = new LegacyClient(`${dir}/B`, new FileRelay(`${dir}/relay`), `${dir}/b.db`, {
        clientName: "peerB",
        mode: "download",
        fernet: await fernetOf(c.name),
        index: c.index,
        pullerCount: c.pullers,
      });
      try {
        const s = await b.round();
        assertEquals(s.downloaded, 5);
        assertEquals(await snapshot(`${dir}/B`), await snapshot(`${FIXTURES}tree`));
        assertEquals(await mtimes(`${dir}/B`), TREE_MTIMES);
        const relay = await snapshot(`${dir}/relay`);
        if (!c.pullers) {
          // As Escale's own puller left it: the persistent indexes only, byte for byte.
          assertEquals(relay, await snapshot(`${FIXTURES}${c.name}/after-pull/relay`));
        } else {
          // Unlike Escale's puller, the rewritten update index keeps its entries.
          const key = Object.keys(relay).find((k) => /^\.0\.\d+\.index$/.test(k))!;
          const upd = parseIndex(
            await Deno.readFile(`${dir}/relay/${key}`),
            "update",
            key,
          );
          assertEquals(upd.pullers, ["peerB"]);
          assertEquals(upd.entries.size, 5);
        }
        const again = await b.round();
        assertEquals([again.downloaded, again.relayWrites], [0, 0]);
      } finally {
        b.close();
      }
    });
  });
}

/** The relay's update files of a page: [index key, data key], with their common timestamp. */
function updateKeys(relay: Record<string, string>, page: string): [string, string] {
  const idx = Object.keys(relay).filter((k) =>
    k.startsWith(`.${page}.`) && /^\d+\.index$/.test(k.slice(page.length + 2))
  );
  assertEquals(idx.length, 1, `update index of page ${page}`);
  const data = idx[0].replace(/\.index$/, ".data");
  assert(data in relay, `${data} missing`);
  return [idx[0], data];
}

for (const c of CASES) {
  Deno.test(`legacy ${c.name}: a pusher writes what Escale's pusher writes`, async () => {
    await withDir(async (dir) => {
      await pushedTree(`${dir}/A`);
      await Deno.mkdir(`${dir}/relay`);
      const fernet = await fernetOf(c.name);
      const a = new LegacyClient(`${dir}/A`, new FileRelay(`${dir}/relay`), `${dir}/a.db`, {
        clientName: "peerA",
        mode: "upload",
        fernet,
        index: c.index,
        pullerCount: c.pullers,
      });
      try {
        assertEquals((await a.round()).uploaded, 5);
        const ours = await snapshot(`${dir}/relay`);
        const theirs = await snapshot(`${FIXTURES}${c.name}/after-upload/relay`);
        const shape = (keys: string[]) =>
          keys.map((k) => k.replace(/\.\d+\.(index|data)$/, ".<ts>.$1")).sort();
        assertEquals(shape(Object.keys(ours)), shape(Object.keys(theirs)));
        for (const k of Object.keys(theirs).filter((k) => /^\.[^.]+\.index$/.test(k))) {
          const page = k.slice(1, -".index".length);
          // The persistent index: the same entries (and metadata, N included) in Escale's groups.
          const mine = await readPersistent(`${dir}/relay/${k}`);
          const real = await readPersistent(`${FIXTURES}${c.name}/after-upload/relay/${k}`);
          assertEquals(sorted(mine.entries), sorted(real.entries), k);
          const [ui, ud] = updateKeys(ours, page);
          const [ri, rd] = updateKeys(theirs, page);
          // The update index, entry for entry as Escale writes it (full metadata, N = 205).
          const u = parseIndex(await Deno.readFile(`${dir}/relay/${ui}`), "update", ui);
          const r = parseIndex(
            await Deno.readFile(`${FIXTURES}${c.name}/after-upload/relay/${ri}`),
            "update",
            ri,
          );
          assertEquals(sorted(u.entries), sorted(r.entries), ui);
          assertEquals(
            await Deno.readTextFile(`${dir}/relay/${ui}`).then((t) => t.length),
            await Deno.readTextFile(`${FIXTURES}${c.name}/after-upload/relay/${ri}`).then((t) =>
              t.length
            ),
          );
          // The data: a tar.bz2 (a Fernet token of it) holding the same files.
          assertEquals(
            await updateFiles(`${dir}/relay/${ud}`, fernet),
            await updateFiles(`${FIXTURES}${c.name}/after-upload/relay/${rd}`, fernet),
          );
        }
        const again = await a.round();
        assertEquals([again.uploaded, again.relayWrites], [0, 0]);
      } finally {
        a.close();
      }
    });
  });
}

function sorted(m: Map<string, string | null>): [string, string | null][] {
  return [...m].sort(([a], [b]) => (a < b ? -1 : 1));
}
