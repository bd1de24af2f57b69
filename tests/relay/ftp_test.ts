import { WanProxy } from "../../bench/wan_proxy.ts";
import { PROFILES } from "../../bench/wan_link.ts";
import { assert, assertEquals, failure } from "../assert.ts";
import { abortsInterruptTransfers, conformanceSteps } from "./conformance.ts";
import { pattern } from "../../src/relay/conformance.ts";
import { type FtpServer, startFtpServer } from "../servers/ftp_server.ts";
import { freePort, waitForPort } from "../servers/harness.ts";
import { FtpRelay, type FtpRelayOptions } from "../../src/relay/ftp/ftp_relay.ts";
import { collect, fromUtf8, toArray, utf8 } from "../../src/util/streams.ts";

function relayFor(s: FtpServer, extra: Partial<FtpRelayOptions> = {}): FtpRelay {
  return new FtpRelay({
    host: s.host,
    port: s.port,
    user: s.user,
    password: s.password,
    directory: "relay",
    tls: "none",
    timeoutMs: 10_000,
    ...extra,
  });
}

Deno.test("ftp: plain FTP passes the conformance suite", async (t) => {
  const s = await startFtpServer();
  const r = relayFor(s, { directory: "deep/relay folder" });
  try {
    await r.open();
    await conformanceSteps(t, r);
    await t.step("the relay folder was created inside the user's root", async () => {
      const st = await Deno.stat(`${s.dataDir}/deep/relay folder`);
      assert(st.isDirectory, "relay folder missing on disk");
    });
  } finally {
    await r.close();
    await s.stop();
  }
});

Deno.test("ftp: explicit FTPS passes the conformance suite", async (t) => {
  const s = await startFtpServer({ tlsRequired: true });
  const r = relayFor(s, { tls: "explicit", caFile: s.certFile });
  try {
    await r.open();
    await conformanceSteps(t, r);
  } finally {
    await r.close();
    await s.stop();
  }
});

Deno.test("ftp: FTPS without verification works with node:tls, and verification is on by default", async () => {
  const s = await startFtpServer({ tlsRequired: true });
  try {
    const strict = relayFor(s, { tls: "explicit" });
    const e = await failure(strict.open());
    await strict.close();
    assert(e.kind === "permanent" && /certificate/.test(e.message), `got ${e.kind}: ${e.message}`);

    const lax = relayFor(s, { tls: "explicit", verifySsl: false });
    try {
      await lax.open();
      await lax.write("a/b", utf8.encode("unverified but encrypted"));
      const back = new TextDecoder().decode(await collect(await lax.read("a/b")));
      assert(back === "unverified but encrypted", `read back ${back}`);
      const range = new TextDecoder().decode(
        await collect(await lax.read("a/b", { offset: 11, length: 3 })),
      );
      assert(range === "but", `range read ${range}`);
    } finally {
      await lax.close();
    }
  } finally {
    await s.stop();
  }
});

Deno.test("ftp: a server that requires TLS session reuse gets one clear line; clear data works", async () => {
  const s = await startFtpServer({ requireSessionReuse: true });
  try {
    const r = relayFor(s, { tls: "explicit", caFile: s.certFile });
    const e = await failure(r.open());
    await r.close();
    assert(e.kind === "config", `kind ${e.kind}: ${e.message}`);
    assert(!e.message.includes("\n"), "message is not one line");
    for (const needle of ["NoSessionReuseRequired", "require_ssl_reuse=NO", "ftps clear data"]) {
      assert(e.message.includes(needle), `message lacks ${needle}: ${e.message}`);
    }

    const clear = relayFor(s, { tls: "explicit", caFile: s.certFile, clearDataChannel: true });
    try {
      await clear.open();
      await clear.write("x/y", utf8.encode("clear data, encrypted control"));
      const keys = (await toArray(clear.list("x"))).map((e) => e.key);
      assert(keys.join() === "x/y", `listed ${keys}`);
    } finally {
      await clear.close();
    }
  } finally {
    await s.stop();
  }
});

