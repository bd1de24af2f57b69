// Encryption end to end (issue 5): the relay learns nothing but sizes and timing, and every
// kind of tampering is detected before anything is applied.
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { Sandbox } from "./sandbox.ts";
import { MemoryRelay } from "../../src/relay/memory_relay.ts";
import { type EscaleError, isKind } from "../../src/errors/errors.ts";

const NAMES = ["Zanzibar-Quarterly-Secrets.txt", "Project-Nightingale", "kumquat-ledger.csv"];
const CONTENT = [
  "The eagle lands at Marseille",
  "PINEAPPLE-VAULT-CODE-7781",
  "invoice;Bellerophon;4200",
];

function relayBytes(relay: MemoryRelay): string {
  return [...relay.objects.entries()].map(([k, v]) =>
    k + "\n" + new TextDecoder("latin1").decode(v.data)
  ).join("\n");
}

async function populated(relay: MemoryRelay) {
  const sb = await Sandbox.create(relay, "correct horse battery staple");
  const a = await sb.client("Aurelia-Workstation", "upload");
  const b = await sb.client("Bartholomew-Laptop", "download");
  await a.write(`${NAMES[1]}/${NAMES[0]}`, CONTENT[0]);
  await a.write(`${NAMES[1]}/deeper/${NAMES[2]}`, CONTENT[1]);
  await a.write("plain.txt", CONTENT[2] + "\n".repeat(100));
  return { sb, a, b };
}

Deno.test("encrypted relay holds no name, content or client name", async () => {
  const relay = new MemoryRelay();
  const { sb, a, b } = await populated(relay);
  try {
    await b.sync();
    await a.sync();
    const bytes = relayBytes(relay);
    for (const s of [...NAMES, ...CONTENT, "Aurelia", "Bartholomew", "deeper", "plain.txt"]) {
      assert(!bytes.includes(s), `relay contains ${s}`);
    }
    await b.sync();
    assertEquals(await b.tree(), await a.tree());
  } finally {
    await sb.cleanup();
  }
});

Deno.test("tampering with any relay object is detected, named, and nothing is applied", async (t) => {
  const kinds: [string, (relay: MemoryRelay) => string][] = [
    ["flip a byte in a commit", (r) => flip(r, "commits/")],
    ["flip a byte in a data object", (r) => flip(r, "data/")],
    ["flip a byte in a client record", (r) => flip(r, "clients/")],
    ["truncate a data object", (r) => {
      const [k, v] = find(r, "data/");
      v.data = v.data.slice(0, v.data.length - 7);
      return k;
    }],
    ["truncate a commit", (r) => {
      const [k, v] = find(r, "commits/");
      v.data = v.data.slice(0, 30);
      return k;
    }],
    ["replace a commit by an older one", (r) => {
      const commits = [...r.objects.keys()].filter((k) => k.startsWith("commits/")).sort();
      r.objects.get(commits[1])!.data = r.objects.get(commits[0])!.data;
      return commits[1];
    }],
    ["swap two data objects", (r) => {
      const data = [...r.objects.keys()].filter((k) => k.startsWith("data/")).sort();
      const x = r.objects.get(data[0])!.data;
      r.objects.get(data[0])!.data = r.objects.get(data[1])!.data;
      r.objects.get(data[1])!.data = x;
      return data[0];
    }],
  ];
  for (const [name, tamper] of kinds) {
    await t.step(name, async () => {
      const relay = new MemoryRelay();
      const { sb, a, b } = await populated(relay);
      try {
        await b.sync();
        await a.sync();
        await a.write("second.txt", "a second commit with its own data object");
        await a.sync();
        const key = tamper(relay);
        const e = await assertRejects(() => b.sync(), (e) => isKind(e, "integrity"));
        assert(
          (e as EscaleError).message.includes(key.split("/")[1].slice(0, 16)),
          `${(e as Error).message} does not name ${key}`,
        );
        assertEquals(await b.tree(), {});
      } finally {
        await sb.cleanup();
      }
    });
  }
});

function find(r: MemoryRelay, prefix: string): [string, { data: Uint8Array; mtime: number }] {
  const keys = [...r.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
  return [keys[0], r.objects.get(keys[0])!];
}

function flip(r: MemoryRelay, prefix: string): string {
  const [key, v] = find(r, prefix);
  v.data = v.data.slice();
  v.data[Math.floor(v.data.length / 2)] ^= 0x40;
  v.mtime++;
  return key;
}

Deno.test("wrong passphrase: key error, nothing written, nothing changed locally", async () => {
  const relay = new MemoryRelay();
  const { sb, a } = await populated(relay);
  try {
    await a.sync();
    const before = JSON.stringify(
      [...relay.objects.entries()].map(([k, v]) => [k, v.mtime, v.data.length]),
    );
    const c = await sb.client("C", "download");
    c.secret = new TextEncoder().encode("wrong horse");
    await c.write("local.txt", "untouched");
    await assertRejects(() => c.sync(), (e) => isKind(e, "key"));
    assertEquals(
      JSON.stringify([...relay.objects.entries()].map(([k, v]) => [k, v.mtime, v.data.length])),
      before,
    );
    assertEquals(await c.tree(), { "local.txt": "untouched" });
  } finally {
    await sb.cleanup();
  }
});

Deno.test("plain and encrypted clients refuse each other's relays", async () => {
  const plainRelay = new MemoryRelay();
  const sbPlain = await Sandbox.create(plainRelay);
  const sbEnc = await Sandbox.create(new MemoryRelay(), "secret");
  try {
    await (await sbPlain.client("P")).sync();
    const intruder = await sbPlain.client("E");
    intruder.secret = new TextEncoder().encode("secret");
    await assertRejects(
      () => intruder.sync(),
      (e) => isKind(e, "key") && /not encrypted/.test((e as Error).message),
    );
    await (await sbEnc.client("E2")).sync();
    const plain = await sbEnc.client("P2");
    sbEnc.secret = undefined;
    await assertRejects(
      () => plain.sync(),
      (e) => isKind(e, "key") && /is encrypted/.test((e as Error).message),
    );
  } finally {
    await sbPlain.cleanup();
    await sbEnc.cleanup();
  }
});
