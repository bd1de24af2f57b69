import { assert, assertEquals } from "../assert.ts";
import { splitCommandLine } from "../../src/log/command_line.ts";
import { EscaleError } from "../../src/errors/errors.ts";

Deno.test("splitCommandLine: words, quotes and escapes, without any shell expansion", () => {
  assertEquals(splitCommandLine("/usr/bin/notify"), ["/usr/bin/notify"]);
  assertEquals(splitCommandLine("  a   b\tc  "), ["a", "b", "c"]);
  assertEquals(splitCommandLine(`say "escale failed" 'on $HOST' x\\ y`), [
    "say",
    "escale failed",
    "on $HOST",
    "x y",
  ]);
  assertEquals(splitCommandLine(`a "q\\"uote\\\\" '' ""`), ["a", 'q"uote\\', "", ""]);
  assertEquals(splitCommandLine(`a; rm -rf / | b > c $(d) *`), [
    "a;",
    "rm",
    "-rf",
    "/",
    "|",
    "b",
    ">",
    "c",
    "$(d)",
    "*",
  ]);
  assertEquals(splitCommandLine("pre'fix'\"ed\""), ["prefixed"]);
  assertEquals(splitCommandLine(""), []);
  for (const bad of [`a 'open`, `a "open`]) {
    let err: unknown;
    try {
      splitCommandLine(bad);
    } catch (e) {
      err = e;
    }
    assert(err instanceof EscaleError && err.kind === "config", bad);
  }
});