Deno.test("ftp: wrong password is an auth error that never shows the password", async () => {
  const s = await startFtpServer({ password: "Pa55-word-in-no-message" });
  try {
    for (const tls of ["none", "explicit"] as const) {
      const r = relayFor(s, { password: "Wr0ng-pa55-in-no-message", tls, caFile: s.certFile });
      const e = await failure(r.open());
      await r.close();
      assert(e.kind === "auth", `${tls}: kind ${e.kind}: ${e.message}`);
      assert(e.exitCode === 4, `exit code ${e.exitCode}`);
      assert(!e.message.includes("pa55"), `password in message: ${e.message}`);
      assert(!r.name.includes("pa55"), "password in relay name");
    }
  } finally {
    await s.stop();
  }
});

Deno.test("ftp: no error message contains the password", async () => {
  const password = "Secr3t-Zebra-42";
  const s = await startFtpServer({ password });
  const r = relayFor(s, { password });
  try {
    await r.open();
    const messages: string[] = [];
    const collectMsg = async (p: Promise<unknown>) => {
      messages.push((await failure(p)).message);
    };
    await collectMsg(r.read("missing/object").then(collect));
    await collectMsg(r.read("bad\nkey"));
    await collectMsg(r.stat("bad/../key"));
    await Deno.chmod(s.dataDir + "/relay", 0o500).catch(() => {});
    // As root the chmod does not stop writes; the messages above are enough there.
    if (Deno.uid() !== 0) await collectMsg(r.write("denied", utf8.encode("x")));
    await Deno.chmod(s.dataDir + "/relay", 0o755);
    // A password the server echoes back must be scrubbed too.
    const bad = relayFor(s, { user: password, password });
    await collectMsg(bad.open());
    await bad.close();
    assert(messages.length >= 4, "not enough failures collected");
    for (const m of messages) assert(!m.includes(password.slice(0, 12)), `password in: ${m}`);
  } finally {
    await r.close();
    await s.stop();
  }
});

Deno.test("ftp: a server without AUTH TLS is refused, never used in clear text", async () => {
  const s = await startFtpServer({ tls: false });
  try {
    const r = relayFor(s, { tls: "explicit" });
    const e = await failure(r.open());
    await r.close();
    assert(e.kind === "config" && /AUTH TLS/.test(e.message), `${e.kind}: ${e.message}`);
  } finally {
    await s.stop();
  }
});

Deno.test("ftp: an unreachable server is an unreachable error", async () => {
  const r = new FtpRelay({
    timeoutMs: 30_000,
    host: "127.0.0.1",
    port: freePort(),
    directory: "",
    tls: "none",
  });
  const e = await failure(r.open());
  await r.close();
  assert(e.kind === "unreachable", `${e.kind}: ${e.message}`);
});

// The CLI retries a failed open on the same object (openWithRetries).
Deno.test("ftp: open can be retried on the same relay after a failure", async () => {
  const s = await startFtpServer();
  const r = relayFor(s, { directory: "parent/relay" });
  try {
    await Deno.writeTextFile(`${s.dataDir}/parent`, "a file where the relay's parent should be");
    await failure(r.open());
    await Deno.remove(`${s.dataDir}/parent`);
    await r.open();
    await r.write("k", utf8.encode("retried"));
    assertEquals(fromUtf8.decode(await collect(await r.read("k"))), "retried");
  } finally {
    await r.close();
    await s.stop();
  }
});

