import { assert, assertEquals, assertRejects } from "../assert.ts";
import {
  editSection,
  sectionNameProblem,
  writeConfigSection,
  writeFileAtomic,
} from "../../src/config/config_writer.ts";
import { parseIni } from "../../src/config/ini_parser.ts";
import { loadConfig } from "../../src/config/load_config.ts";
import { ConfigError, EscaleError } from "../../src/errors/errors.ts";

const EXISTING = `# escale configuration, kept by hand
log level = info   
; shared by every section
refresh = 45

[photos]
# the camera roll
local path = /srv/photos
relay path = /mnt/nas/photos
exclude = *.tmp,
  *.part
# a comment between keys
mode = upload

# --- documents below ---
[docs]
local path = /srv/docs
`;

function entries(text: string, section: string): Record<string, string> {
  const s = parseIni(text, "t").sections.find((x) => x.name === section);
  assert(s, `section ${section} missing`);
  return Object.fromEntries([...s.entries.values()].map((e) => [e.key, e.value]));
}

Deno.test("config writer: a new section is appended, everything before it byte for byte", () => {
  const { text, added } = editSection(EXISTING, "music", {
    set: [["local path", "/srv/music"], ["relay path", "/mnt/nas/music"]],
  });
  assert(added);
  assertEquals(
    text,
    EXISTING + "\n[music]\nlocal path = /srv/music\nrelay path = /mnt/nas/music\n",
  );
});

Deno.test("config writer: an edit replaces values in place and keeps comments and other keys", () => {
  const { text, added } = editSection(EXISTING, "photos", {
    set: [
      ["local path", "/data/photos"],
      ["host directory", "/mnt/other/photos"],
      ["refresh", "10"],
      ["mode", "shared"],
    ],
    remove: ["exclude", "user"],
  });
  assert(!added);
  assertEquals(
    text,
    `# escale configuration, kept by hand
log level = info   
; shared by every section
refresh = 45

[photos]
# the camera roll
local path = /data/photos
host directory = /mnt/other/photos
# a comment between keys
mode = shared
refresh = 10

# --- documents below ---
[docs]
local path = /srv/docs
`,
  );
  // `relay path` and `host directory` are one option: the old spelling is gone, not duplicated.
  assertEquals(entries(text, "photos"), {
    "local path": "/data/photos",
    "host directory": "/mnt/other/photos",
    mode: "shared",
    refresh: "10",
  });
  assertEquals(entries(text, "docs"), { "local path": "/srv/docs" });
});

Deno.test("config writer: a section without entries gets new keys right under its header", () => {
  const text = "[a]\n\n# next one\n[b]\nx = 1\n";
  assertEquals(
    editSection(text, "a", { set: [["mode", "upload"]] }).text,
    "[a]\nmode = upload\n\n# next one\n[b]\nx = 1\n",
  );
});

Deno.test("config writer: percent signs are escaped, CRLF and a BOM are kept", () => {
  const crlf = "\uFEFF# c\r\n[a]\r\nlocal path = /x\r\n";
  const { text } = editSection(crlf, "a", { set: [["local path", "/data/50%off"]] });
  assertEquals(text, "\uFEFF# c\r\n[a]\r\nlocal path = /data/50%%off\r\n");
  const fresh = editSection("", "b", { set: [["client name", "100%"]] }).text;
  assertEquals(fresh, "[b]\nclient name = 100%%\n");
});

Deno.test("config writer: refuses broken files, bad section names and multi-line values", () => {
  let e = (() => {
    try {
      editSection("[a]\nnot an option line\n", "a", { set: [["mode", "upload"]] });
    } catch (err) {
      return err;
    }
  })();
  assert(e instanceof ConfigError, String(e));
  for (const bad of ["", " x", "DEFAULT", "a]b", "tab\there"]) {
    assert(sectionNameProblem(bad) !== undefined, bad);
    e = (() => {
      try {
        editSection("", bad, { set: [] });
      } catch (err) {
        return err;
      }
    })();
    assert(e instanceof EscaleError && e.kind === "usage", `${bad}: ${e}`);
  }
  assertEquals(sectionNameProblem("photos 2026"), undefined);
  e = (() => {
    try {
      editSection("", "a", { set: [["client name", "x\ny = 1"]] });
    } catch (err) {
      return err;
    }
  })();
  assert(e instanceof EscaleError && e.kind === "usage", String(e));
});

Deno.test("config writer: creates a 0600 file in a 0700 folder, and loadConfig reads it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "escale-writer-" });
  try {
    await Deno.mkdir(`${dir}/local`);
    await Deno.mkdir(`${dir}/relay`);
    const file = `${dir}/new/sub/escale.conf`;
    const r = await writeConfigSection(file, "a", {
      set: [["local path", `${dir}/local`], ["relay path", `${dir}/relay`], ["refresh", "5"]],
    });
    assertEquals(r, { file, previous: null, added: true });
    assertEquals((await Deno.stat(file)).mode! & 0o777, 0o600);
    assertEquals((await Deno.stat(`${dir}/new/sub`)).mode! & 0o777, 0o700);
    const cfg = await loadConfig(file, { env: { HOME: dir }, hostname: "h" });
    assertEquals(cfg.sections[0].relay.directory, `${dir}/relay`);
    assertEquals(cfg.sections[0].refreshSec, 5);
    assertEquals([...Deno.readDirSync(`${dir}/new/sub`)].map((e) => e.name), ["escale.conf"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("config writer: an existing file keeps its mode, and a symlink stays a symlink", async () => {
  const dir = await Deno.makeTempDir({ prefix: "escale-writer-" });
  try {
    const real = `${dir}/real.conf`;
    await Deno.writeTextFile(real, "# mine\n[a]\nmode = upload\n");
    await Deno.chmod(real, 0o640);
    await Deno.symlink(real, `${dir}/link.conf`);
    const r = await writeConfigSection(`${dir}/link.conf`, "a", { set: [["mode", "download"]] });
    assertEquals(r.file, real);
    assertEquals(r.previous, "# mine\n[a]\nmode = upload\n");
    assert((await Deno.lstat(`${dir}/link.conf`)).isSymlink);
    assertEquals(await Deno.readTextFile(real), "# mine\n[a]\nmode = download\n");
    assertEquals((await Deno.stat(real)).mode! & 0o777, 0o640);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("config writer: a broken file is left untouched", async () => {
  const dir = await Deno.makeTempDir({ prefix: "escale-writer-" });
  try {
    const file = `${dir}/escale.conf`;
    const broken = "[a]\nlocal path = /x\n[a]\n";
    await Deno.writeTextFile(file, broken);
    await assertRejects(
      () => writeConfigSection(file, "b", { set: [["mode", "upload"]] }),
      (e) => e instanceof ConfigError && /duplicate section/.test(e.message),
    );
    assertEquals(await Deno.readTextFile(file), broken);
    assertEquals([...Deno.readDirSync(dir)].length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFileAtomic: sets the mode despite the umask and leaves no temporary file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "escale-writer-" });
  const umask = Deno.umask(0o077);
  try {
    await writeFileAtomic(`${dir}/f`, "one", 0o644);
    assertEquals((await Deno.stat(`${dir}/f`)).mode! & 0o777, 0o644);
    await writeFileAtomic(`${dir}/f`, new TextEncoder().encode("two"), 0o600);
    assertEquals(await Deno.readTextFile(`${dir}/f`), "two");
    assertEquals((await Deno.stat(`${dir}/f`)).mode! & 0o777, 0o600);
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["f"]);
  } finally {
    Deno.umask(umask);
    await Deno.remove(dir, { recursive: true });
  }
});
