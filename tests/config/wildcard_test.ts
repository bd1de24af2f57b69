import { compileFilters, compilePattern } from "../../src/config/filters.ts";
import type { FilterSettings } from "../../src/config/settings.ts";
import { compileWildcard } from "../../src/config/wildcard.ts";
import { ConfigError } from "../../src/errors/errors.ts";
import { assert, assertEquals } from "../assert.ts";

/** The RegExp translation wildcards used before (fine on short inputs, exponential on long). */
function viaRegExp(pattern: string): (name: string) => boolean {
  const source = pattern.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, "\\$&"))
    .join("[\\s\\S]*");
  const re = new RegExp(`^${source}$`);
  return (name) => re.test(name);
}

/** Seeded generator, so a failure names a case that can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

Deno.test("wildcards match exactly as the RegExp translation did, on random short cases", () => {
  const rand = rng(18);
  const pick = (alphabet: string, max: number) =>
    Array.from(
      { length: Math.floor(rand() * (max + 1)) },
      () => alphabet[Math.floor(rand() * alphabet.length)],
    ).join("");
  for (let i = 0; i < 20_000; i++) {
    const pattern = pick("ab*.+?(", 7);
    const name = pick("ab.+?(", 9);
    assertEquals(
      compileWildcard(pattern)(name),
      viaRegExp(pattern)(name),
      `${JSON.stringify(pattern)} against ${JSON.stringify(name)}`,
    );
  }
});

Deno.test("wildcards: edge cases of stars, heads and tails", () => {
  const cases: [string, string, boolean][] = [
    ["", "", true],
    ["", "a", false],
    ["*", "", true],
    ["**", "anything", true],
    ["a*a", "a", false],
    ["a*a", "aa", true],
    ["*ab*ab*", "abab", true],
    ["*ab*ab*", "aba", false],
    ["ab*ba", "aba", false],
    ["*.txt", "notes.txt.bak", false],
    ["x*y*z", "xzyz", true],
    ["é*", "été", true],
  ];
  for (const [p, n, want] of cases) {
    assertEquals(compileWildcard(p)(n), want, `${JSON.stringify(p)} against ${JSON.stringify(n)}`);
  }
});

function filters(partial: Partial<FilterSettings>): FilterSettings {
  return { extensions: [], include: [], exclude: [], includeDirs: [], excludeDirs: [], ...partial };
}

// Through the RegExp, the first case took 8.7 s and the second over 6 minutes, and the third did
// not compile at all ("Stack overflow" on first use): this test does not finish without the fix.
Deno.test("hostile wildcards are answered at once (no backtracking)", () => {
  const name = "a".repeat(60);
  const six = compileFilters(filters({ include: ["*a*a*a*a*a*a*b"] }));
  assertEquals(six.acceptFile(name), false);
  assertEquals(six.acceptFile(name + "b"), true);
  const many = compileFilters(filters({ include: ["*a".repeat(25) + "*b"] }));
  assertEquals(many.acceptFile(name), false);
  assertEquals(many.acceptFile(`dir/${name}b`), true);
  const huge = compileFilters(filters({ exclude: ["a*".repeat(50_000)] }));
  assertEquals(huge.acceptFile(name), true);
  assertEquals(huge.acceptFile("a".repeat(50_000)), false);
  assertEquals(huge.acceptDir("a"), true);
});

Deno.test("a /regex/ RE2 cannot compile is refused when the pattern is compiled, in one short line", () => {
  const cases: [string, string][] = [
    ["/" + "(".repeat(5_000) + "a" + ")".repeat(5_000), ": expression nests too deeply"],
    // RE2 quotes the offending part: here, most of the pattern.
    ["/" + "a.*".repeat(50_000) + "(?=b)", "invalid or unsupported Perl syntax"],
    ["/(a)\\1/", "invalid escape sequence"],
    ["/a{1001}/", "invalid repeat count"],
  ];
  for (const [pattern, why] of cases) {
    try {
      compilePattern(pattern);
    } catch (e) {
      assert(e instanceof ConfigError, `got ${e}`);
      assert(e.message.includes(why), e.message);
      assert(e.message.length < 200, `message of ${e.message.length} characters`);
      continue;
    }
    throw new Error(`${pattern.slice(0, 20)}: accepted`);
  }
});

Deno.test("a /regex/ that backtracks catastrophically in V8 is matched in linear time", () => {
  // With V8's RegExp this test takes about 2^40 steps; no timing is asserted, only the answers.
  const p = compilePattern("/^(a+)+b$/");
  assertEquals(p.test("a".repeat(40)), false);
  assertEquals(p.test("a".repeat(40) + "b"), true);
  assertEquals(compilePattern("/(x+x+)+y").test("x".repeat(5_000)), false);
});