/** socat as a killable proxy for the control connection (data connections go direct). */
async function startProxy(port: number, target: number): Promise<{ stop(): Promise<void> }> {
  const child = new Deno.Command("setsid", {
    args: [
      "socat",
      `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork,linger=0`,
      `TCP:127.0.0.1:${target}`,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  await waitForPort(port, child);
  let stopped = false;
  return {
    async stop() {
      if (stopped) return;
      stopped = true;
      // The whole process group: socat forks one child per connection.
      try {
        Deno.kill(-child.pid, "SIGKILL");
      } catch { /* gone */ }
      await child.status;
    },
  };
}

Deno.test("ftp: a connection cut mid-transfer is transient and leaves no partial object", async () => {
  const s = await startFtpServer();
  const port = freePort();
  let proxy = await startProxy(port, s.port);
  const r = relayFor(s, { port, timeoutMs: 5000 });
  try {
    await r.open();
    const big = pattern(24 * 1024 * 1024, 5);
    await r.write("kept", big);
    // Three idle connections that the cut will kill.
    await Promise.all([r.stat("kept"), r.stat("kept"), r.stat("kept")]);

    const chunk = pattern(256 * 1024, 1);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(c) {
        if (sent >= 128 * 1024 * 1024) return c.close();
        if (sent === 4 * 1024 * 1024) await proxy.stop();
        c.enqueue(chunk);
        sent += chunk.length;
      },
    });
    const we = await failure(r.write("cut", () => body));
    assert(we.kind === "transient", `write: ${we.kind}: ${we.message}`);

    proxy = await startProxy(port, s.port);
    const stream = await r.read("kept");
    let got = 0;
    const re = await failure((async () => {
      for await (const c of stream) {
        got += c.length;
        if (got >= 2 * 1024 * 1024) await proxy.stop();
      }
    })());
    assert(re.kind === "transient", `read: ${re.kind}: ${re.message}`);

    proxy = await startProxy(port, s.port);
    // Dead pooled connections are replaced without an error reaching the caller.
    assert((await r.stat("cut")) === null, "a partial object is visible");
    const listed = (await toArray(r.list(""))).map((e) => e.key);
    assert(listed.join() === "kept", `listing shows ${listed}`);
    // What a retry at a higher level does: the same calls again, now succeeding.
    await r.write("cut", pattern(3 * 1024 * 1024, 8));
    const back = await collect(await r.read("cut"));
    assert(back.length === 3 * 1024 * 1024 && back[12345] === pattern(12346, 8)[12345], "retry");
    const whole = await collect(await r.read("kept"));
    assert(whole.length === big.length, "kept object damaged");
  } finally {
    await r.close();
    await proxy.stop();
    await s.stop();
  }
});

/**
 * A control-connection proxy that makes ProFTPD look like a server without RFC 3659 and RFC
 * 2428 (vsftpd, old IIS): MLSD, MLST and EPSV are refused (500) and hidden from FEAT, so the client
 * must fall back to LIST, SIZE/MDTM and PASV. Data connections go straight to the server.
 */
function legacyProxy(target: number): { port: number; stop(): Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const pumps: Promise<void>[] = [];
  const hidden = /^(MLSD|MLST|EPSV)\b/i;
  const lines = async (from: Deno.Conn, each: (line: string) => Promise<void>) => {
    let pending = "";
    const dec = new TextDecoder();
    try {
      for await (const chunk of from.readable) {
        pending += dec.decode(chunk, { stream: true });
        let i: number;
        while ((i = pending.indexOf("\n")) >= 0) {
          await each(pending.slice(0, i + 1));
          pending = pending.slice(i + 1);
        }
      }
    } catch { /* closed */ }
  };
  const enc = new TextEncoder();
  const accepting = (async () => {
    for await (const client of listener) {
      const server = await Deno.connect({ hostname: "127.0.0.1", port: target });
      conns.add(client).add(server);
      const end = () => {
        for (const c of [client, server]) {
          // A readable that reached its end has closed its conn already.
          if (conns.delete(c)) {
            try {
              c.close();
            } catch { /* already closed */ }
          }
        }
      };
      pumps.push(
        lines(client, async (line) => {
          // A hidden command goes on as one ProFTPD does not know, so that its refusal (500)
          // comes in order with the replies to the commands pipelined around it.
          await server.write(enc.encode(hidden.test(line) ? `XHIDDEN-${line}` : line));
        }).finally(end),
        lines(server, async (line) => {
          if (!hidden.test(line.trimStart()) || !line.startsWith(" ")) {
            await client.write(enc.encode(line));
          }
        }).finally(end),
      );
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async stop() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      conns.clear();
      await accepting;
      await Promise.all(pumps);
    },
  };
}

Deno.test("ftp: a server without MLSD, MLST and EPSV works through LIST, SIZE/MDTM and PASV", async (t) => {
  const s = await startFtpServer();
  const proxy = legacyProxy(s.port);
  const r = relayFor(s, { port: proxy.port });
  try {
    await r.open();
    await conformanceSteps(t, r);
    await t.step("LIST shows names with spaces and unicode, with sizes and times", async () => {
      await r.write("odd/a name with  spaces", utf8.encode("12345"));
      await r.write("odd/ünïcödé 名前", utf8.encode("1234567"));
      const got = (await toArray(r.list("odd"))).map((e) => `${e.key}:${e.size}`).sort();
      const want = ["odd/a name with  spaces:5", "odd/ünïcödé 名前:7"];
      assert(JSON.stringify(got) === JSON.stringify(want), `listed ${got}`);
      const st = await r.stat("odd/ünïcödé 名前");
      assert(st && st.size === 7 && Math.abs(st.mtime - Date.now()) < 120_000, `stat ${st}`);
    });
  } finally {
    await r.close();
    await proxy.stop();
    await s.stop();
  }
});

Deno.test("ftp: an abort signal interrupts a read and a write, and the relay stays usable", async () => {
  const s = await startFtpServer();
  const r = relayFor(s);
  try {
    await r.open();
    await abortsInterruptTransfers(r, "ftp");
    assert((await r.stat("big"))?.size === 16 * 1024 * 1024, "relay unusable after aborts");
  } finally {
    await r.close();
    await s.stop();
  }
});

/**
 * A control-connection proxy that notes, for every command the client sends, how many final
 * replies the client had been given when that command was read: a command sent before the
 * answer to the previous one (pipelined) was read with fewer replies given than commands sent.
 * Data connections go straight to the server.
 */
function replyCountingProxy(target: number): {
  port: number;
  sent: { line: string; repliesGiven: number }[];
  stop(): Promise<void>;
} {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const sent: { line: string; repliesGiven: number }[] = [];
  const conns = new Set<Deno.Conn>();
  const pumps: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const client of listener) {
      const server = await Deno.connect({ hostname: "127.0.0.1", port: target });
      conns.add(client).add(server);
      let given = 0;
      const dec = new TextDecoder();
      const end = () => {
        for (const c of [client, server]) {
          if (conns.delete(c)) {
            try {
              c.close();
            } catch { /* already closed */ }
          }
        }
      };
      pumps.push(
        (async () => {
          let pending = "";
          for await (const chunk of client.readable) {
            // Counted as read, before any of it goes on: its answers cannot have come yet.
            pending += dec.decode(chunk, { stream: true });
            const lines = pending.split("\r\n");
            pending = lines.pop()!;
            for (const line of lines) sent.push({ line: line.split(" ")[0], repliesGiven: given });
            await server.write(chunk);
          }
        })().catch(() => {}).finally(end),
        (async () => {
          let pending = "";
          const d = new TextDecoder();
          for await (const chunk of server.readable) {
            pending += d.decode(chunk, { stream: true });
            const lines = pending.split("\r\n");
            pending = lines.pop()!;
            // Counted before the client can see them.
            given += lines.filter((l) => /^\d{3} /.test(l)).length;
            await client.write(chunk);
          }
        })().catch(() => {}).finally(end),
      );
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    sent,
    async stop() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      conns.clear();
      await accepting;
      await Promise.all(pumps);
    },
  };
}

