import { assert, assertEquals, failure } from "../assert.ts";
import { Fernet } from "../../src/legacy/fernet.ts";
import { FIXTURES } from "./legacy_helpers.ts";

const keyFile = `${FIXTURES}placeholder-fernet/config/fernet.key`;

Deno.test("legacy fernet: decrypts every data file Escale encrypted with its key file", async () => {
  const f = Fernet.fromKeyText(await Deno.readFile(keyFile));
  for (
    const rel of [
      "hello.txt",
      "sub/notes.md",
      "sub/deep/data.bin",
      "photos.2020/p.jpg",
      "docs été/résumé ü.txt",
    ]
  ) {
    const token = await Deno.readFile(`${FIXTURES}placeholder-fernet/after-upload/relay/${rel}`);
    assertEquals(f.decrypt(token, rel), await Deno.readFile(`${FIXTURES}tree/${rel}`), rel);
  }
});

Deno.test("legacy fernet: tokens have Python's shape and round-trip; a wrong key is a key error", async () => {
  const f = Fernet.fromKeyText(await Deno.readFile(keyFile));
  for (const n of [0, 15, 16, 40, 1000]) {
    const plain = crypto.getRandomValues(new Uint8Array(n));
    const token = f.encrypt(plain, 1796247493);
    const raw = 57 + 16 * (Math.floor(n / 16) + 1);
    assertEquals(token.length, Math.ceil(raw / 3) * 4, `length for ${n}`);
    assertEquals(f.decrypt(token, "t"), plain);
  }
  const other = Fernet.fromKeyText(new TextEncoder().encode("A".repeat(43) + "="));
  assertEquals(
    (await failure(Promise.resolve().then(() => other.decrypt(f.encrypt(new Uint8Array(3)), "t"))))
      .kind,
    "key",
  );
  assertEquals(
    (await failure(Promise.resolve().then(() => f.decrypt(new TextEncoder().encode("hello"), "t"))))
      .kind,
    "integrity",
  );
  assertEquals(
    (await failure(
      Promise.resolve().then(() => Fernet.fromKeyText(new TextEncoder().encode("short"))),
    )).kind,
    "key",
  );
});

Deno.test("legacy fernet: Python's cryptography decrypts our tokens (when python3-cryptography is here)", async () => {
  const probe = await new Deno.Command("python3", {
    args: ["-c", "import cryptography.fernet"],
    stderr: "null",
  }).output().catch(() => null);
  if (!probe?.success) return; // CI without Python: the shape test above covers the format
  const f = Fernet.fromKeyText(await Deno.readFile(keyFile));
  const token = new TextDecoder().decode(f.encrypt(new TextEncoder().encode("from escale\n")));
  const out = await new Deno.Command("python3", {
    args: [
      "-c",
      "import sys;from cryptography.fernet import Fernet;sys.stdout.write(Fernet(open(sys.argv[1],'rb').read()).decrypt(sys.argv[2].encode()).decode())",
      keyFile,
      token,
    ],
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  assertEquals(new TextDecoder().decode(out.stdout), "from escale\n");
});
