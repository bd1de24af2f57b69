import { assert, assertEquals } from "../assert.ts";
import { editSection } from "../../src/config/config_writer.ts";
import { parseIni } from "../../src/config/ini_parser.ts";
import { readSection } from "../../src/config/load_config.ts";
import { backendFor, BACKENDS, protocolOfScheme } from "../../src/config/backends/registry.ts";
import type { Backend } from "../../src/config/backends/backend.ts";
import {
  destinationEdit,
  destinationFromSettings,
  destinationOf,
} from "../../src/maintenance/destination.ts";
import { EscaleError } from "../../src/errors/errors.ts";

/** Settings of a section holding `set` (plus the keys a login needs), resolved by the loader. */
function resolved(set: [string, string][], backend: Backend) {
  const login: [string, string][] = backend.setup.loginKeys
    ? [[backend.setup.loginKeys.user, "AKIA"], [backend.setup.loginKeys.password, "s3cret"]]
    : [];
  const text = editSection("", "s", { set: [...set, ...login], remove: [] }).text;
  return readSection(parseIni(text, "<test>"), "s", { env: {}, configDir: "/" }).relay();
}

Deno.test("migrate destinations: every scheme of every backend is accepted, and read as init reads it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "escale-dest-" });
  try {
    let checked = 0;
    for (const backend of BACKENDS) {
      for (const scheme of backend.schemes) {
        const address = backend.setup.address === undefined
          ? `${scheme}://${dir}`
          : `${scheme}://relay.example.org/team/relay`;
        // The scheme alone selects a backend; PROTOCOL:ADDRESS names this one when it does not.
        const implied = backendFor(protocolOfScheme(scheme) ?? "");
        const given = implied === backend ? address : `${backend.id}:${address}`;
        const d = destinationOf(given, {});
        assertEquals(backendFor(d.set[0][1]), backend, given);
        const fromMigrate = resolved(d.set, backend);
        assertEquals(fromMigrate.protocol, backend.id, given);
        // What `escale init` writes for the same answers (a folder service writes the folder).
        const initSet: [string, string][] = backend.setup.address === undefined
          ? [["protocol", backend.id], ["host directory", dir]]
          : [["protocol", d.set[0][1]], ["host address", address]];
        const fromInit = resolved(initSet, backend);
        assertEquals(fromMigrate, fromInit, given);
        assertEquals(backend.describe(fromMigrate), backend.describe(fromInit), given);
        // And a relay copied from another configuration reads back the same.
        const again = destinationFromSettings(fromMigrate);
        assertEquals(resolved(again.set, backend), fromMigrate, given);
        assertEquals(again.shown, backend.describe(fromMigrate), given);
        checked++;
      }
    }
    assertEquals(checked, BACKENDS.reduce((n, b) => n + b.schemes.length, 0));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("migrate destinations: the edit removes every backend option, keeps the machine's", () => {
  const keys = destinationEdit(destinationOf("/tmp", {}), undefined).remove!;
  for (const backend of BACKENDS) {
    for (const o of backend.options) {
      assertEquals(keys.includes(o.key), !o.local, o.key);
    }
  }
  for (const k of ["verify ssl", "ca file", "certfile", "keyfile", "ftps clear data"]) {
    assert(keys.includes(k), k);
  }
});

Deno.test("migrate destinations: bad ones are usage errors", () => {
  for (
    const [text, flags, words] of [
      ["gopher://h/x", {}, "not a relay protocol"],
      ["relative/folder", {}, "not a relay address"],
      ["ftp://u:pw@h/x", {}, "must not hold a password"],
      ["ftp://h/x", { endpoint: "https://e" }, "--endpoint does not apply"],
      ["ftp://u@h/x", {}, "give the password of u"],
      ["rclone:nocolon", {}, "name the remote with a colon"],
    ] as [string, Record<string, string>, string][]
  ) {
    let error: unknown;
    try {
      destinationOf(text, flags);
    } catch (e) {
      error = e;
    }
    assert(error instanceof EscaleError && error.kind === "usage", `${text}: ${error}`);
    assert(error.message.includes(words), error.message);
  }
  const d = destinationOf("ftp://u@h:2121/x", { password: "p" });
  assertEquals(d.credential, { user: "u", password: "p" });
  assertEquals(d.set, [["protocol", "ftp"], ["host address", "ftp://h:2121/x"]]);
  assertEquals(d.shown, "ftp://h:2121/x");
});