Deno.test("ftp: no round trip whose answer is known: one batch to log in, none to make a listed folder, size check and rename together", async () => {
  const s = await startFtpServer();
  const proxy = replyCountingProxy(s.port);
  const first = relayFor(s);
  let second: FtpRelay | undefined;
  try {
    await first.open();
    await first.write("d/a", utf8.encode("a"));
    await first.close();
    const from = proxy.sent.length;
    second = relayFor(s, { port: proxy.port });
    await second.open();
    assert((await toArray(second.list("d"))).length === 1, "d/a listed");
    await second.write("d/b", utf8.encode("bb"));
    await second.delete("d/a");
    const sent = proxy.sent.slice(from);
    const verbs = sent.map((c) => c.line);
    const at = (verb: string) => sent.find((c) => c.line === verb)!;
    // Everything of the login after USER goes before USER is answered (only the greeting is).
    for (const verb of ["USER", "PASS", "FEAT", "OPTS", "TYPE"]) {
      assert(at(verb)?.repliesGiven === 1, `${verb}: ${JSON.stringify(sent)}`);
    }
    assert(!verbs.includes("MKD"), `a folder just listed was made again: ${verbs}`);
    assert(at("RNFR").repliesGiven === at("SIZE").repliesGiven, `${JSON.stringify(sent)}`);
    const deles = sent.filter((c) => c.line === "DELE");
    assert(deles.length === 2 && deles[0].repliesGiven === deles[1].repliesGiven, "DELEs");
    assert(
      new TextDecoder().decode(await collect(await second.read("d/b"))) === "bb",
      "written",
    );
    assert((await toArray(second.list("d"))).map((e) => e.key).join() === "d/b", "deleted");
  } finally {
    await second?.close();
    await proxy.stop();
    await s.stop();
  }
});

