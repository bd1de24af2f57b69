import { assertEquals } from "../assert.ts";
import { collectingLogger } from "../../src/log/logger.ts";
import { TeeLogger } from "../../src/log/tee_logger.ts";
import { ConsoleLogger } from "../../src/log/console_logger.ts";

Deno.test("TeeLogger: every line and every child reaches every logger, each with its own filter", () => {
  const a = collectingLogger();
  const lines: string[] = [];
  const quiet = new ConsoleLogger("warn", "escale", (l) => lines.push(l));
  const tee = new TeeLogger(a, quiet);
  tee.log("info", "hello");
  const c = tee.child("docs");
  c.log("warn", "careful");
  c.child("ftp").log("debug", "detail");
  assertEquals(a.lines, ["INFO hello", "WARN docs: careful", "DEBUG docs: ftp: detail"]);
  assertEquals(lines, ["escale[docs]: warning: careful"]);
});
