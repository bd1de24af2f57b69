import { assert, assertEquals, failure } from "../assert.ts";
import { pageOf, pagesOf, parseIndexSetting } from "../../src/legacy/index_pages.ts";
import { formatIndex, parseIndex } from "../../src/legacy/index_text.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("legacy index text: N counts characters in an update index and bytes in a page, as Escale reads them", () => {
  const meta = "placeholder%1.0\npusher: josé\ntimestamp: 1\nchecksum: ab\n---pullers---";
  const entries = new Map<string, string | null>([["été/a b.txt", meta]]);
  const update = new TextDecoder().decode(formatIndex(entries, "update", ["peerB"]));
  // Python's text-mode read(N) counts characters: "é" is one.
  assertEquals(update.split("\n")[0], `été/a b.txt ${[...meta].length + 1}`);
  assert(update.endsWith("---pullers---\npeerB"), update);
  const back = parseIndex(enc(update), "update", "u");
  assertEquals([...back.entries], [["été/a b.txt", meta + "\n"]]);
  assertEquals(back.pullers, ["peerB"]);
  // A page groups the pusher line; the rest is read from a binary stream: N counts bytes.
  const noted = meta.replace("---pullers---", "note: café\n---pullers---");
  const page = formatIndex(new Map([["été/a b.txt", noted]]), "persistent");
  const text = new TextDecoder().decode(page);
  assertEquals(
    text,
    "---group---\nplaceholder%1.0\npusher: josé\n-----------\n" +
      "été/a b.txt 52\ntimestamp: 1\nchecksum: ab\nnote: café\n---pullers---\n",
  );
  assertEquals([...parseIndex(page, "persistent", "p").entries], [["été/a b.txt", noted + "\n"]]);
});

Deno.test("legacy index text: entries without metadata, the EOF puller line and the first blank line", () => {
  const text = "a.txt 0\nb c.txt 5\nx: 1\n---pullers---\npeerB\n\n";
  const r = parseIndex(enc(text), "update", "u");
  assertEquals([...r.entries], [["a.txt", null], ["b c.txt", "x: 1\n"]]);
  assertEquals(r.pullers, ["peerB"]);
  // Reading stops at the first empty line, as Escale's read_index does.
  assertEquals(parseIndex(enc("a.txt 0\n\nb.txt 0\n"), "update", "u").entries.size, 1);
  const cut = failureOf(() => parseIndex(enc("a.txt 50\nshort"), "update", "u.index"));
  assertEquals(cut, 'u.index: not an Escale index (entry "a.txt" is cut short)');
  const junk = failureOf(() => parseIndex(enc("no number here\n"), "update", "u.index"));
  assert(junk.startsWith("u.index: not an Escale index (entry header"), junk);
});

function failureOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("no error");
}

Deno.test("legacy index pages: the index setting and the page of a path, as Escale computes them", async () => {
  assertEquals(parseIndexSetting(undefined), undefined);
  assertEquals(parseIndexSetting("no"), undefined);
  assertEquals(parseIndexSetting("Yes"), { kind: "single" });
  assertEquals(parseIndexSetting("topdir"), { kind: "topdir", levels: 1 });
  assertEquals(parseIndexSetting("top directories:3"), { kind: "topdir", levels: 3 });
  const bad = await failure(Promise.resolve().then(() => parseIndexSetting("topdir:0")));
  assertEquals(bad.kind, "config");
  const two = { kind: "topdir", levels: 2 } as const;
  assertEquals(pageOf("a.b/c/d/e.txt", two), "a_b_c");
  assertEquals(pageOf("a/e.txt", two), "0");
  assertEquals(pageOf("photos.2020/p.jpg", { kind: "topdir", levels: 1 }), "photos_2020");
  assertEquals(pageOf("docs été/x", { kind: "topdir", levels: 1 }), "docs été");
  assertEquals(pageOf("a/b/c", { kind: "single" }), "0");
  const root = [".0.index", ".sub.index", ".sub.17.index", ".sub.17.data", ".0.lock", "x/.y.index"]
    .map((key) => ({ key, size: 1, mtime: 0 }));
  const pages = pagesOf(root);
  assertEquals([...pages.keys()], ["0", "sub"]);
  assertEquals([...pages.get("sub")!.updates.keys()], [17]);
  assert(pages.get("0")!.lock !== undefined);
});
