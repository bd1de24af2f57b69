import { ConfigError } from "../../src/errors/errors.ts";
import { parseIni } from "../../src/config/ini_parser.ts";
import { interpolate, InterpolationProblem } from "../../src/config/interpolate.ts";
import { assert, assertConfigError, assertEquals } from "../assert.ts";

/**
 * The dialect against the real thing: every case is read by Python's configparser (as Escale
 * does, with `[DEFAULT]` prepended) and by parseIni + interpolate, and the results must agree.
 * Cases use only `%` forms both sides share; the deliberate differences are tested below.
 */

const CASES: Record<string, string> = {
  "globals, sections, both delimiters, case": [
    "# a comment at the top",
    "; another",
    "log file = /var/log/x.log",
    "Refresh: 10",
    "[A]",
    "Local Path = /srv/a",
    "MODE:upload",
    "client name= peer a ",
    "[B]",
    "local path =/srv/b",
    "refresh = 3",
  ].join("\n"),
  "continuation lines, blank lines and comments inside a value": [
    "[S]",
    "include = *.txt,",
    "  *.md,",
    "",
    "  *.rst",
    "  # a comment between continuation lines",
    "\t*.org",
    "",
    "",
    "exclude = x",
    "   ; indented comment",
    "after = y",
  ].join("\n"),
  "first delimiter splits; # is not an inline comment": [
    "[S]",
    "a:b = c",
    "url = http://host:8080/x",
    "b = value # not a comment ; nor this",
    "c=d=e",
    "key with spaces   =   spaced value  ",
  ].join("\n"),
  "empty values": ["[S]", "a =", "b:", "c = ", "d = x"].join("\n"),
  "explicit DEFAULT after sections is inherited": [
    "top = 1",
    "[A]",
    "x = a",
    "[DEFAULT]",
    "shared = yes",
    "[B]",
    "x = b",
    "top2 = 2",
  ].join("\n"),
  "section overrides global": ["refresh = 30", "mode = shared", "[A]", "refresh = 5"].join("\n"),
  "interpolation": [
    "base = /srv",
    "pct = 100%%",
    "[A]",
    "name = alpha",
    "local path = %(base)s/%(name)s",
    "deep = %(local path)s/sub",
    "Mixed = %(NAME)s",
    "literal = %%(name)s",
    "[B]",
    "name = beta",
    "where = %(base)s-%(name)s-%(pct)s",
  ].join("\n"),
  "global value refers to a section key": [
    "local path = /data/%(name)s",
    "[A]",
    "name = a",
    "[B]",
    "name = b",
  ].join("\n"),
  "indented keys set the continuation level": [
    "[S]",
    "  a = 1",
    "    more",
    "  b = 2",
    "c = 3",
    "      c-more",
  ].join("\n"),
  "indented option right after a header is not a continuation": [
    "[S]",
    "    a = 1",
    "    b = 2",
  ].join("\n"),
  "header with trailing text, brackets inside": [
    "[A] trailing words",
    "a = 1",
    "[B]]",
    "b = 2",
    "[C] = d]",
    "c = 3",
  ].join("\n"),
  "an indented header continues the previous value": ["[A]", "a = 1", "  [B]", "b = 2"].join("\n"),
  "unicode and CRLF": ["[Répertoire]", "clé = valeur é 漢字", "x = y"].join("\r\n"),
  "continuation in the global part": ["include = a,", "  b", "[S]", "x = 1"].join("\n"),
  "no sections at all": ["a = 1", "b = 2"].join("\n"),
  "error: duplicate section": ["[A]", "a = 1", "[B]", "[A]"].join("\n"),
  "error: duplicate key in a section": ["[A]", "a = 1", "b = 2", "A = 3"].join("\n"),
  "error: duplicate key in the global part": ["a = 1", "b = 2", "a = 3", "[S]"].join("\n"),
  "error: duplicate key across global part and [DEFAULT]": ["a = 1", "[DEFAULT]", "a = 2"].join(
    "\n",
  ),
  "error: a line of plain words": ["[A]", "a = 1", "just some words", "b = 2"].join("\n"),
  "error: key without name": ["[A]", "= value"].join("\n"),
  "error: empty brackets": ["[A]", "[]"].join("\n"),
  "error: plain words in the global part": ["a = 1", "oops", "[A]"].join("\n"),
  "error: missing interpolation reference": ["[A]", "a = %(nope)s"].join("\n"),
  "error: interpolation cycle": ["[A]", "a = %(b)s", "b = %(a)s"].join("\n"),
};

interface Outcome {
  ok: boolean;
  line?: number | null;
  defaults?: Record<string, string | null>;
  sections?: [string, Record<string, string>][];
}

const PYTHON = `
import configparser, json, sys
out = []
for text in json.load(sys.stdin):
    cp = configparser.ConfigParser()
    try:
        cp.read_string("[DEFAULT]\\n" + text, source="golden")
        defaults = {}
        for k in cp.defaults():
            try:
                defaults[k] = cp.get("DEFAULT", k)
            except configparser.InterpolationError:
                defaults[k] = None  # only meaningful inside a section
        out.append({"ok": True, "defaults": defaults,
                    "sections": [[s, dict(cp.items(s))] for s in cp.sections()]})
    except configparser.Error as e:
        line = getattr(e, "lineno", None)
        if line is None and getattr(e, "errors", None):
            line = e.errors[0][0]
        out.append({"ok": False, "line": line - 1 if line else None})
print(json.dumps(out))
`;

