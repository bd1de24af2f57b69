import { assert, assertEquals, assertRejects, settlesWithin } from "../assert.ts";
import { sendMail } from "../../src/log/smtp_client.ts";
import { EscaleError } from "../../src/errors/errors.ts";
import { SmtpServer } from "./smtp_server.ts";

const base = {
  host: "127.0.0.1",
  from: "escale@box.example",
  to: ["admin@example.org"],
  subject: "escale[docs] failed",
  heloName: "box.example",
  timeoutMs: 2000,
};

const isKind = (kind: string) => (e: unknown) => e instanceof EscaleError && e.kind === kind;

Deno.test("sendMail: EHLO, MAIL FROM, RCPT TO, DATA with dot-stuffing, QUIT", async () => {
  const srv = new SmtpServer();
  try {
    const body = "first line\n.starts with a dot\n.\n..two dots\nlast";
    await sendMail({ ...base, port: srv.port, to: ["a@x.org", "b@y.org"], body });
    const [s] = srv.sessions;
    assertEquals(s.commands, [
      "EHLO box.example",
      "MAIL FROM:<escale@box.example>",
      "RCPT TO:<a@x.org>",
      "RCPT TO:<b@y.org>",
      "DATA",
      "QUIT",
    ]);
    // On the wire, every line starting with a dot got one more.
    assert(s.data.includes("..starts with a dot"), s.data.join("|"));
    assert(s.data.includes(".."), "a lone dot is stuffed, not the end of the message");
    assert(s.data.includes("...two dots"));
    const m = SmtpServer.message(s);
    assertEquals(m.body, body);
    assertEquals(m.headers.get("from"), "escale@box.example");
    assertEquals(m.headers.get("to"), "a@x.org, b@y.org");
    assertEquals(m.headers.get("subject"), "escale[docs] failed");
    assertEquals(m.headers.get("content-transfer-encoding"), "7bit");
    assertEquals(m.headers.get("auto-submitted"), "auto-generated");
    assert(/^<[0-9a-f-]+@box\.example>$/.test(m.headers.get("message-id")!));
    assert(!isNaN(Date.parse(m.headers.get("date")!)));
  } finally {
    await srv.close();
  }
});

Deno.test("sendMail: non-ASCII or long lines travel as base64; subject as an encoded word", async () => {
  const srv = new SmtpServer();
  try {
    const body = `Fehler beim Übertragen: « déjà »\n.${"z".repeat(1200)}`;
    await sendMail({ ...base, port: srv.port, subject: "échec", body });
    const m = SmtpServer.message(srv.sessions[0]);
    assertEquals(m.headers.get("content-transfer-encoding"), "base64");
    assertEquals(m.body, body);
    const data = srv.sessions[0].data;
    assert(data.slice(data.indexOf("") + 1).every((l) => l.length <= 76), "76-column base64");
    assertEquals(m.headers.get("subject"), `=?UTF-8?B?${btoa("\xc3\xa9chec")}?=`);
  } finally {
    await srv.close();
  }
});

Deno.test("sendMail: falls back to HELO when EHLO is not understood", async () => {
  const srv = new SmtpServer({ ehlo: "502 5.5.2 what?" });
  try {
    await sendMail({ ...base, port: srv.port, body: "b" });
    assertEquals(srv.sessions[0].commands.slice(0, 3), [
      "EHLO box.example",
      "HELO box.example",
      "MAIL FROM:<escale@box.example>",
    ]);
  } finally {
    await srv.close();
  }
});

Deno.test("sendMail: a refused recipient is a permanent error naming the step", async () => {
  const srv = new SmtpServer({ rcpt: "550 5.1.1 no such user" });
  try {
    const e = await assertRejects(
      () => sendMail({ ...base, port: srv.port, body: "b" }),
      isKind("permanent"),
    ) as Error;
    assert(
      e.message.includes("RCPT TO admin@example.org refused: 550 5.1.1 no such user"),
      e.message,
    );
    assert(!srv.sessions[0].commands.includes("DATA"));
  } finally {
    await srv.close();
  }
});

Deno.test("sendMail: 4xx is transient", async () => {
  const srv = new SmtpServer({ rcpt: "451 4.3.0 try later" });
  try {
    await assertRejects(
      () => sendMail({ ...base, port: srv.port, body: "b" }),
      isKind("transient"),
    );
  } finally {
    await srv.close();
  }
});

Deno.test("sendMail: a silent server times out; a closed port is unreachable", async () => {
  const srv = new SmtpServer({ silent: true });
  try {
    const e = await settlesWithin(
      assertRejects(
        () => sendMail({ ...base, port: srv.port, body: "b", timeoutMs: 300 }),
        isKind("unreachable"),
      ),
      20_000,
      "sendMail to a silent server",
    ) as Error;
    assert(e.message.includes("timed out"), e.message);
  } finally {
    await srv.close();
  }
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const e = await assertRejects(
    () => sendMail({ ...base, port, body: "b" }),
    isKind("unreachable"),
  ) as Error;
  assert(e.message.startsWith(`SMTP server 127.0.0.1:${port}: cannot connect`), e.message);
});

Deno.test("sendMail: addresses that could inject commands or headers are refused", async () => {
  for (const to of ["a@b>\r\nRCPT TO:<c@d", "a b@c", "nobody"]) {
    await assertRejects(
      () => sendMail({ ...base, port: 1, to: [to], body: "b" }),
      isKind("usage"),
      to,
    );
  }
});
