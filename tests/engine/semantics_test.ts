// Scenario tests for the sync semantics (issue 3): each is a short script of local edits and
// rounds of named clients, with the expected trees.
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { withSandbox } from "./sandbox.ts";
import { MemoryRelay } from "../../src/relay/memory_relay.ts";
import { CountingRelay } from "../../src/relay/counting_relay.ts";
import { isKind } from "../../src/errors/errors.ts";
import type { Mode } from "../../src/engine/modes.ts";
import type { ConflictStrategy } from "../../src/engine/context.ts";

const T1 = new Date("2026-01-01T10:00:00Z");
const T2 = new Date("2026-01-01T11:00:00Z");

async function rounds(...clients: { sync(): Promise<unknown> }[]): Promise<void> {
  for (const c of clients) await c.sync();
}

Deno.test("deletions propagate per mode", async (t) => {
  const cases: [string, Mode, Mode, boolean, boolean][] = [
    // name, mode of A (deletes), mode of B, propagate deletions, B loses the file
    ["shared -> shared", "shared", "shared", true, true],
    ["upload -> download", "upload", "download", true, true],
    ["propagate deletions = no", "shared", "shared", false, false],
    ["backup-upload does not publish deletions", "backup-upload", "download", true, false],
    ["backup-download does not apply deletions", "upload", "backup-download", true, false],
    ["mirror-upload -> mirror-download", "mirror-upload", "mirror-download", true, true],
  ];
  for (const [name, ma, mb, propagate, gone] of cases) {
    await t.step(name, () =>
      withSandbox(async (sb) => {
        const a = await sb.client("A", ma, { propagateDeletions: propagate });
        const b = await sb.client("B", mb, { propagateDeletions: propagate });
        for (const f of ["keep1", "keep2", "keep3", "doomed"]) await a.write(`${f}.txt`, f);
        await rounds(b, a, b, a);
        assertEquals(Object.keys(await b.tree()).length, 4);
        await a.rm("doomed.txt");
        await rounds(a, b, a);
        assertEquals("doomed.txt" in (await b.tree()), !gone);
      }));
  }
});

Deno.test("a rename travels as a move, without sending the data again", async () => {
  const counting = new CountingRelay(new MemoryRelay());
  await withSandbox(async (sb) => {
    const a = await sb.client("A");
    const b = await sb.client("B");
    const big = "x".repeat(512 * 1024);
    await a.write("old/name.bin", big);
    await a.write("other.txt", "other");
    await rounds(b, a, b, a);
    assertEquals(await b.read("old/name.bin"), big);
    counting.reset();
    await a.mv("old/name.bin", "new/place/renamed.bin");
    await a.sync();
    assert(
      counting.counters.bytesWritten < 4096,
      `rename wrote ${counting.counters.bytesWritten} bytes`,
    );
    await b.sync();
    assertEquals(await b.tree(), { "new/place/renamed.bin": big, "other.txt": "other" });
    assertEquals(await a.tree(), await b.tree());
  }, counting);
});

Deno.test("edit/edit conflicts under each strategy", async (t) => {
  const expect: Record<ConflictStrategy, (tree: Record<string, string>) => void> = {
    "keep-both": (tree) => {
      assertEquals(tree["doc.txt"], "B's edit (newer)");
      const copies = Object.entries(tree).filter(([p]) => p.startsWith("doc.conflict-A-"));
      assertEquals(copies.length, 1, JSON.stringify(tree));
      assertEquals(copies[0][1], "A's edit");
      assert(/^doc\.conflict-A-20260101-100000\.txt$/.test(copies[0][0]), copies[0][0]);
    },
    newest: (tree) => assertEquals(tree, { "doc.txt": "B's edit (newer)" }),
    // A resolves first and wins with "local"; B then receives A's dominating version.
    local: (tree) => assertEquals(tree, { "doc.txt": "A's edit" }),
    remote: (tree) => assertEquals(tree, { "doc.txt": "B's edit (newer)" }),
  };
  for (const strategy of ["keep-both", "newest", "local", "remote"] as ConflictStrategy[]) {
    await t.step(strategy, () =>
      withSandbox(async (sb) => {
        const a = await sb.client("A", "shared", { conflict: strategy });
        const b = await sb.client("B", "shared", { conflict: strategy });
        await a.write("doc.txt", "original");
        await rounds(b, a, b, a);
        await a.write("doc.txt", "A's edit", T1);
        await b.write("doc.txt", "B's edit (newer)", T2);
        await b.sync(); // B publishes first
        await rounds(a, b, a, b); // A sees a conflict with its unpublished edit
        const ta = await a.tree();
        assertEquals(await b.tree(), ta);
        expect[strategy](ta);
      }));
  }
});

