import { assert, assertBytes, assertEquals, failure } from "../assert.ts";
import { generateKeyFile, readSecret } from "../../src/crypto/secret_source.ts";
import { base64url } from "../../src/crypto/base64url.ts";

const enc = (s: string) => new TextEncoder().encode(s);

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("generateKeyFile writes a 0600 key even under umask 000, and never overwrites", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/relay.key`;
    // umask is per process: change it in a child, not under the other tests running here.
    const module = new URL("../../src/crypto/secret_source.ts", import.meta.url).href;
    const script = `Deno.umask(0); const m = await import(${JSON.stringify(module)}); ` +
      `await m.generateKeyFile(${JSON.stringify(path)});`;
    const child = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--quiet", script],
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    assert(child.success, "generateKeyFile failed in the child process");
    assertEquals(((await Deno.stat(path)).mode ?? 0) & 0o777, 0o600, "mode");
    const text = await Deno.readTextFile(path);
    assert(/^[A-Za-z0-9_-]{43}\n$/.test(text), `content ${JSON.stringify(text)}`);
    assertEquals(base64url.decode(text.trim())?.length, 32, "key bytes");
    const warnings: string[] = [];
    const secret = await readSecret({ value: "", file: path, warn: (m) => warnings.push(m) });
    assertBytes(secret, enc(text.trim()), "readSecret returns the key without the newline");
    assertEquals(warnings.length, 0, "no warning for a 0600 file");

    const e = await failure(() => generateKeyFile(path), "usage", "overwrite");
    assert(e.message.includes("already exists"), e.message);
    assertEquals(await Deno.readTextFile(path), text, "the existing key is untouched");

    await generateKeyFile(`${dir}/second.key`);
    assert(await Deno.readTextFile(`${dir}/second.key`) !== text, "two keys are equal");
    await failure(() => generateKeyFile(`${dir}/no/such/dir/k`), "local-io", "missing dir");
  });
});

Deno.test("readSecret: literals, files, line ends, normalisation, warnings", async () => {
  await withDir(async (dir) => {
    const composed = "caf\u00e9 secret";
    const decomposed = "cafe\u0301 secret";
    assertBytes(
      await readSecret({ value: decomposed }),
      await readSecret({ value: composed }),
      "NFC literal",
    );
    await failure(() => readSecret({ value: "" }), "config", "empty literal");

    const f = `${dir}/pass.txt`;
    await Deno.writeFile(f, enc(`${decomposed}\r\n\n`), { mode: 0o600 });
    await Deno.chmod(f, 0o600);
    assertBytes(await readSecret({ value: "ignored", file: f }), enc(composed), "file, CRLF");

    await Deno.chmod(f, 0o644);
    const warnings: string[] = [];
    await readSecret({ value: "", file: f, warn: (m) => warnings.push(m) });
    assertEquals(warnings.length, 1, "warnings for a world-readable file");
    assert(warnings[0].includes("chmod 600") && !warnings[0].includes("secret"), warnings[0]);

    const bin = `${dir}/bin.key`;
    const raw = new Uint8Array([0xff, 0x00, 0xfe, 0x0a]);
    await Deno.writeFile(bin, raw, { mode: 0o600 });
    assertBytes(await readSecret({ value: "", file: bin }), raw.subarray(0, 3), "binary key");

    await Deno.writeFile(`${dir}/empty`, enc("\n"), { mode: 0o600 });
    await failure(() => readSecret({ value: "", file: `${dir}/empty` }), "config", "empty");
    const missing = await failure(
      () => readSecret({ value: "", file: `${dir}/missing` }),
      "config",
      "missing file",
    );
    assert(missing.message.includes("does not exist"), missing.message);
  });
});