Deno.test("ftp: a listing of files and one of sub-folders asked together share one MLSD", async () => {
  const s = await startFtpServer();
  // The WAN benchmark's proxy, without delay, on the control connection: it counts commands.
  const proxy = new WanProxy(PROFILES.loopback);
  const port = proxy.listen({
    kind: "ftp-control",
    port: 0,
    to: { hostname: s.host, port: s.port },
  });
  const r = relayFor(s, { port });
  try {
    await r.open();
    await r.write("d/a", utf8.encode("a"));
    await r.write("d/sub/b", utf8.encode("b"));
    const mlsd = () => proxy.stats().requests.MLSD ?? 0;
    const before = mlsd();
    const [files, folders] = await Promise.all([toArray(r.list("d")), r.listFolders("d")]);
    assertEquals(files.map((e) => e.key), ["d/a"]);
    assertEquals(folders, ["sub"]);
    assertEquals(mlsd() - before, 1, "MLSD commands for the two listings");
    // Asked after a write ended, a listing reads the folder again and shows it.
    await r.write("d/c", utf8.encode("c"));
    assertEquals((await toArray(r.list("d"))).map((e) => e.key), ["d/a", "d/c"]);
    assertEquals(mlsd() - before, 2, "MLSD commands in all");
  } finally {
    await r.close();
    proxy.stop();
    await s.stop();
  }
});

Deno.test("ftp: a folder a listing showed needs no MKD", async () => {
  const s = await startFtpServer();
  const proxy = new WanProxy(PROFILES.loopback);
  const port = proxy.listen({
    kind: "ftp-control",
    port: 0,
    to: { hostname: s.host, port: s.port },
  });
  // Another client made the folder; this one only saw it in a listing.
  const other = relayFor(s);
  await other.open();
  await other.write("made/a", utf8.encode("a"));
  await other.close();
  const r = relayFor(s, { port });
  try {
    await r.open();
    assertEquals(await r.listFolders(""), ["made"]);
    const mkd = () => proxy.stats().requests.MKD ?? 0;
    const before = mkd();
    await r.write("made/b", utf8.encode("b"));
    assertEquals(mkd() - before, 0, "MKD commands");
    assertEquals((await toArray(r.list("made"))).map((e) => e.key), ["made/a", "made/b"]);
  } finally {
    await r.close();
    proxy.stop();
    await s.stop();
  }
});

Deno.test("ftp: the listing open() takes answers the root listings asked right after it", async () => {
  const s = await startFtpServer();
  const proxy = new WanProxy(PROFILES.loopback);
  const port = proxy.listen({
    kind: "ftp-control",
    port: 0,
    to: { hostname: s.host, port: s.port },
  });
  const other = relayFor(s, {});
  await other.open();
  await other.write("top", utf8.encode("t"));
  await other.write("d/a", utf8.encode("a"));
  await other.close();
  const r = relayFor(s, { port });
  try {
    await r.open();
    const mlsd = () => proxy.stats().requests.MLSD ?? 0;
    assertEquals(mlsd(), 1, "MLSD commands of open()");
    const [files, folders] = await Promise.all([toArray(r.list("")), r.listFolders("")]);
    assertEquals(files.map((e) => e.key), ["top"]);
    assertEquals(folders, ["d"]);
    assertEquals(mlsd(), 1, "MLSD commands after the root's listings");
    await r.delete("top");
    assertEquals(await toArray(r.list("")), []);
    assertEquals(mlsd(), 2, "MLSD commands in all");
  } finally {
    await r.close();
    proxy.stop();
    await s.stop();
  }
});

Deno.test("ftp: open() logs in the connections a round asks for at once, ahead of them", async () => {
  const s = await startFtpServer();
  const proxy = new WanProxy(PROFILES.loopback);
  const port = proxy.listen({
    kind: "ftp-control",
    port: 0,
    to: { hostname: s.host, port: s.port },
  });
  const other = relayFor(s, {});
  await other.open();
  for (const k of ["a", "b", "c/d"]) await other.write(k, utf8.encode(k));
  await other.close();
  const r = relayFor(s, { port });
  try {
    await r.open();
    const logins = () => proxy.stats().requests.USER ?? 0;
    // The warm connections log in in the background: wait for them (a hang guard, not a timing).
    const deadline = Date.now() + 20_000;
    while (logins() < 3 && Date.now() < deadline) await new Promise((ok) => setTimeout(ok, 20));
    assertEquals(logins(), 3, "logins after open()");
    const [a, b, c] = await Promise.all([
      r.read("a").then((st) => collect(st, 10)),
      r.read("b").then((st) => collect(st, 10)),
      toArray(r.list("c")),
    ]);
    assertEquals([fromUtf8.decode(a), fromUtf8.decode(b), c.map((e) => e.key)], ["a", "b", [
      "c/d",
    ]]);
    assertEquals(logins(), 3, "logins after three requests together");
  } finally {
    await r.close();
    proxy.stop();
    await s.stop();
  }
});

