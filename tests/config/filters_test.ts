import { compileFilters } from "../../src/config/filters.ts";
import type { FilterSettings } from "../../src/config/settings.ts";
import { ConfigError } from "../../src/errors/errors.ts";
import { assert, assertEquals } from "../assert.ts";

function f(partial: Partial<FilterSettings>): FilterSettings {
  return { extensions: [], include: [], exclude: [], includeDirs: [], excludeDirs: [], ...partial };
}

/** [filters, path, accepted by acceptFile] */
const FILE_TABLE: [Partial<FilterSettings>, string, boolean][] = [
  // no filters: everything but hidden names
  [{}, "a.txt", true],
  [{}, "deep/down/a.txt", true],
  [{}, ".hidden", false],
  [{}, "dir/.hidden", false],
  [{}, ".git/config", false],
  [{ hiddenFiles: true }, ".git/config", true],
  [{ hiddenFiles: true }, ".bashrc", true],
  // extensions: leading dot optional, last extension only, exact case
  [{ extensions: ["txt", ".md"] }, "a.txt", true],
  [{ extensions: ["txt", ".md"] }, "sub/b.md", true],
  [{ extensions: ["txt"] }, "a.txt.bak", false],
  [{ extensions: ["gz"] }, "a.tar.gz", true],
  [{ extensions: ["tar.gz"] }, "a.tar.gz", false],
  [{ extensions: ["txt"] }, "README", false],
  [{ extensions: ["txt"] }, "a.TXT", false],
  [{ extensions: ["bashrc"], hiddenFiles: true }, ".bashrc", false],
  // include / exclude on the base name, wildcards anchored at both ends
  [{ include: ["*.txt"] }, "notes.txt", true],
  [{ include: ["*.txt"] }, "notes.txt.bak", false],
  [{ include: ["*.txt"] }, "dir/notes.txt", true],
  [{ include: ["notes*"] }, "dir/notes.txt", true],
  [{ include: ["notes*"] }, "dir/mynotes.txt", false],
  [{ include: ["a+b.txt"] }, "a+b.txt", true],
  [{ include: ["a+b.txt"] }, "aab.txt", false],
  [{ include: ["file?.txt"] }, "file?.txt", true],
  [{ include: ["file?.txt"] }, "file1.txt", false],
  [{ include: ["(x).txt"] }, "(x).txt", true],
  [{ include: ["a.txt"] }, "abtxt", false],
  [{ include: ["*.md", "*.txt"] }, "x.md", true],
  [{ include: ["*.md", "*.txt"] }, "x.rst", false],
  [{ exclude: ["*.tmp", "~*"] }, "a.tmp", false],
  [{ exclude: ["*.tmp", "~*"] }, "~lock", false],
  [{ exclude: ["*.tmp", "~*"] }, "a.tmp.keep", true],
  [{ include: ["*.txt"], exclude: ["secret*"] }, "secret.txt", false],
  [{ include: ["*.txt"], exclude: ["secret*"] }, "public.txt", true],
  // /regex/: start-anchored only, trailing slash optional
  [{ include: ["/no.*s/"] }, "notes.txt", true],
  [{ include: ["/no.*s/"] }, "annotes", false],
  [{ include: ["/[0-9]+"] }, "2024-report.pdf", true],
  [{ include: ["/[0-9]+"] }, "report-2024.pdf", false],
  [{ include: ["/.*\\.txt$/"] }, "notes.txt.bak", false],
  // folder filters on the relative folder, a folder or any parent matching
  [{ includeDirs: ["docs"] }, "docs/a.txt", true],
  [{ includeDirs: ["docs"] }, "docs/sub/a.txt", true],
  [{ includeDirs: ["docs"] }, "docsextra/a.txt", false],
  [{ includeDirs: ["docs"] }, "other/docs/a.txt", false],
  [{ includeDirs: ["docs"] }, "root.txt", false],
  [{ includeDirs: ["*/docs"] }, "other/docs/a.txt", true],
  [{ includeDirs: ["projects/*"] }, "projects/x/deep/a.txt", true],
  [{ includeDirs: ["projects/*"] }, "projects/a.txt", false],
  [{ excludeDirs: ["build"] }, "build/out.o", false],
  [{ excludeDirs: ["build"] }, "build/deep/out.o", false],
  [{ excludeDirs: ["build"] }, "src/build/out.o", true],
  [{ excludeDirs: ["build"] }, "building/x", true],
  [{ excludeDirs: ["*/build"] }, "src/build/out.o", false],
  [{ excludeDirs: ["/tmp"] }, "tmpfiles/x", false],
  [{ excludeDirs: ["/tmp$"] }, "tmpfiles/x", true],
  [{ includeDirs: ["docs"], excludeDirs: ["docs/private"] }, "docs/private/k.txt", false],
  [{ includeDirs: ["docs"], excludeDirs: ["docs/private"] }, "docs/public/k.txt", true],
];

