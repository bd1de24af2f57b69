import { conformanceSteps } from "./conformance.ts";
import { MemoryRelay } from "../../src/relay/memory_relay.ts";
import { FileRelay } from "../../src/relay/file_relay.ts";
import { FaultRelay } from "../../src/relay/fault_relay.ts";
import { InterruptibleRelay } from "../../src/relay/interruptible_relay.ts";
import { isKind, RelayError } from "../../src/errors/errors.ts";
import { toArray } from "../../src/util/streams.ts";
import { run } from "../servers/harness.ts";
import { assert } from "../assert.ts";

Deno.test("memory relay passes the conformance suite", async (t) => {
  await conformanceSteps(t, new MemoryRelay());
});

Deno.test("file relay passes the conformance suite", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    await conformanceSteps(t, await new FileRelay(dir).open());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("file relay refuses a missing folder and keys that escape", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let err: unknown;
    await new FileRelay(`${dir}/nope`).open().catch((e) => (err = e));
    if (!isKind(err, "not-found")) throw new Error(`expected not-found, got ${err}`);
    // Opening again on the same object works once the folder exists (the CLI retries so).
    const again = new FileRelay(`${dir}/later`);
    await again.open().catch(() => {});
    await Deno.mkdir(`${dir}/later`);
    await again.open();
    const r = await new FileRelay(dir).open();
    for (const bad of ["../x", "/etc/passwd", "a/../../b", "a\0b", ""]) {
      let e2: unknown;
      await r.write(bad, new Uint8Array(1)).catch((e) => (e2 = e));
      if (!isKind(e2, "permanent")) throw new Error(`key ${JSON.stringify(bad)} was accepted`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Fails instead of hanging when `p` does not settle in time (a hang detector, not a timing). */
async function settles<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} blocked`)), 10_000);
  });
  try {
    return await Promise.race([p, hang]);
  } finally {
    clearTimeout(timer);
  }
}

async function refusal(p: Promise<unknown>, what: string): Promise<RelayError> {
  const e = await settles(p.then(() => null, (e) => e), what);
  if (!(e instanceof RelayError)) throw new Error(`${what}: expected a refusal, got ${e}`);
  return e;
}

Deno.test("file relay refuses a FIFO or a device in place of an object, without blocking", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await new FileRelay(dir).open();
    await r.write("data/aa/fifo", new Uint8Array([1, 2, 3]));
    await r.write("data/aa/zero", new Uint8Array([1, 2, 3]));
    await r.write("data/bb/ok", new Uint8Array([4]));
    // An attacker (or an accident) with write access to the relay folder.
    await Deno.remove(`${dir}/data/aa/fifo`);
    await run("mkfifo", [`${dir}/data/aa/fifo`]);
    await Deno.remove(`${dir}/data/aa/zero`);
    await Deno.symlink("/dev/zero", `${dir}/data/aa/zero`);
    for (const key of ["data/aa/fifo", "data/aa/zero"]) {
      for (
        const [op, p] of [
          ["read", () => r.read(key)],
          ["stat", () => r.stat(key)],
          ["list", () => toArray(r.list("data/aa"))],
        ] as const
      ) {
        const e = await refusal(p(), `${op} ${key}`);
        assert(e.kind === "integrity", `${op} ${key}: ${e.kind}: ${e.message}`);
        assert(e.message.includes("data/aa/") && !e.message.includes("\n"), e.message);
      }
    }
    assert((await toArray(r.list("data/bb"))).length === 1, "a clean folder still lists");
    // A FIFO at the (predictable) temporary name of a write does not block the write.
    await run("mkfifo", [`${dir}/data/bb/.escale-part-next`]);
    await settles(r.write("data/bb/next", new Uint8Array([5])), "write over a FIFO");
    assert((await Deno.readFile(`${dir}/data/bb/next`))[0] === 5, "written");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("interruptible relay: an abort ends pending and later operations at once", async () => {
  const inner = new MemoryRelay();
  await inner.write("k", new Uint8Array([1]));
  const stalls = ["list", "stat", "read", "write", "delete"] as const;
  const ctl = new AbortController();
  const r = new InterruptibleRelay(
    new FaultRelay(inner, stalls.map((op) => ({ op, action: "stall" as const }))),
    ctl.signal,
  );
  const calls = [
    toArray(r.list("")),
    r.stat("k"),
    r.read("k"),
    r.write("k2", new Uint8Array([2])),
    r.delete("k"),
  ];
  ctl.abort();
  for (const [i, p] of calls.entries()) {
    const e = await refusal(p, stalls[i]);
    assert(e.kind === "interrupted", `${stalls[i]}: ${e.kind}: ${e.message}`);
  }
  const later = await refusal(r.stat("k"), "stat after the abort");
  assert(later.kind === "interrupted", later.message);
  await r.close();
});
