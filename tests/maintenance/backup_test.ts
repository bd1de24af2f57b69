import { assert, assertEquals } from "../assert.ts";
import { Sandbox } from "../engine/sandbox.ts";
import { hooked } from "./hooked_relay.ts";
import { FileRelay } from "../../src/relay/file_relay.ts";
import { backupRelay } from "../../src/maintenance/backup_relay.ts";
import { restoreRelay } from "../../src/maintenance/restore_relay.ts";
import { checkRelay } from "../../src/maintenance/check_relay.ts";
import { openExistingStore } from "../../src/maintenance/open_existing_store.ts";

Deno.test("backup while clients sync: a commit released during the backup is left out whole; the restored relay is sound", async () => {
  const relayDir = await Deno.makeTempDir({ prefix: "escale-relay-" });
  const restoredDir = await Deno.makeTempDir({ prefix: "escale-restored-" });
  const sb = await Sandbox.create(new FileRelay(relayDir));
  try {
    const a = await sb.client("A", "upload");
    const b = await sb.client("B", "download");
    await b.sync();
    await a.write("big.bin", "y".repeat(300_000)); // five 64 KiB data objects
    await a.sync();
    const archive: Uint8Array[] = [];
    const raw = new FileRelay(relayDir);
    const relay = hooked(raw, /^data\//, async () => {
      // While the backup copies the first data object, B takes the commit and A releases it,
      // then publishes a new one.
      await b.sync();
      await a.write("late.txt", "published during the backup");
      await a.sync();
    });
    const opened = (await openExistingStore(relay, { mode: "none" }))!;
    const manifest = await backupRelay(
      relay,
      opened.store,
      new WritableStream({ write: (c) => void archive.push(c.slice()) }),
    );
    const keys = manifest.objects.map((o) => o.key);
    assert(!keys.some((k) => k.startsWith("commits/")), `released commit kept: ${keys}`);
    assert(!keys.some((k) => k.startsWith("data/")), keys.join(", "));
    assert(keys.includes("escale.json"));

    const bytes = new Blob(archive as BlobPart[]);
    const restored = new FileRelay(restoredDir);
    const r = await restoreRelay(restored, () => Promise.resolve(bytes.stream()), {
      owner: "test",
    });
    assertEquals(r.written, manifest.objects.length);
    const store = (await openExistingStore(restored, { mode: "none" }))!.store;
    const report = await checkRelay(restored, store, { readData: true });
    assert(report.ok, JSON.stringify(report.damaged));
    assertEquals(report.orphans, []);
  } finally {
    await sb.cleanup();
    await Deno.remove(relayDir, { recursive: true });
    await Deno.remove(restoredDir, { recursive: true });
  }
});