Deno.test("edit/edit conflict between two published versions converges with both kept", () =>
  withSandbox(async (sb) => {
    const a = await sb.client("A");
    const b = await sb.client("B");
    await a.write("doc.txt", "original");
    await rounds(b, a, b, a);
    await a.write("doc.txt", "A's edit", T2);
    await b.write("doc.txt", "B's edit", T1);
    await a.sync(); // both publish before seeing the other
    await b.sync();
    await rounds(a, b, a, b);
    const ta = await a.tree();
    assertEquals(await b.tree(), ta);
    assertEquals(ta["doc.txt"], "A's edit");
    assertEquals(Object.values(ta).sort(), ["A's edit", "B's edit"]);
  }));

Deno.test("edit/delete conflicts keep the edited file, on both sides", async (t) => {
  await t.step("remote delete, local edit", () =>
    withSandbox(async (sb) => {
      const a = await sb.client("A");
      const b = await sb.client("B");
      for (const f of ["x", "y", "z"]) await a.write(`${f}.txt`, f);
      await rounds(b, a, b, a);
      await a.rm("x.txt");
      await a.sync();
      await b.write("x.txt", "edited on B");
      await rounds(b, a, b, a);
      assertEquals((await a.tree())["x.txt"], "edited on B");
      assertEquals(await b.tree(), await a.tree());
    }));
  await t.step("local delete, remote edit", () =>
    withSandbox(async (sb) => {
      const a = await sb.client("A");
      const b = await sb.client("B");
      for (const f of ["x", "y", "z"]) await a.write(`${f}.txt`, f);
      await rounds(b, a, b, a);
      await a.write("x.txt", "edited on A");
      await a.sync();
      await b.rm("x.txt");
      await rounds(b, a, b, a);
      assertEquals((await b.tree())["x.txt"], "edited on A");
      assertEquals(await b.tree(), await a.tree());
    }));
});

Deno.test("create/create: same content merges silently, different content keeps both", () =>
  withSandbox(async (sb) => {
    const a = await sb.client("A");
    const b = await sb.client("B");
    await a.write("same.txt", "identical");
    await b.write("same.txt", "identical");
    await a.write("diff.txt", "from A", T2);
    await b.write("diff.txt", "from B", T1);
    await rounds(a, b, a, b, a);
    const ta = await a.tree();
    assertEquals(await b.tree(), ta);
    assertEquals(ta["same.txt"], "identical");
    assertEquals(ta["diff.txt"], "from A");
    const copies = Object.keys(ta).filter((p) => p.includes(".conflict-"));
    assertEquals(copies.length, 1, JSON.stringify(ta));
    assertEquals(ta[copies[0]], "from B");
    assert(copies[0].startsWith("diff.conflict-B-"), copies[0]);
  }));

Deno.test("conservative mode keeps files it pushed or had, accepts new ones and updates of pulled ones", () =>
  withSandbox(async (sb) => {
    const a = await sb.client("A", "conservative");
    const b = await sb.client("B");
    await a.write("c.txt", "A's own c");
    await b.write("b.txt", "b v1");
    await rounds(a, b, a, b);
    assertEquals(await a.read("b.txt"), "b v1");
    await b.write("c.txt", "B's newer c", T2);
    await b.write("b.txt", "b v2");
    await rounds(b, a);
    assertEquals(await a.read("c.txt"), "A's own c", "a file A pushed must not be overwritten");
    assertEquals(await a.read("b.txt"), "b v2", "a file A pulled is updated");
  }));

Deno.test("access modifiers: r- is never uploaded, w- is never overwritten", () =>
  withSandbox(async (sb) => {
    const a = await sb.client("A");
    const b = await sb.client("B");
    await a.write("secret.txt", "stays here");
    await a.write("pinned.txt", "A's pinned");
    await a.write("normal.txt", "n");
    (await a.repo()).state.setAccess("secret.txt", "-", "?");
    await rounds(b, a, b, a);
    assertEquals(Object.keys(await b.tree()).sort(), ["normal.txt", "pinned.txt"]);
    (await a.repo()).state.setAccess("pinned.txt", "?", "-");
    await b.write("pinned.txt", "B's change");
    await rounds(b, a);
    assertEquals(await a.read("pinned.txt"), "A's pinned");
  }));