Deno.test("acceptFile follows the table of paths × patterns", () => {
  for (const [settings, path, expected] of FILE_TABLE) {
    assertEquals(
      compileFilters(f(settings)).acceptFile(path),
      expected,
      `acceptFile(${JSON.stringify(path)}) with ${JSON.stringify(settings)}`,
    );
  }
});

/** [filters, folder, the crawl enters it] */
const DIR_TABLE: [Partial<FilterSettings>, string, boolean][] = [
  [{}, "", true],
  [{}, "a/b", true],
  [{}, ".git", false],
  [{}, "a/.cache", false],
  [{ hiddenFiles: true }, ".config", true],
  [{ excludeDirs: ["build"] }, "build", false],
  [{ excludeDirs: ["build"] }, "build/x", false],
  [{ excludeDirs: ["build"] }, "src", true],
  [{ includeDirs: ["docs"] }, "docs", true],
  [{ includeDirs: ["docs"] }, "docs/sub", true],
  [{ includeDirs: ["docs"] }, "src", false],
  [{ includeDirs: ["a/b/c"] }, "a", true],
  [{ includeDirs: ["a/b/c"] }, "a/b", true],
  [{ includeDirs: ["a/b/c"] }, "a/x", false],
  [{ includeDirs: ["a/b/c"] }, "a/b/c/d", true],
  [{ includeDirs: ["proj*/src"] }, "projects", true],
  [{ includeDirs: ["proj*/src"] }, "other", false],
  [{ includeDirs: ["*/src"] }, "anything", true],
  [{ includeDirs: ["/a.c"] }, "zzz", true],
  // files are still filtered where the crawl cannot prune
  [{ includeDirs: ["docs"], excludeDirs: ["docs/old"] }, "docs/old", false],
];

Deno.test("acceptDir prunes only folders that cannot hold accepted files", () => {
  for (const [settings, dir, expected] of DIR_TABLE) {
    assertEquals(
      compileFilters(f(settings)).acceptDir(dir),
      expected,
      `acceptDir(${JSON.stringify(dir)}) with ${JSON.stringify(settings)}`,
    );
  }
});

Deno.test("acceptDir never prunes a folder holding a file acceptFile takes", () => {
  const files = [
    "docs/a.txt",
    "docs/sub/b.txt",
    "a/b/c/d/e.txt",
    "projects/x/src/m.ts",
    "zz/src/y.ts",
    "build/q",
    "x/y/z",
  ];
  const settings: Partial<FilterSettings>[] = [
    { includeDirs: ["docs"] },
    { includeDirs: ["a/b/c"] },
    { includeDirs: ["proj*/src", "*/src"] },
    { excludeDirs: ["build"] },
    { includeDirs: ["/x/y"] },
  ];
  for (const s of settings) {
    const c = compileFilters(f(s));
    for (const file of files) {
      if (!c.acceptFile(file)) continue;
      const parts = file.split("/").slice(0, -1);
      for (let n = 1; n <= parts.length; n++) {
        const dir = parts.slice(0, n).join("/");
        assert(c.acceptDir(dir), `${JSON.stringify(s)}: ${dir} pruned but ${file} accepted`);
      }
    }
  }
});

Deno.test("an invalid /regex/ is a config error naming the pattern", () => {
  try {
    compileFilters(f({ include: ["/(unclosed/"] }));
  } catch (e) {
    assert(e instanceof ConfigError && e.message.includes("'/(unclosed/'"), `got ${e}`);
    return;
  }
  throw new Error("invalid regex accepted");
});
