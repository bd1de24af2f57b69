// `escale completions bash|zsh|fish` prints scripts made from the commander program: bash is
// exercised for real (the completion function answers what a Tab would), zsh and fish scripts
// must at least be accepted by their shells.
import { assert, assertEquals } from "../assert.ts";
import { escale } from "./cli_helpers.ts";
import { hasCommand } from "../servers/harness.ts";

async function script(shell: string): Promise<string> {
  const r = await escale(["completions", shell]);
  assertEquals(r.code, 0, r.stderr);
  return r.stdout;
}

/** What bash's completion offers for the words typed so far (the last one being completed). */
async function bashComplete(file: string, words: string[]): Promise<string[]> {
  const line = words.map((w) => `'${w}'`).join(" ");
  const out = await new Deno.Command("bash", {
    args: [
      "-c",
      `source '${file}'; COMP_WORDS=(${line}); COMP_CWORD=${
        words.length - 1
      }; _escale; printf '%s\\n' "\${COMPREPLY[@]}"`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l);
}

Deno.test("completions: bash completes commands, subcommands, flags and their values", async () => {
  const dir = await Deno.makeTempDir({ prefix: "escale-completions-" });
  try {
    const file = `${dir}/escale.bash`;
    await Deno.writeTextFile(file, await script("bash"));
    assertEquals(await bashComplete(file, ["escale", "c"]), ["completions", "ctl", "check"]);
    assertEquals(await bashComplete(file, ["escale", "ctl", "st"]), ["start", "stop", "status"]);
    assertEquals(await bashComplete(file, ["escale", "run", "--wait"]), [
      "--wait-delivered",
      "--wait-for-changes",
    ]);
    // The configuration options are flags of run too, and a secret only as a file.
    const run = await bashComplete(file, ["escale", "run", "--pass"]);
    assertEquals(run, ["--password-file", "--passphrase-file"]);
    assertEquals(await bashComplete(file, ["escale", "run", "--hidden-files", ""]), ["yes", "no"]);
    assertEquals(await bashComplete(file, ["escale", "completions", ""]), ["bash", "zsh", "fish"]);
    await Deno.writeTextFile(`${dir}/my.conf`, "");
    assertEquals(await bashComplete(file, ["escale", "run", "-c", `${dir}/my.c`]), [
      `${dir}/my.conf`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("completions: zsh and fish scripts parse, and name every command", async () => {
  for (const shell of ["zsh", "fish"]) {
    const text = await script(shell);
    for (const word of ["run", "init", "ctl", "test-relay", "keygen", "wait-delivered"]) {
      assert(text.includes(word), `${shell}: ${word} missing`);
    }
    if (!(await hasCommand(shell))) {
      throw new Error(`${shell} is not installed (scripts/test installs it)`);
    }
    const dir = await Deno.makeTempDir({ prefix: "escale-completions-" });
    try {
      await Deno.writeTextFile(`${dir}/escale.${shell}`, text);
      const out = await new Deno.Command(shell, {
        args: ["-n", `${dir}/escale.${shell}`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assertEquals(out.code, 0, `${shell}: ${new TextDecoder().decode(out.stderr)}`);
      if (shell === "fish") {
        // fish can also say what a Tab would offer.
        const asked = await new Deno.Command("fish", {
          args: ["-c", `source ${dir}/escale.fish; complete -C'escale ctl te'`],
          stdout: "piped",
        }).output();
        assertEquals(new TextDecoder().decode(asked.stdout).split("\t")[0], "test-relay");
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("completions: an unknown shell is a usage error", async () => {
  const r = await escale(["completions", "tcsh"]);
  assertEquals(r.code, 2);
  assertEquals(r.stderr.trim(), "escale: no completions for 'tcsh' (use bash, zsh, fish)");
});
