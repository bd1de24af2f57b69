import { assert, assertEquals } from "../assert.ts";
import { Sandbox } from "../engine/sandbox.ts";
import { hooked } from "./hooked_relay.ts";
import { FileRelay } from "../../src/relay/file_relay.ts";
import { migrateRelay } from "../../src/maintenance/migrate_relay.ts";
import { isKind } from "../../src/errors/errors.ts";

async function keys(dir: string, sub: string): Promise<string[]> {
  const out = [];
  for await (const e of Deno.readDir(`${dir}/${sub}`)) out.push(`${sub}/${e.name}`);
  return out.sort();
}

Deno.test("migrate while a client publishes: what it published during the copy arrives too, and it stops at its next round", async () => {
  const src = await Deno.makeTempDir({ prefix: "escale-src-" });
  const dst = await Deno.makeTempDir({ prefix: "escale-dst-" });
  const sb = await Sandbox.create(new FileRelay(src));
  try {
    const a = await sb.client("A");
    const b = await sb.client("B");
    await a.write("a.txt", "a".repeat(100_000));
    await b.sync();
    await a.sync();
    const source = hooked(new FileRelay(src), /^data\//, async () => {
      await b.write("during.txt", "published while the relay was being copied");
      await b.sync();
    });
    const r = await migrateRelay(source, new FileRelay(dst), { to: dst, owner: "test" });
    assert(r.copied > 0);
    assertEquals(await keys(dst, "commits"), await keys(src, "commits"));
    assertEquals(await keys(dst, "data"), await keys(src, "data"));
    assertEquals(await keys(dst, "clients"), await keys(src, "clients"));
    const err = await b.sync().then(() => null, (e) => e);
    assert(isKind(err, "moved"), String(err));
    assert(String(err.message).includes(`moved to ${dst}`), err.message);
  } finally {
    await sb.cleanup();
    await Deno.remove(src, { recursive: true });
    await Deno.remove(dst, { recursive: true });
  }
});
