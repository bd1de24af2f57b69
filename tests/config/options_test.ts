import { lookupOption, OPTIONS } from "../../src/config/options.ts";
import { DEVIATIONS } from "../../src/config/deviations.ts";
import { assert, assertEquals } from "../assert.ts";
import { lines, withScratch } from "./helpers.ts";

/** A valid value for every section option (paths are filled in per scratch folder). */
function sample(key: string, dir: string): string {
  const samples: Record<string, string> = {
    "local path": `${dir}/local`,
    "protocol": "file",
    "host address": `${dir}/relay`,
    "host directory": `${dir}/relay`,
    "port": "2121",
    "user": "bob",
    "password": "pw",
    "client name": "peer",
    "mode": "shared",
    "push only": "no",
    "pull only": "no",
    "refresh": "5",
    "conflict": "newest",
    "propagate deletions": "no",
    "delete threshold": "20%",
    "hidden files": "yes",
    "modification time": "no",
    "file extension": "txt",
    "include": "*.txt",
    "exclude": "*.tmp",
    "include directory": "docs",
    "exclude directory": "build",
    "puller count": "2",
    "puller timeout": "1d",
    "lock timeout": "60",
    "disk quota": "2GB",
    "maxpagesize": "100MB",
    "chunk size": "4MB",
    "transfers": "4",
    "upload max wait": "60",
    "encryption": "no",
    "passphrase": "correct horse",
    "timeout": "30",
    "max retries": "2",
    "verify ssl": "yes",
    "ca file": `${dir}/escale.conf`,
    "certfile": `${dir}/escale.conf`,
    "keyfile": `${dir}/escale.conf`,
    "ssl version": "TLSv1.2",
    "ftps clear data": "yes",
    "bucket": "b",
    "region": "eu-west-3",
    "endpoint": "http://127.0.0.1:9000",
    "path style": "yes",
    "access key id": "AKIA",
    "secret access key": "s3cret",
    "rclone binary": "/usr/bin/rclone",
    "rclone config": `${dir}/escale.conf`,
    "checksum cache": "yes",
    "cache dir": `${dir}/cache`,
    "maintainer": "me@example.org",
    "verbosity": "2",
    "checksum": "sha256",
    "relay format": "escale-0.7",
    "log file": `${dir}/x.log`,
    "log level": "info",
    "log rotate": "5",
    "keep alive": "30",
  };
  return samples[key] ?? "1";
}

Deno.test("the option table has no duplicate names and every spec is complete", () => {
  const seen = new Set<string>();
  for (const spec of OPTIONS) {
    for (const name of [spec.key, ...spec.aliases]) {
      assert(!seen.has(name), `'${name}' listed twice`);
      seen.add(name);
      assert(name === name.toLowerCase().replace(/\s+/g, " ").trim(), `'${name}' not normalised`);
      assertEquals(lookupOption(name)?.key, spec.key, `lookup '${name}'`);
      assertEquals(lookupOption(name.toUpperCase())?.key, spec.key, `lookup upper '${name}'`);
    }
    assert(spec.help.length > 0, `${spec.key} has no help`);
  }
  for (const name of ["username", "relay path", "pullers", "quota", "cache", "cafile"]) {
    assert(lookupOption(name), `'${name}' is not recognised`);
  }
  assertEquals(lookupOption("Local   PATH")?.key, "local path", "spacing and case");
  assertEquals(lookupOption("locl path"), undefined, "typo");
});

Deno.test("every alias of every section option lands on its canonical key", async () => {
  await withScratch(async (s) => {
    for (const spec of OPTIONS.filter((o) => o.scope === "section")) {
      for (const name of [spec.key, ...spec.aliases]) {
        // The base section needs a local path and a relay; the option under test replaces the
        // base line when it is one of those.
        const body = new Map<string, string>([
          ["local path", `local path = ${s.local}`],
          ["host directory", `relay path = ${s.relay}`],
        ]);
        body.set(spec.key, `${name} = ${sample(spec.key, s.dir)}`);
        if (spec.key === "host address") body.delete("host directory");
        const text = lines("[S]", ...body.values());
        const line = [...body.keys()].indexOf(spec.key) + 2;
        const cfg = await s.load(text);
        const section = cfg.sections[0];
        assertEquals(section.where[spec.key], line, `'${name}' line`);
        if (!spec.secret && !spec.unused) {
          assert(spec.key in section.options, `'${name}' missing from options`);
        }
        if (spec.secret) assert(!(spec.key in section.options), `'${name}' leaked into options`);
      }
    }
  });
});

Deno.test("every alias of every global option lands in GlobalSettings", async () => {
  const field: Record<string, string> = {
    "log file": "logFile",
    "log level": "logLevel",
    "log rotate": "logRotate",
    "keep alive": "keepAlive",
  };
  await withScratch(async (s) => {
    for (const spec of OPTIONS.filter((o) => o.scope === "global")) {
      for (const name of [spec.key, ...spec.aliases]) {
        const cfg = await s.load(lines(`${name} = ${sample(spec.key, s.dir)}`));
        const got = (cfg.global as unknown as Record<string, unknown>)[field[spec.key]];
        assert(got !== undefined, `'${name}' did not reach GlobalSettings.${field[spec.key]}`);
      }
    }
    const cfg = await s.load(lines(`cache = ${s.dir}/c`, "keep alive = yes", "log level = WARN"));
    assertEquals(cfg.global, {
      logLevel: "warning",
      logRotate: 3,
      keepAlive: 60,
      cacheDir: `${s.dir}/c`,
    }, "global settings");
  });
});

Deno.test("deviations are listed for the README", () => {
  assert(DEVIATIONS.length >= 10, "too few deviations");
  for (const d of DEVIATIONS) assert(!d.includes("\n") && d.length > 20, `bad entry: ${d}`);
  for (const word of ["username", "preservative", "refresh", "lock timeout", "%%", "wildcard"]) {
    assert(
      DEVIATIONS.some((d) => d.toLowerCase().includes(word.toLowerCase())),
      `'${word}' not covered`,
    );
  }
});