async function python(texts: string[]): Promise<Outcome[]> {
  const child = new Deno.Command("python3", {
    args: ["-c", PYTHON],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(texts)));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  if (code !== 0) throw new Error(`python3 failed: ${new TextDecoder().decode(stderr)}`);
  return JSON.parse(new TextDecoder().decode(stdout));
}

function sorted<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

function ours(text: string): Outcome {
  try {
    const doc = parseIni(text, "golden");
    const lookupIn = (entries?: Map<string, { value: string }>) => (k: string) =>
      entries?.get(k)?.value ?? doc.global.get(k)?.value;
    const defaults: Record<string, string | null> = {};
    for (const [k, e] of doc.global) {
      try {
        defaults[k] = interpolate(e.value, lookupIn());
      } catch (err) {
        if (!(err instanceof InterpolationProblem)) throw err;
        defaults[k] = null;
      }
    }
    const sections: [string, Record<string, string>][] = doc.sections.map((s) => {
      const merged: Record<string, string> = {};
      for (const k of new Set([...doc.global.keys(), ...s.entries.keys()])) {
        const raw = s.entries.get(k)?.value ?? doc.global.get(k)!.value;
        merged[k] = interpolate(raw, lookupIn(s.entries));
      }
      return [s.name, merged];
    });
    return { ok: true, defaults, sections };
  } catch (e) {
    if (e instanceof InterpolationProblem) return { ok: false, line: null };
    if (e instanceof ConfigError) {
      const m = /^golden:(\d+): /.exec(e.message);
      return { ok: false, line: m ? Number(m[1]) : null };
    }
    throw e;
  }
}

function normalise(o: Outcome): Outcome {
  if (!o.ok) return { ok: false, line: o.line ?? null };
  return {
    ok: true,
    defaults: sorted(o.defaults!),
    sections: o.sections!.map(([n, v]) => [n, sorted(v)]),
  };
}

Deno.test("ini dialect matches python3 configparser on every golden case", async () => {
  const names = Object.keys(CASES);
  const expected = await python(names.map((n) => CASES[n]));
  assertEquals(expected.length, names.length, "python answers");
  names.forEach((name, i) => {
    assertEquals(normalise(ours(CASES[name])), normalise(expected[i]), name);
    assert(name.startsWith("error:") === !expected[i].ok, `case '${name}' is mislabelled`);
  });
});

Deno.test("ini keeps line numbers of keys, multi-line values and sections", () => {
  const doc = parseIni("a = 1\n\n[S]\n# c\nb = x\n  y\nc = 3\n", "f.conf");
  assertEquals(doc.global.get("a")!.line, 1, "global key line");
  assertEquals(doc.sections[0].line, 3, "section line");
  assertEquals(doc.sections[0].entries.get("b")!.line, 5, "multi-line key line");
  assertEquals(doc.sections[0].entries.get("b")!.value, "x\ny", "joined value");
  assertEquals(doc.sections[0].entries.get("c")!.line, 7, "next key line");
});

Deno.test("ini deviations: collapsed key spaces, trimmed section names, first error wins", async () => {
  const doc = parseIni("[ A ]\nLocal \t  Path = /x\n", "f.conf");
  assertEquals(doc.sections[0].name, "A", "trimmed section name");
  assert(doc.sections[0].entries.has("local path"), "inner spaces collapse");
  await assertConfigError(() => parseIni("[A]\nx\ny\n", "f.conf"), {
    file: "f.conf",
    line: 2,
    includes: "cannot parse",
  });
  await assertConfigError(() => parseIni("[A]\nlocal path = 1\nLOCAL  PATH = 2\n", "f.conf"), {
    file: "f.conf",
    line: 3,
    includes: "duplicate option 'local path' in [A] (first on line 2)",
  });
  await assertConfigError(() => parseIni("[A]\n[B]\n[A]\n", "f.conf"), {
    file: "f.conf",
    line: 3,
    includes: "duplicate section [A]",
  });
});

Deno.test("ini error for an unparsable line does not quote the line", async () => {
  const e = await assertConfigError(() => parseIni("[A]\npassword = abc\nhunter2\n", "f"), {
    file: "f",
    line: 3,
  });
  assert(!e.message.includes("hunter2"), "the line's text leaked into the message");
});

Deno.test("interpolation: lone % is literal, %% and %(key)s work, unknown key is reported", () => {
  const look = (k: string) => ({ user: "bob", pct: "50%off" } as Record<string, string>)[k];
  assertEquals(interpolate("50%off", look), "50%off", "lone %");
  assertEquals(interpolate("100%", look), "100%", "trailing %");
  assertEquals(interpolate("a%%b", look), "a%b", "%%");
  assertEquals(interpolate("%(user)s@%(pct)s", look), "bob@50%off", "reference");
  assertEquals(interpolate("%(user)d %(user)", look), "%(user)d %(user)", "not a reference");
  let problem: unknown;
  try {
    interpolate("%(nobody)s", look);
  } catch (e) {
    problem = e;
  }
  assert(problem instanceof InterpolationProblem && problem.ref === "nobody", "missing ref");
});
