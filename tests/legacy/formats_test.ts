import { assert, assertEquals, failure } from "../assert.ts";
import { formatPlaceholder, parsePlaceholder } from "../../src/legacy/placeholder.ts";
import { formatLock, parseLock } from "../../src/legacy/lock_file.ts";
import { FIXTURES, snapshot } from "./legacy_helpers.ts";

Deno.test("legacy: every placeholder Escale wrote parses and is written back byte for byte", async () => {
  let n = 0;
  for (const c of ["placeholder-plain", "placeholder-fernet", "placeholder-pullers-2"]) {
    for (const stage of ["after-upload", "after-pull"]) {
      const files = await snapshot(`${FIXTURES}${c}/${stage}/relay`);
      for (const [rel, raw] of Object.entries(files)) {
        if (!rel.endsWith(".placeholder")) continue;
        const text = new TextDecoder().decode(Uint8Array.from(raw, (ch) => ch.charCodeAt(0)));
        const p = parsePlaceholder(text, rel);
        assertEquals(p.pusher, "peerA", rel);
        assertEquals(p.checksum?.length, 128, rel);
        assertEquals(formatPlaceholder(p), text, rel);
        if (c === "placeholder-plain" && stage === "after-pull") assertEquals(p.pullers, ["peerB"]);
        n++;
      }
    }
  }
  assertEquals(n, 30);
});

Deno.test("legacy: placeholder reader takes Escale's variants and refuses what Escale refuses", async () => {
  const legacy = parsePlaceholder("170512_134501\nhostA\nhostB", "x");
  assertEquals(legacy.timestamp, Date.UTC(2017, 4, 12, 13, 45, 1) / 1000);
  assertEquals(legacy.pullers, ["hostA", "hostB"]);
  const v = parsePlaceholder("placeholder%1.0\ntimestamp: 5\nnote: a:b\n\n== Readers ==\nx", "x");
  assertEquals([v.timestamp, v.extra, v.pullers], [5, [["note", "a:b"]], ["x"]]);
  assertEquals(
    (await failure(
      Promise.resolve().then(() => parsePlaceholder("placeholder%1.0\npusher: a", "p")),
    )).kind,
    "integrity",
  );
  assertEquals(
    (await failure(
      Promise.resolve().then(() =>
        parsePlaceholder("placeholder%1.0\ntimestamp: 1\n--- other", "p")
      ),
    )).kind,
    "integrity",
  );
  assertEquals(
    (await failure(Promise.resolve().then(() => parsePlaceholder("garbage", "p")))).kind,
    "integrity",
  );
});

Deno.test("legacy: lock files of the fixture parse, and ours are byte-identical to Escale's", async () => {
  const files = await snapshot(`${FIXTURES}locks/relay`);
  assertEquals(Object.keys(files), [
    ".0.lock",
    ".docs.lock",
    ".hello.txt.lock",
    "sub/.notes.md.lock",
  ]);
  const parsed = Object.fromEntries(Object.entries(files).map(([k, v]) => [k, parseLock(v)]));
  assertEquals(parsed[".hello.txt.lock"], { owner: "peerA", mode: "w" });
  assertEquals(parsed["sub/.notes.md.lock"], { owner: "peerB", mode: "r" });
  assertEquals(parsed[".docs.lock"], { owner: "peerA-suspend", mode: "w" });
  for (const [k, v] of Object.entries(files)) assertEquals(formatLock(parsed[k]), v, k);
  assertEquals(parseLock(""), {});
  assertEquals(parseLock("hostA\n"), { owner: "hostA" });
  assert(!formatLock({ owner: "a", mode: "r" }).endsWith("\n"));
});
