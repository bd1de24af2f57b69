// The WAN benchmark's proxy: bytes and order survive both ways with a half-close, requests are
// counted right however the stream is cut, and FTP / FTPS data connections cross the proxy.
// A fast profile (2 ms, 1 Gbit/s) keeps these quick; nothing here depends on timing.
import { assert, assertEquals } from "../assert.ts";
import { statsDelta, WanProxy } from "../../bench/wan_proxy.ts";
import { windowAfterIdle } from "../../bench/wan_flow.ts";
import { HttpRequestCounter } from "../../bench/http_request_counter.ts";
import { FtpCommandCounter } from "../../bench/ftp_command_counter.ts";
import { shapedFtp } from "../../bench/bench_targets.ts";
import type { LinkProfile } from "../../bench/wan_link.ts";
import { FtpRelay } from "../../src/relay/ftp/ftp_relay.ts";
import { collect } from "../../src/util/streams.ts";

const FAST: LinkProfile = { name: "test", rttMs: 2, mbit: 1000 };

function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

async function readAll(c: Deno.Conn): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const buf = new Uint8Array(50_000);
  while (true) {
    const n = await c.read(buf);
    if (n === null) break;
    parts.push(buf.slice(0, n));
  }
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

async function writeInPieces(c: Deno.Conn, b: Uint8Array): Promise<void> {
  // Uneven pieces, so that reads and chunks never line up with writes.
  for (let off = 0, i = 0; off < b.length; i++) {
    const piece = b.subarray(off, Math.min(b.length, off + 1 + (i * 7919) % 40_000));
    let done = 0;
    while (done < piece.length) done += await c.write(piece.subarray(done));
    off += piece.length;
  }
}

Deno.test("wan proxy: every byte arrives in order both ways, and a half-close travels after the data", async () => {
  const up = pattern(1_500_000, 1);
  const down = pattern(700_000, 2);
  const server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    const c = await server.accept();
    // The server answers only after the client's FIN: the FIN must come after all the data.
    const got = await readAll(c);
    await writeInPieces(c, down);
    c.close();
    return got;
  })();
  const proxy = new WanProxy(FAST);
  try {
    const port = proxy.listen({
      kind: "tcp",
      port: 0,
      to: { hostname: "127.0.0.1", port: (server.addr as Deno.NetAddr).port },
    });
    const before = proxy.stats();
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    await writeInPieces(c, up);
    await c.closeWrite();
    const back = await readAll(c);
    c.close();
    assert((await served).every((v, i) => v === up[i]) && (await served).length === up.length);
    assertEquals(back.length, down.length);
    assert(back.every((v, i) => v === down[i]), "server-to-client bytes differ");
    const d = statsDelta(before, proxy.stats());
    assertEquals([d.connections, d.bytesUp, d.bytesDown], [{ tcp: 1 }, up.length, down.length]);
  } finally {
    proxy.stop();
    server.close();
  }
});

const enc = (s: string) => new TextEncoder().encode(s);

function countHttp(stream: Uint8Array, cut: number): { methods: string[]; lost: boolean } {
  const methods: string[] = [];
  const counter = new HttpRequestCounter((m) => methods.push(m));
  for (let i = 0; i < stream.length; i += cut) counter.push(stream.subarray(i, i + cut));
  return { methods, lost: counter.lost };
}

Deno.test("http request counter: pipelined requests with bodies, cut anywhere", () => {
  const body = "PUT /x HTTP/1.1\r\nHost: h\r\n"; // a body that looks like a request
  const stream = enc(
    "PROPFIND /dav/ HTTP/1.1\r\nHost: h\r\nDepth: 1\r\n\r\n" +
      `PUT /dav/a HTTP/1.1\r\nHost: h\r\ncontent-length: ${body.length}\r\n\r\n${body}` +
      "PUT /dav/b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" +
      `5;ext=1\r\nGET /\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\nX-Trailer: 1\r\n\r\n` +
      "\r\nMOVE /dav/b HTTP/1.1\r\nDestination: http://h/dav/c\r\n\r\n" +
      "DELETE /dav/c HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
  );
  for (const cut of [1, 2, 3, 7, 64, stream.length]) {
    assertEquals(countHttp(stream, cut), {
      methods: ["PROPFIND", "PUT", "PUT", "MOVE", "DELETE"],
      lost: false,
    }, `cut every ${cut} bytes`);
  }
});

Deno.test("http request counter: a stream it cannot frame is reported lost, not miscounted", () => {
  const got = countHttp(enc("GET / HTTP/1.1\r\n\r\n\x16\x03\x01 TLS bytes\r\n\r\nGET /"), 5);
  assertEquals(got, { methods: ["GET"], lost: true });
});

Deno.test("ftp command counter: counts verbs and stops at AUTH", () => {
  const verbs: string[] = [];
  const counter = new FtpCommandCounter((v) => verbs.push(v));
  const s = enc("USER me\r\npass x\r\nEPSV\r\nSTOR a b\r\nAUTH TLS\r\n\x16\x03\x01\nNOT A VERB\n");
  for (let i = 0; i < s.length; i += 3) counter.push(s.subarray(i, i + 3));
  assertEquals(verbs, ["USER", "PASS", "EPSV", "STOR", "AUTH"]);
  assert(counter.encrypted);
});

for (const tls of [false, true]) {
  Deno.test(`wan proxy: ${tls ? "FTPS" : "FTP"} passive data connections go through the proxy`, async () => {
    const proxy = new WanProxy(FAST);
    const { ftp, port } = await shapedFtp(proxy, tls);
    const relay = new FtpRelay({
      host: "127.0.0.1",
      port,
      user: ftp.user,
      password: ftp.password,
      directory: "relay",
      tls: tls ? "explicit" : "none",
      caFile: ftp.certFile,
      timeoutMs: 10_000,
    });
    try {
      await relay.open();
      const data = pattern(300_000, 3);
      await relay.write("dir/object", data);
      const back = await collect(await relay.read("dir/object"));
      assert(back.length === data.length && back.every((v, i) => v === data[i]), "bytes differ");
      const s = proxy.stats();
      // Upload and download each needed a data connection; their bytes crossed the proxy.
      assert((s.connections["ftp-data"] ?? 0) >= 2, JSON.stringify(s));
      assert(s.bytesUp >= data.length && s.bytesDown >= data.length, JSON.stringify(s));
      // Nothing after AUTH TLS can be read; connections logged in ahead may not have sent it yet.
      if (tls) {
        assertEquals(Object.keys(s.requests), ["AUTH"]);
        assert(s.requests.AUTH <= (s.connections["ftp-control"] ?? 0), JSON.stringify(s));
      } else assert(s.requests.STOR >= 1 && s.requests.RETR >= 1, JSON.stringify(s.requests));
    } finally {
      await relay.close();
      proxy.stop();
      await ftp.stop();
    }
  });
}

Deno.test("wan flow: an idle window halves per timeout in whole bytes, down to the initial window", () => {
  const iw = 14480;
  // 40 ms RTT: one timeout is 240 ms of silence.
  assertEquals(windowAfterIdle(1_000_001, iw, 239, 40), 1_000_001);
  assertEquals(windowAfterIdle(1_000_001, iw, 240, 40), 500_000);
  assertEquals(windowAfterIdle(1_000_001, iw, 3 * 240, 40), 125_000);
  assertEquals(windowAfterIdle(1_000_001, iw, 60_000, 40), iw);
  assertEquals(windowAfterIdle(10_000, iw, 60_000, 40), 10_000);
});
