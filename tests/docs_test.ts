import { configurationDoc } from "../scripts/gen_config_doc.ts";
import { assert } from "./assert.ts";

Deno.test("docs/configuration.md is generated from the current option table", async () => {
  const committed = await Deno.readTextFile(new URL("../docs/configuration.md", import.meta.url));
  assert(
    committed === configurationDoc(),
    "docs/configuration.md is stale: run `deno run -A scripts/gen_config_doc.ts`",
  );
});

Deno.test("README lists every exit code of the contract", async () => {
  const { EXIT_CODE_TABLE } = await import("../src/errors/errors.ts");
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  for (const [code] of EXIT_CODE_TABLE) {
    assert(new RegExp(`^\\| *${code} *\\|`, "m").test(readme), `README misses exit code ${code}`);
  }
});
