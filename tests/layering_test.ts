import { assert, assertEquals } from "./assert.ts";

/**
 * The folders of src/, highest first: a file may import its own folder or any folder after it,
 * never one before it. log, util and errors come last because every layer uses them and they use
 * none of the layers (log may use util and errors, util may use errors). legacy (Escale 0.7's
 * layouts) is a sync engine of its own over the native engine's local helpers, chosen by the
 * configuration. maintenance (check, fix, backup, restore, migrate) sits just below the command
 * line: it works on relays, repositories and configuration files.
 */
const ORDER = [
  "cli",
  "maintenance",
  "config",
  "legacy",
  "engine",
  "state",
  "protocol",
  "crypto",
  "relay",
  "log",
  "util",
  "errors",
];

const SRC = new URL("../src/", import.meta.url);

/** Every relative module a source text imports or re-exports (static, type-only or dynamic). */
function importedSpecifiers(text: string): string[] {
  const found: string[] = [];
  const patterns = [
    /^\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']/gm,
    /^\s*import\s*["']([^"']+)["']/gm,
    /\bimport\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const re of patterns) for (const m of text.matchAll(re)) found.push(m[1]);
  return found.filter((s) => s.startsWith("."));
}

/** The src/ folder a URL lies in, or null when it lies outside src/ (deno.json, tests). */
function folderOf(url: URL): string | null {
  if (!url.href.startsWith(SRC.href)) return null;
  const rest = url.href.slice(SRC.href.length);
  return rest.includes("/") ? rest.slice(0, rest.indexOf("/")) : null;
}

async function* sourceFiles(dir: URL): AsyncGenerator<URL> {
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory) yield* sourceFiles(new URL(`${e.name}/`, dir));
    else if (e.name.endsWith(".ts")) yield new URL(e.name, dir);
  }
}

/** "src/a/x.ts imports src/b/y.ts" for every import of a higher (or unknown) folder. */
async function upwardImports(): Promise<string[]> {
  const problems: string[] = [];
  const rel = (u: URL) => "src/" + u.href.slice(SRC.href.length);
  for await (const file of sourceFiles(SRC)) {
    const from = folderOf(file);
    const text = await Deno.readTextFile(file);
    for (const spec of importedSpecifiers(text)) {
      const target = new URL(spec, file);
      const to = folderOf(target);
      if (to === null || to === from) continue;
      const a = ORDER.indexOf(from ?? ""), b = ORDER.indexOf(to);
      if (a < 0 || b < 0) problems.push(`${rel(file)}: folder not in the layer order (${spec})`);
      else if (b < a) problems.push(`${rel(file)} imports ${rel(target)} (${to} is above ${from})`);
    }
  }
  return problems.sort();
}

Deno.test("the import parser sees static, multi-line, type-only, re-export and dynamic imports", () => {
  const text = [
    `import { a } from "../engine/a.ts";`,
    `import type { B } from "./b.ts";`,
    `import {`,
    `  c,`,
    `  type D,`,
    `} from "../state/c.ts";`,
    `export { e } from "../log/e.ts";`,
    `export * from "../util/f.ts";`,
    `import "./side_effect.ts";`,
    `const g = await import("../relay/g.ts");`,
    `import process from "node:process";`,
  ].join("\n");
  assertEquals(importedSpecifiers(text), [
    "../engine/a.ts",
    "./b.ts",
    "../state/c.ts",
    "../log/e.ts",
    "../util/f.ts",
    "./side_effect.ts",
    "../relay/g.ts",
  ]);
});

Deno.test("every src/ folder is in the layer order", async () => {
  for await (const e of Deno.readDir(SRC)) {
    if (e.isDirectory) assert(ORDER.includes(e.name), `src/${e.name} is not in ORDER`);
  }
});

Deno.test("no file under src/ imports a higher layer", async () => {
  const problems = await upwardImports();
  assert(problems.length === 0, `upward imports:\n${problems.join("\n")}`);
});
