import { assert, assertEquals, failure } from "../assert.ts";
import { FileRelay } from "../../src/relay/file_relay.ts";
import { MemoryRelay } from "../../src/relay/memory_relay.ts";
import { detectLayout } from "../../src/legacy/detect_layout.ts";
import { chooseFormat } from "../../src/legacy/choose_format.ts";
import { FIXTURES } from "./legacy_helpers.ts";

Deno.test("legacy detect: every fixture relay is recognised for what it is", async () => {
  const kinds: Record<string, string> = {};
  for (
    const c of [
      "placeholder-plain",
      "placeholder-fernet",
      "placeholder-pullers-2",
      "index-1",
      "index-1-fernet",
      "index-topdir-1",
      "index-1-pullers-2",
    ]
  ) {
    for (const stage of ["after-upload", "after-pull"]) {
      kinds[`${c}/${stage}`] =
        (await detectLayout(new FileRelay(`${FIXTURES}${c}/${stage}/relay`))).kind;
    }
  }
  kinds.locks = (await detectLayout(new FileRelay(`${FIXTURES}locks/relay`))).kind;
  for (const [k, v] of Object.entries(kinds)) {
    assertEquals(
      v,
      k === "locks" || k.startsWith("placeholder") ? "escale-placeholder" : "escale-index",
      k,
    );
  }
  // A placeholder only in a sub-folder is found too (placeholder-plain after a pull has no data).
  const deep = new MemoryRelay();
  await deep.write(
    "a/b/.c.txt.placeholder",
    new TextEncoder().encode("placeholder%1.0\ntimestamp: 1\n---pullers---"),
  );
  assertEquals(await detectLayout(deep), {
    kind: "escale-placeholder",
    evidence: "a/b/.c.txt.placeholder",
  });
  assertEquals(await detectLayout(new MemoryRelay()), { kind: "empty" });
  await deep.write("escale.json", new TextEncoder().encode("{}"));
  assertEquals((await detectLayout(deep)).kind, "mixed");
});

Deno.test("legacy choose: a setting that contradicts the relay stops with one line naming the setting", async () => {
  const ph = { kind: "escale-placeholder", evidence: ".hello.txt.placeholder" } as const;
  assertEquals(chooseFormat("auto", ph, "/r"), "escale-0.7");
  assertEquals(chooseFormat("auto", { kind: "empty" }, "/r"), "native");
  assertEquals(chooseFormat("escale-0.7", { kind: "empty" }, "/r"), "escale-0.7");
  const native = await failure(Promise.resolve().then(() => chooseFormat("native", ph, "/r")));
  assertEquals(
    native.message,
    `relay /r holds an Escale 0.7 relay (found .hello.txt.placeholder); set "relay format = escale-0.7" (or auto) to share it with Python Escale clients`,
  );
  const legacy = await failure(
    Promise.resolve().then(() => chooseFormat("escale-0.7", { kind: "native" }, "/r")),
  );
  assertEquals(
    legacy.message,
    `relay /r holds escale's native format (found escale.json); set "relay format = native" (or auto) for this section`,
  );
  // The index layout is Escale 0.7's too; one layout is never written into the other.
  const idx = { kind: "escale-index", evidence: ".0.index" } as const;
  assertEquals(chooseFormat("auto", idx, "/r"), "escale-0.7");
  assertEquals(chooseFormat("auto", idx, "/r", "topdir:2"), "escale-0.7");
  assertEquals(chooseFormat("escale-0.7", { kind: "empty" }, "/r", "topdir:1"), "escale-0.7");
  assertEquals(chooseFormat("escale-0.7", { kind: "empty" }, "/r", "no"), "escale-0.7");
  const saysNo = await failure(Promise.resolve().then(() => chooseFormat("auto", idx, "/r", "no")));
  assertEquals(
    saysNo.message,
    `relay /r holds Escale 0.7's index layout (found .0.index) but this section says "index = no"; set "index" as the Python clients of this relay have it`,
  );
  const saysIndex = await failure(
    Promise.resolve().then(() => chooseFormat("auto", ph, "/r", "1")),
  );
  assert(saysIndex.message.includes(`holds Escale 0.7's placeholder layout`), saysIndex.message);
  const nativeIdx = await failure(Promise.resolve().then(() => chooseFormat("native", idx, "/r")));
  assert(nativeIdx.message.includes(`set "relay format = escale-0.7"`), nativeIdx.message);
  const bad = await failure(
    Promise.resolve().then(() => chooseFormat("escale-0.7", { kind: "empty" }, "/r", "pages")),
  );
  assertEquals(bad.kind, "config");
  assert(bad.message.includes(`"topdir:N"`), bad.message);
});
