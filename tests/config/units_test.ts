import { parseDuration, parseShare, parseSize } from "../../src/config/units.ts";
import { ValueProblem } from "../../src/config/value_problem.ts";
import { assert, assertEquals } from "../assert.ts";

const KiB = 1024;
const MiB = KiB * KiB;
const GiB = MiB * KiB;

function rejects(fn: () => unknown, includes: string, what: string): void {
  try {
    fn();
  } catch (e) {
    assert(e instanceof ValueProblem, `${what}: wrong error ${e}`);
    assert(e.message.includes(includes), `${what}: message '${e.message}' lacks '${includes}'`);
    return;
  }
  throw new Error(`${what}: was accepted`);
}

Deno.test("sizes: no unit is MB, binary multiples, bits, decimal comma", () => {
  const table: [string, number][] = [
    ["200", 200 * MiB],
    ["0", 0],
    ["200MB", 200 * MiB],
    ["200 MB", 200 * MiB],
    ["1,5 GB", 1.5 * GiB],
    ["1.5GB", 1.5 * GiB],
    [".5M", MiB / 2],
    ["2G", 2 * GiB],
    ["2GiB", 2 * GiB],
    ["2Go", 2 * GiB],
    ["512 KiB", 512 * KiB],
    ["1KB", KiB],
    ["1K", KiB],
    ["1 Ko", KiB],
    ["8Kb", KiB],
    ["8Mb", MiB],
    ["8 Gb", GiB],
    ["3T", 3 * 1024 * GiB],
    ["1 TB", 1024 * GiB],
    ["1Tb", 128 * GiB],
    ["1PB", 1024 ** 5],
    ["1 PiB", 1024 ** 5],
    ["1 Po", 1024 ** 5],
    ["8Pb", 1024 ** 5],
    ["1EB", 1024 ** 6],
    ["1 EiB", 1024 ** 6],
    ["1E", 1024 ** 6],
    ["8Eb", 1024 ** 6],
    ["10 B", 10],
    ["16b", 2],
    [" 7 ", 7 * MiB],
  ];
  for (const [text, bytes] of table) assertEquals(parseSize(text), bytes, `size '${text}'`);
});

Deno.test("sizes: unknown units and garbage are refused with the unit list", () => {
  rejects(() => parseSize("12 mb"), "unknown unit 'mb'", "lowercase mb");
  rejects(() => parseSize("1 kB"), "unknown unit 'kB'", "kB");
  rejects(() => parseSize("abc"), "must be a size", "words");
  rejects(() => parseSize("-1MB"), "must be a size", "negative");
  rejects(() => parseSize("1.2.3"), "must be a size", "two points");
  rejects(() => parseSize(""), "must be a size", "empty");
});

Deno.test("durations: seconds by default, s/m/h/d/w units, decimal comma", () => {
  const table: [string, number][] = [
    ["30", 30],
    ["1", 1],
    ["1.5", 1.5],
    ["0,25", 0.25],
    ["90s", 90],
    ["90 sec", 90],
    ["10 min", 600],
    ["2m", 120],
    ["1,5m", 90],
    ["2h", 7200],
    ["3 hours", 10800],
    ["1d", 86400],
    ["2 days", 172800],
    ["1w", 604800],
  ];
  for (const [text, secs] of table) assertEquals(parseDuration(text), secs, `duration '${text}'`);
  rejects(() => parseDuration("5 fortnights"), "unknown time unit", "unit");
  rejects(() => parseDuration("soon"), "number of seconds", "words");
});

Deno.test("shares: fractions and percentages up to the whole", () => {
  const table: [string, number][] = [
    ["50%", 0.5],
    ["0.5", 0.5],
    ["0,25", 0.25],
    ["1", 1],
    [
      "0",
      0,
    ],
    ["100%", 1],
    ["12.5 %", 0.125],
  ];
  for (const [text, share] of table) assertEquals(parseShare(text), share, `share '${text}'`);
  rejects(() => parseShare("150%"), "between 0 and 1", "over 100%");
  rejects(() => parseShare("2"), "between 0 and 1", "over 1");
  rejects(() => parseShare("half"), "must be a share", "words");
});