Deno.test("ftp: a transfer uses a passive port asked for before it: with the login, or as the previous transfer ended", async () => {
  const s = await startFtpServer();
  const proxy = new WanProxy(PROFILES.loopback, { trace: true });
  const port = proxy.listen({
    kind: "ftp-control",
    port: 0,
    to: { hostname: s.host, port: s.port },
  });
  const other = relayFor(s, {});
  await other.open();
  await other.write("a", utf8.encode("a"));
  await other.close();
  // One connection, so that which one serves a transfer is known.
  const r = relayFor(s, { port, connections: 1 });
  try {
    const count = (verb: string) => proxy.stats().requests[verb] ?? 0;
    const verbs = () => proxy.trace().map((e) => e.what.split(" ")[0]);
    // A hang guard, not a timing: what was sent is seen by the proxy a little later.
    const seen = async (verb: string, n: number) => {
      const deadline = Date.now() + 20_000;
      while (count(verb) < n && Date.now() < deadline) {
        await new Promise((ok) => setTimeout(ok, 10));
      }
      assertEquals(count(verb), n, verbs().join(" "));
    };
    await r.open();
    // The login batch asked for a port, and open's listing (sent with its CWD) used it.
    assertEquals([count("USER"), count("MLSD")], [1, 1]);
    let v = verbs();
    assert(v.indexOf("EPSV") < v.indexOf("CWD"), v.join(" "));
    assert(v.indexOf("CWD") < v.indexOf("MLSD"), v.join(" "));
    for (let i = 0; i < 3; i++) {
      // The port of the next transfer was asked for as the previous one ended, before any
      // operation needed it; the transfer then sends no EPSV of its own.
      await seen("EPSV", 2 + i);
      const before = verbs().length;
      assertEquals(fromUtf8.decode(await collect(await r.read("a"), 10)), "a");
      v = verbs().slice(before);
      assertEquals(v.slice(0, 1), ["RETR"], v.join(" "));
    }
    // A refused transfer (a missing object) asks for the next port too.
    await seen("EPSV", 5);
    await failure(r.read("missing"));
    await seen("EPSV", 6);
    const before = verbs().length;
    assertEquals(fromUtf8.decode(await collect(await r.read("a"), 10)), "a");
    assertEquals(verbs().slice(before, before + 1), ["RETR"]);
    assertEquals(count("USER"), 1);
  } finally {
    await r.close();
    proxy.stop();
    await s.stop();
  }
});

Deno.test("ftp: connections opened together log in after the first one's login: a refused password is tried once", async () => {
  const s = await startFtpServer();
  const proxy = new WanProxy(PROFILES.loopback);
  const port = proxy.listen({
    kind: "ftp-control",
    port: 0,
    to: { hostname: s.host, port: s.port },
  });
  try {
    // Requests sent before open(), as a command's first reads are, open connections of their own.
    const bad = relayFor(s, { port, password: "not-the-password", directory: "/relay" });
    const results = await Promise.allSettled([bad.read("a"), bad.read("b"), bad.open()]);
    for (const res of results) {
      assertEquals(res.status, "rejected");
      if (res.status === "rejected") assertEquals(res.reason.kind, "auth", res.reason.message);
    }
    await bad.close();
    assertEquals(proxy.stats().requests.USER ?? 0, 1, "logins tried with the wrong password");
    // With the right one, reads sent before open() are answered once it has logged in.
    const seed = relayFor(s, {});
    await seed.open();
    await seed.write("a", utf8.encode("A"));
    await seed.close();
    const good = relayFor(s, { port, directory: "/relay" });
    assert(good.requestsBeforeOpen, "an absolute relay folder needs nothing open() learns");
    const early = good.read("a").then((st) => collect(st, 10));
    await good.open();
    assertEquals(fromUtf8.decode(await early), "A");
    await good.close();
  } finally {
    proxy.stop();
    await s.stop();
  }
});
