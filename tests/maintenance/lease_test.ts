import { assert, assertEquals } from "../assert.ts";
import { MemoryRelay } from "../../src/relay/memory_relay.ts";
import { RelayStore } from "../../src/protocol/relay_store.ts";
import { openStore } from "../../src/protocol/open_store.ts";
import { withLease } from "../../src/protocol/lease.ts";

const lease = (o: Record<string, unknown>) => new TextEncoder().encode(JSON.stringify(o));
const future = () => new Date(Date.now() + 3600_000).toISOString();

async function deadPid(): Promise<number> {
  const child = new Deno.Command("true", { stdout: "null", stderr: "null" }).spawn();
  await child.status;
  return child.pid;
}

Deno.test("lease: one left by a process of this machine that is gone is taken back at once", async () => {
  const relay = new MemoryRelay();
  const store = new RelayStore(relay);
  await relay.write(
    "leases/maintenance",
    lease({ owner: "killed", expires: future(), host: Deno.hostname(), pid: await deadPid() }),
  );
  assertEquals(await withLease(store, "maintenance", "me", () => Promise.resolve(42)), 42);
  assertEquals(await relay.stat("leases/maintenance"), null);
});

Deno.test("lease: a live holder, or one on another machine, keeps it until it expires", async () => {
  for (const held of [{ host: Deno.hostname(), pid: Deno.ppid }, { host: "elsewhere", pid: 1 }]) {
    const relay = new MemoryRelay();
    await relay.write(
      "leases/maintenance",
      lease({ owner: "busy one", expires: future(), ...held }),
    );
    const err = await withLease(new RelayStore(relay), "maintenance", "me", () => Promise.resolve())
      .then(() => null, (e) => e);
    assert(
      String(err?.message).includes("busy: busy one holds the maintenance lease"),
      String(err),
    );
  }
});

Deno.test("lease: a plain lease on an encrypted relay (written without the key) counts as held", async () => {
  const relay = new MemoryRelay();
  const { store } = await openStore(relay, {
    mode: "aead",
    secret: new TextEncoder().encode("pass"),
    cost: { memoryKiB: 8 * 1024, iterations: 1 },
  });
  await relay.write("leases/maintenance", lease({ owner: "migrate", expires: future() }));
  const err = await withLease(store, "maintenance", "me", () => Promise.resolve())
    .then(() => null, (e) => e);
  assert(String(err?.message).includes("busy: another maintenance command holds"), String(err));
});
