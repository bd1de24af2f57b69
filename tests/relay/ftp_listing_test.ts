import { assertEquals } from "../assert.ts";
import {
  type FtpListEntry,
  parseFtpTime,
  parseListLine,
  parseMlsxLine,
} from "../../src/relay/ftp/ftp_listing.ts";

const utc = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0) =>
  Date.UTC(y, mo - 1, d, h, mi, s);

Deno.test("MLSD fact lines", () => {
  const cases: [string, FtpListEntry | null][] = [
    [
      "modify=20261122094234;perm=adfrw;size=200004;type=file;unique=FD01U3;UNIX.mode=0644; a.bin",
      { name: "a.bin", type: "file", size: 200004, mtime: utc(2026, 11, 22, 9, 42, 34) },
    ],
    [
      "type=dir;modify=20260101000000;perm=flcdmpe; sub dir",
      { name: "sub dir", type: "dir", size: 0, mtime: utc(2026, 1, 1) },
    ],
    ["type=cdir;modify=20260101000000; .", {
      name: ".",
      type: "dir",
      size: 0,
      mtime: utc(2026, 1, 1),
    }],
    ["type=pdir; ..", { name: "..", type: "dir", size: 0, mtime: 0 }],
    // Fact names and values are case-insensitive; the name keeps spaces, ';' and '='.
    [
      "Type=File;Size=5;Modify=20250704123456.789; name; with=odd;chars ",
      {
        name: "name; with=odd;chars ",
        type: "file",
        size: 5,
        mtime: utc(2025, 7, 4, 12, 34, 56) + 789,
      },
    ],
    [
      "type=file;size=12; 日本語 ファイル.txt",
      { name: "日本語 ファイル.txt", type: "file", size: 12, mtime: 0 },
    ],
    [
      "type=OS.unix=slink:/etc/passwd;size=11; link",
      { name: "link", type: "link", size: 11, mtime: 0 },
    ],
    ["type=OS.unix=blkdev;size=0; sda", { name: "sda", type: "other", size: 0, mtime: 0 }],
    // No facts at all: the line starts with the separating space.
    [" bare", { name: "bare", type: "other", size: 0, mtime: 0 }],
    ["garbage-without-space", null],
    ["type=file;size=1; ", null],
  ];
  for (const [line, want] of cases) assertEquals(parseMlsxLine(line), want, JSON.stringify(line));
});

Deno.test("MDTM / modify times", () => {
  if (parseFtpTime("20261122094234") !== utc(2026, 11, 22, 9, 42, 34)) throw new Error("plain");
  if (parseFtpTime("20261122094234.5") !== utc(2026, 11, 22, 9, 42, 34) + 500) {
    throw new Error("frac");
  }
  if (parseFtpTime("yesterday") !== 0) throw new Error("garbage");
});

Deno.test("Unix LIST lines", () => {
  const now = utc(2026, 11, 22, 12, 0);
  const cases: [string, FtpListEntry | null][] = [
    ["total 12", null],
    [
      "-rw-r--r--   1 owner    group        1234 Nov 22 09:42 plain.txt",
      { name: "plain.txt", type: "file", size: 1234, mtime: utc(2026, 11, 22, 9, 42) },
    ],
    [
      "-rw-r--r--   1 ftp      ftp     987654321 Mar  3  2019 name with  two  spaces",
      { name: "name with  two  spaces", type: "file", size: 987654321, mtime: utc(2019, 3, 3) },
    ],
    // A recent date ahead of "now" belongs to last year.
    [
      "-rw-------   1 1000     1000            7 Dec 30 23:59 late.bin",
      { name: "late.bin", type: "file", size: 7, mtime: utc(2025, 12, 30, 23, 59) },
    ],
    [
      "drwxr-xr-x   2 owner    group        4096 Jan  5 10:00 folder",
      { name: "folder", type: "dir", size: 4096, mtime: utc(2026, 1, 5, 10, 0) },
    ],
    [
      "lrwxrwxrwx   1 owner    group          11 Jan  5 10:00 link -> target file",
      { name: "link", type: "link", size: 11, mtime: utc(2026, 1, 5, 10, 0) },
    ],
    // No group column, an ACL marker, and a name that itself looks like a date.
    [
      "-rw-r--r--+ 1 owner 42 Feb 14 2024 Jan 01 2020 report",
      { name: "Jan 01 2020 report", type: "file", size: 42, mtime: utc(2024, 2, 14) },
    ],
    [
      "-rw-r--r--   1 owner    group         100 Nov  1 08:00 Ünïcödé 名前.dat",
      { name: "Ünïcödé 名前.dat", type: "file", size: 100, mtime: utc(2026, 11, 1, 8, 0) },
    ],
    ["-rw-r--r--   1 owner group 5 Foo 22 09:42 bad-month", null],
  ];
  for (const [line, want] of cases) {
    assertEquals(parseListLine(line, now), want, JSON.stringify(line));
  }
});

Deno.test("DOS / IIS LIST lines", () => {
  const cases: [string, FtpListEntry | null][] = [
    [
      "11-22-26  09:42AM              1234 report final.pdf",
      { name: "report final.pdf", type: "file", size: 1234, mtime: utc(2026, 11, 22, 9, 42) },
    ],
    [
      "01-05-99  12:15PM       <DIR>          Old Stuff",
      { name: "Old Stuff", type: "dir", size: 0, mtime: utc(1999, 1, 5, 12, 15) },
    ],
    [
      "07-04-2025  12:05AM                 0 midnight.txt",
      { name: "midnight.txt", type: "file", size: 0, mtime: utc(2025, 7, 4, 0, 5) },
    ],
    [
      "02-28-24  23:10                  77 24h clock ünï.txt",
      { name: "24h clock ünï.txt", type: "file", size: 77, mtime: utc(2024, 2, 28, 23, 10) },
    ],
  ];
  for (const [line, want] of cases) assertEquals(parseListLine(line), want, JSON.stringify(line));
});