Deno.test("a client joining late gets every file, even after the relay released the commits", () =>
  withSandbox(async (sb) => {
    const relay = sb.relay as MemoryRelay;
    const a = await sb.client("A");
    const b = await sb.client("B");
    await a.write("one.txt", "1");
    await b.write("two/deep.txt", "2");
    await rounds(a, b, a, b, a, b);
    assert(
      ![...relay.objects.keys()].some((k) => k.startsWith("commits/")),
      "commits were not released",
    );
    const c = await sb.client("C", "download");
    await rounds(c, a, b, c, a, b, c);
    assertEquals(await c.tree(), await a.tree());
    assertEquals(await c.tree(), { "one.txt": "1", "two/deep.txt": "2" });
  }));

Deno.test("a round deleting more than the threshold stops unless forced", () =>
  withSandbox(async (sb) => {
    const a = await sb.client("A");
    const b = await sb.client("B");
    for (let i = 0; i < 10; i++) await a.write(`f${i}.txt`, `${i}`);
    await rounds(b, a, b, a);
    for (let i = 0; i < 8; i++) await a.rm(`f${i}.txt`);
    await assertRejects(() => a.sync(), (e) => isKind(e, "safety"));
    assertEquals(Object.keys(await b.tree()).length, 10);
    a.extra.force = true;
    await a.sync();
    // B now faces the same share of deletions from the relay, and stops too.
    await assertRejects(() => b.sync(), (e) => isKind(e, "safety"));
    assertEquals(Object.keys(await b.tree()).length, 10);
    b.extra.force = true;
    await b.sync();
    assertEquals(Object.keys(await b.tree()).sort(), ["f8.txt", "f9.txt"]);
  }));

Deno.test("the deletion share counts the files before the deletions", () =>
  withSandbox(async (sb) => {
    // 4 of 10 is 40%, under the 50% threshold: neither the deleting client nor the reader stops
    // (counted against the 6 files left, it was 67%).
    const a = await sb.client("A");
    const b = await sb.client("B");
    for (let i = 0; i < 10; i++) await a.write(`f${i}.txt`, `${i}`);
    await rounds(b, a, b, a);
    for (let i = 0; i < 4; i++) await a.rm(`f${i}.txt`);
    await rounds(a, b);
    assertEquals(Object.keys(await b.tree()).length, 6);
    // 4 of the 6 left is more than half: the message names the files there were.
    for (let i = 4; i < 8; i++) await a.rm(`f${i}.txt`);
    await assertRejects(
      () => a.sync(),
      (e) => isKind(e, "safety") && /would remove 4 of 6 files/.test((e as Error).message),
    );
  }));

Deno.test("mirror-download undoes local changes: edits and deletions restored, extra files removed", () =>
  withSandbox(async (sb) => {
    const a = await sb.client("A", "upload");
    const b = await sb.client("B", "mirror-download");
    for (const f of ["one", "two", "three", "four"]) await a.write(`${f}.txt`, `${f} from A`);
    await rounds(b, a, b, a);
    const reference = await a.tree();
    assertEquals(await b.tree(), reference);
    await b.write("one.txt", "edited on the mirror");
    await b.rm("two.txt");
    await b.write("extra.txt", "only on the mirror");
    await rounds(b, a, b, a, b);
    assertEquals(await b.tree(), reference);
  }));

Deno.test("mirror-upload undoes changes made elsewhere by republishing its own version", () =>
  withSandbox(async (sb) => {
    const a = await sb.client("A", "mirror-upload");
    const b = await sb.client("B");
    await a.write("doc.txt", "reference");
    await a.write("keep.txt", "keep");
    await rounds(b, a, b, a);
    await b.write("doc.txt", "changed on B");
    await b.write("new-on-b.txt", "B's addition");
    await rounds(b, a, b, a, b);
    assertEquals(await b.tree(), { "doc.txt": "reference", "keep.txt": "keep" });
    assertEquals(await a.tree(), { "doc.txt": "reference", "keep.txt": "keep" });
  }));
