import { conformanceSteps } from "./conformance.ts";
import { MemoryRelay } from "../../src/relay/memory_relay.ts";
import { FileRelay } from "../../src/relay/file_relay.ts";
import { isKind } from "../../src/errors/errors.ts";

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
