import { assert, assertEquals } from "../assert.ts";
import { collectingLogger } from "../../src/log/logger.ts";
import { MASK, RedactingLogger, redactSecrets } from "../../src/log/redact.ts";

const r = redactSecrets;

Deno.test("redact: a known secret anywhere in a line, every time it appears", () => {
  assertEquals(r("password hunter2 rejected", ["hunter2"]), "password *** rejected");
  assertEquals(r("ends with hunter2", ["hunter2"]), "ends with ***");
  assertEquals(r("hunter2", ["hunter2"]), "***");
  assertEquals(r("hunter2 and hunter2hunter2", ["hunter2"]), "*** and ******");
  assertEquals(r("multi\nline hunter2\n", ["hunter2"]), "multi\nline ***\n");
});

Deno.test("redact: regex characters in a secret are taken literally", () => {
  const secrets = ["a.b*c+(d)?[e]{2}|^$\\f", "p$1&$&"];
  assertEquals(
    r("x a.b*c+(d)?[e]{2}|^$\\f y p$1&$& z", secrets),
    "x *** y *** z",
  );
  // A regex reading of the first one would match this; the literal one must not.
  assertEquals(r("aXbbbc+d", secrets), "aXbbbc+d");
});

Deno.test("redact: an empty secret list or empty secrets change nothing", () => {
  const plain = "sent 3 files (1.2 MiB) to ftp://host/dir";
  assertEquals(r(plain, []), plain);
  assertEquals(r(plain, ["", ""]), plain);
  assertEquals(r("", ["x"]), "");
});

Deno.test("redact: the longer of two overlapping secrets is hidden whole", () => {
  assertEquals(r("key=abcdef", ["abc", "abcdef"]), "key=***");
  assertEquals(r("key=abcdef", ["abcdef", "abc"]), "key=***");
});

Deno.test("redact: credentials in URLs, known or not", () => {
  assertEquals(
    r("cannot reach ftp://bob:s3cret@host:21/dir", []),
    "cannot reach ftp://bob:***@host:21/dir",
  );
  assertEquals(r("https://u:p@example.org", []), "https://u:***@example.org");
  // A password holding unencoded '@' and ':' is still hidden whole.
  assertEquals(r("webdav://bob:p@ss:w@rd@host/x", []), "webdav://bob:***@host/x");
  assertEquals(
    r("two: ftp://a:x@h1/ and s3://b:y@h2/", []),
    "two: ftp://a:***@h1/ and s3://b:***@h2/",
  );
  // The secret inside a URL is also hidden when it is percent-encoded there.
  const pw = "p@ss word/é";
  const url = `ftp://bob:${encodeURIComponent(pw)}@host/`;
  const out = r(`failed: ${url}`, [pw]);
  assert(!out.includes(encodeURIComponent(pw)), out);
  assertEquals(out, "failed: ftp://bob:***@host/");
  // A URL without a password is left alone; so is an e-mail address.
  assertEquals(
    r("ftp://bob@host/ mail bob@example.org", []),
    "ftp://bob@host/ mail bob@example.org",
  );
  assertEquals(r("http://host:8080/path", []), "http://host:8080/path");
});

Deno.test("redact: Authorization headers", () => {
  assertEquals(r("Authorization: Basic Ym9iOnNlY3JldA==", []), "Authorization: ***");
  assertEquals(r("authorization:Bearer abc.def", []), "authorization:***");
  assertEquals(r("Proxy-Authorization: Basic eHk=", []), "Proxy-Authorization: ***");
  assertEquals(
    r('headers {"authorization":"AWS4-HMAC-SHA256 Credential=AK/x, Signature=ff00","x":1}', []),
    'headers {"authorization":"***","x":1}',
  );
  assertEquals(
    r("GET /\r\nAuthorization: Digest x\r\nHost: h", []),
    "GET /\r\nAuthorization: ***\r\nHost: h",
  );
});

Deno.test("redact: signed-URL signatures and token query values", () => {
  const presigned =
    "https://s3.local/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F2024" +
    "&X-Amz-Signature=0123abcd&X-Amz-Security-Token=FQoGZX&x=1";
  assertEquals(
    r(presigned, []),
    "https://s3.local/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F2024" +
      "&X-Amz-Signature=***&X-Amz-Security-Token=***&x=1",
  );
  assertEquals(
    r("http://h/o?Signature=abc%2Bdef&Expires=1", []),
    "http://h/o?Signature=***&Expires=1",
  );
  assertEquals(r("Credential=AK/s3, Signature=deadbeef", []), "Credential=AK/s3, Signature=***");
  assertEquals(r("https://api/x?access_token=tok123", []), "https://api/x?access_token=***");
  assertEquals(r("https://api/x?a=1&token=t0k&b=2", []), "https://api/x?a=1&token=***&b=2");
  // Ordinary parameters stay.
  assertEquals(r("https://h/x?prefix=a&max-keys=10", []), "https://h/x?prefix=a&max-keys=10");
});

Deno.test("redact: no secret survives in a mixed line", () => {
  const secrets = ["Pa55/word!", "correct horse battery staple", "wJalrXUtnFEMI/K7MDENG+bPxRfi"];
  const line = `relay ftp://bob:Pa55%2Fword!@h failed; passphrase correct horse battery staple; ` +
    `key wJalrXUtnFEMI/K7MDENG+bPxRfi; Authorization: AWS4 ${secrets[2]}`;
  const out = r(line, secrets);
  for (const s of secrets) assert(!out.includes(s), `${s} leaked: ${out}`);
  assert(!out.includes("Pa55%2Fword"), out);
  assert(out.includes(MASK));
});

Deno.test("RedactingLogger: redacts messages and child prefixes, and sees secrets added later", () => {
  const inner = collectingLogger();
  const secrets = ["hunter2"];
  const log = new RedactingLogger(inner, secrets);
  log.log("info", "login hunter2");
  const child = log.child("repo");
  secrets.push("late-passphrase");
  child.log("error", "bad late-passphrase at ftp://u:zz@h/");
  log.child("hunter2").log("warn", "x");
  assertEquals(inner.lines, [
    "INFO login ***",
    "ERROR repo: bad *** at ftp://u:***@h/",
    "WARN ***: x",
  ]);
});
