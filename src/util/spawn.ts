/**
 * Builds the Deno.Command for a program escale starts. escale runs with a permission set that
 * lets it start only the programs it needs by name (src/cli/permissions.json: find, ps, kill,
 * setsid, rclone and env). A program the user chose (an `on failure` hook, an `rclone binary`
 * other than `rclone`) is started through env(1), which the set allows, because Deno checks
 * `--allow-run` against names fixed when the process starts.
 */
export const DIRECT_PROGRAMS: readonly string[] = ["find", "ps", "kill", "setsid", "env", "rclone"];

export function command(program: string, options: Deno.CommandOptions = {}): Deno.Command {
  if (DIRECT_PROGRAMS.includes(program)) return new Deno.Command(program, options);
  if (program.includes("/")) {
    // env would only say "No such file" with exit 127: keep Deno's NotFound for the caller.
    Deno.statSync(program);
  } else if (program.includes("=")) {
    // env would read it as a variable assignment.
    throw new Deno.errors.NotFound(`Failed to spawn '${program}': entity not found`);
  }
  return new Deno.Command("env", { ...options, args: ["--", program, ...(options.args ?? [])] });
}
