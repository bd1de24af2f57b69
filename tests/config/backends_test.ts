import { assert, assertEquals } from "../assert.ts";
import { backendFor, BACKENDS, protocolOfScheme } from "../../src/config/backends/registry.ts";
import { lookupOption, optionDefault, OPTIONS } from "../../src/config/options.ts";
import { configurationDoc } from "../../scripts/gen_config_doc.ts";
import { buildProgram } from "../../src/cli/main.ts";
import { loadConfig } from "../../src/config/load_config.ts";

Deno.test("every backend is reached by its own names and schemes, and no name selects two", () => {
  const seen = new Map<string, string>();
  for (const b of BACKENDS) {
    assertEquals(b.protocols[0], b.id, `${b.id}: its id is its first protocol name`);
    for (const p of b.protocols) {
      assert(!seen.has(p), `'${p}' selects both ${seen.get(p)} and ${b.id}`);
      seen.set(p, b.id);
      assertEquals(backendFor(p)?.id, b.id, `protocol ${p}`);
    }
    for (const [scheme, protocol] of Object.entries(b.implied)) {
      assert(b.schemes.includes(scheme), `${b.id}: implied scheme ${scheme} is not accepted`);
      assertEquals(backendFor(protocol)?.id, b.id, `${scheme}:// means ${protocol}`);
      assertEquals(protocolOfScheme(scheme), protocol, `${scheme}:// is implied once`);
    }
  }
});

Deno.test("a backend's options are configuration options, and its setup is what init offers", () => {
  for (const b of BACKENDS) {
    for (const o of b.options) assert(OPTIONS.includes(o), `${b.id}: ${o.key} not in the table`);
  }
  const doc = configurationDoc();
  for (const b of BACKENDS) assert(doc.includes(`| ${b.setup.label} |`), `${b.id} undocumented`);
  const init = buildProgram(() => {}).commands.find((c) => c.name() === "init")!;
  const help = init.options.find((o) => o.long === "--service")!.description;
  for (const b of BACKENDS) assert(help.includes(b.id), `init --service omits ${b.id}: ${help}`);
});

Deno.test("defaults are written once, in the option table, and parsed by the option's type", () => {
  assertEquals(optionDefault<number>("max retries"), 3, "max retries");
  assertEquals(optionDefault<number>("timeout"), 60, "timeout");
  assertEquals(optionDefault<number>("chunk size"), 8 * 1024 * 1024, "chunk size");
  assertEquals(optionDefault<string>("rclone binary"), "rclone", "a backend's own option");
  assertEquals(optionDefault("client name"), undefined, "a default computed at run time");
  assert(lookupOption("client name")!.described === true, "client name default is described");
});

Deno.test("an unset option behaves as its table default written out (no second default anywhere)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "escale-defaults-" });
  try {
    await Deno.mkdir(`${dir}/A`);
    await Deno.mkdir(`${dir}/relay`);
    const base = `local path = ${dir}/A\nrelay path = ${dir}/relay\n`;
    const load = async (global: string, section: string) => {
      await Deno.writeTextFile(`${dir}/c.conf`, `${global}[s]\n${base}${section}`);
      const cfg = await loadConfig(`${dir}/c.conf`);
      // Which keys were written is recorded on purpose; what they mean must not differ.
      const { where: _w, options: _o, line: _l, ...s } = cfg.sections[0];
      return { global: cfg.global, section: s };
    };
    const unset = await load("", "");
    let compared = 0;
    for (const spec of OPTIONS) {
      if (spec.default === undefined || spec.described || spec.unused !== undefined) continue;
      if (["host directory"].includes(spec.key)) continue; // the relay folder itself, set above
      const line = `${spec.key} = ${spec.default}\n`;
      const written = spec.scope === "global" ? await load(line, "") : await load("", line);
      assertEquals(written, unset, `'${line.trim()}' differs from leaving it unset`);
      compared++;
    }
    assert(compared > 20, `only ${compared} options compared`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
