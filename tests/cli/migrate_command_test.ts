import { assert, assertEquals } from "../assert.ts";
import { readTree } from "../engine/sandbox.ts";
import { escale } from "./cli_helpers.ts";
import { startWebDavServer } from "../servers/webdav_server.ts";
import { startS3Server } from "../servers/s3_server.ts";
import { startFtpServer } from "../servers/ftp_server.ts";

async function round(dir: string, c: string, env: Record<string, string> = {}) {
  const r = await escale(["run", "--once", "--json", "-c", `${dir}/${c}.conf`], env);
  return {
    ...r,
    down: r.stdout.trim().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l))
      .filter((e) => e.event === "file-done" && e.direction === "down").map((e) => e.path),
  };
}

/**
 * Two shared clients A and B sync through `relayLines`; A migrates the relay with `args`; B then
 * stops at the old relay with exit 11 and the new address; B's relay lines are changed by hand
 * to `newLines`, and both go on syncing with nothing downloaded twice.
 */
async function scenario(
  name: string,
  relayLines: (dir: string) => string,
  args: (dir: string) => string[],
  newLines: (dir: string) => string,
  shown: string,
  secret?: string,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: `escale-migrate-${name}-` });
  try {
    await Deno.mkdir(`${dir}/old-relay`);
    for (const c of ["A", "B"]) {
      await Deno.mkdir(`${dir}/${c}`);
      await Deno.writeTextFile(
        `${dir}/${c}.conf`,
        `# the team's photos\n[photos]\n# who I am\nclient = ${c}\nlocal path = ${dir}/${c}\n` +
          `chunk size = 64KB\n${relayLines(dir)}# keep this comment\nrefresh = 30\n`,
      );
    }
    await Deno.writeTextFile(`${dir}/A/a.txt`, "from A");
    await Deno.writeTextFile(`${dir}/A/big.bin`, "0123456789".repeat(30_000));
    await Deno.writeTextFile(`${dir}/B/b.txt`, "from B");
    for (const c of ["A", "B", "A", "B"]) {
      const r = await round(dir, c);
      assertEquals(r.code, 0, `${c}: ${r.stderr}`);
    }
    // B publishes a change that A has not applied yet: its commit must move too.
    await Deno.writeTextFile(`${dir}/B/late.txt`, "published just before the move");
    assertEquals((await round(dir, "B")).code, 0);

    const m = await escale(["migrate", "-c", `${dir}/A.conf`, ...args(dir)]);
    assertEquals(m.code, 0, m.stderr + m.stdout);
    assert(m.stdout.includes(shown), m.stdout);
    const text = await Deno.readTextFile(`${dir}/A.conf`);
    if (secret) {
      assert(!text.includes(secret) && !m.stdout.includes(secret) && !m.stderr.includes(secret));
      const cred = `${dir}/photos.credential`;
      assert((await Deno.readTextFile(cred)).endsWith(`:${secret}\n`));
      assertEquals((await Deno.stat(cred)).mode! & 0o777, 0o600);
      assert(text.includes("secret file = photos.credential"), text);
    }
    for (
      const kept of ["# the team's photos", "# who I am", "# keep this comment", "refresh = 30"]
    ) {
      assert(text.includes(kept), text);
    }

    const stopped = await round(dir, "B");
    assertEquals(stopped.code, 11, stopped.stderr);
    const lines = stopped.stderr.trim().split("\n").filter((l) => !l.startsWith("{"));
    assert(lines.some((l) => l.includes("was moved to") && l.includes(shown)), stopped.stderr);

    const a = await round(dir, "A");
    assertEquals(a.code, 0, a.stderr);
    assertEquals(a.down, ["late.txt"]);
    const bText = await Deno.readTextFile(`${dir}/B.conf`);
    await Deno.writeTextFile(`${dir}/B.conf`, bText.replace(relayLines(dir), newLines(dir)));
    for (const c of ["B", "A", "B"]) {
      const r = await round(dir, c);
      assertEquals(r.code, 0, r.stderr);
      assertEquals(r.down, [], `${c} downloaded again`);
    }
    assertEquals(await readTree(`${dir}/A`), await readTree(`${dir}/B`));
    await Deno.writeTextFile(`${dir}/B/after.txt`, "after the move");
    assertEquals((await round(dir, "B")).code, 0);
    assertEquals((await round(dir, "A")).down, ["after.txt"]);
    const check = await escale(["check", "--read-data", "-c", `${dir}/A.conf`]);
    assertEquals(check.code, 0, check.stdout + check.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("cli migrate: file to file, comments kept, other clients stop with exit 11", async () => {
  await scenario(
    "file",
    (dir) => `relay path = ${dir}/old-relay\n`,
    (dir) => [`${dir}/new-relay`],
    (dir) => `relay path = ${dir}/new-relay\n`,
    "/new-relay",
  );
});

Deno.test("cli migrate: file to WebDAV (Apache) and WebDAV to S3 (moto), credentials to the credential file", async () => {
  const dav = await startWebDavServer({ password: "dav-Mig-3310" });
  const s3 = await startS3Server();
  try {
    const pw = await Deno.makeTempFile();
    await Deno.writeTextFile(pw, dav.password + "\n");
    await scenario(
      "dav",
      (dir) => `relay path = ${dir}/old-relay\n`,
      () => [`${dav.url}moved`, "--user", dav.user, "--password-file", pw],
      () => `host address = ${dav.url}moved\nuser = ${dav.user}\npassword = ${dav.password}\n`,
      `${dav.url}moved`,
      dav.password,
    );
    const s3pw = await Deno.makeTempFile();
    await Deno.writeTextFile(s3pw, s3.secretAccessKey);
    await scenario(
      "s3",
      () => `host address = ${dav.url}from-dav\nuser = ${dav.user}\npassword = ${dav.password}\n`,
      () => [
        `s3://${s3.bucket}/team/relay`,
        "--endpoint",
        s3.endpoint,
        "--user",
        s3.accessKeyId,
        "--password-file",
        s3pw,
      ],
      () =>
        `protocol = s3\nendpoint = ${s3.endpoint}\nbucket = ${s3.bucket}\nhost directory = team/relay\naccess key id = ${s3.accessKeyId}\nsecret access key = ${s3.secretAccessKey}\n`,
      `s3://${s3.bucket}/team/relay`,
      s3.secretAccessKey,
    );
  } finally {
    await dav.stop();
    await s3.stop();
  }
});

Deno.test("cli migrate: FTP (ProFTPD) to a folder", async () => {
  const ftp = await startFtpServer({ password: "ftp-Mig-5521", tls: false });
  try {
    await scenario(
      "ftp",
      () =>
        `host address = ftp://${ftp.host}:${ftp.port}/relay-mig\nuser = ${ftp.user}\npassword = ${ftp.password}\n`,
      (dir) => [`${dir}/new-relay`],
      (dir) => `relay path = ${dir}/new-relay\n`,
      "/new-relay",
    );
  } finally {
    await ftp.stop();
  }
});

Deno.test("cli migrate: --to-config takes the destination from another file; bad destinations are one line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "escale-migrate-conf-" });
  try {
    for (const d of ["A", "old", "new"]) await Deno.mkdir(`${dir}/${d}`);
    await Deno.writeTextFile(
      `${dir}/A.conf`,
      `[photos]\n# mine\nlocal path = ${dir}/A\nrelay path = ${dir}/old\n`,
    );
    await Deno.writeTextFile(
      `${dir}/other.conf`,
      `[photos]\nlocal path = ${dir}/A\nrelay path = ${dir}/new\n`,
    );
    await Deno.writeTextFile(`${dir}/A/f.txt`, "f");
    assertEquals((await escale(["run", "--once", "-c", `${dir}/A.conf`])).code, 0);
    for (
      const [args, code, words] of [
        [["ftp://u:pw@127.0.0.1/x"], 2, "must not hold a password"],
        [["gopher://h/x"], 2, "not a relay protocol"],
        [["relative/folder"], 2, "not a relay address"],
        [[], 2, "give the destination"],
        [["-c", `${dir}/other.conf`, "--to-config", `${dir}/other.conf`], 2, "destination once"],
        [["-c", `${dir}/other.conf`, "-c", `${dir}/other.conf`], 2, "more than twice"],
      ] as [string[], number, string][]
    ) {
      const r = await escale(["migrate", "-c", `${dir}/A.conf`, ...args]);
      assertEquals(r.code, code, r.stderr);
      assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert(r.stderr.includes(words), r.stderr);
      assert(!r.stderr.includes("pw@"), r.stderr);
    }
    const twice = await escale(["check", "-c", `${dir}/A.conf`, "-c", `${dir}/other.conf`]);
    assertEquals([twice.code, twice.stderr.trim()], [2, "escale: -c is given more than once"]);
    // escalectl's form: a second -c names the destination, as --to-config does.
    const m = await escale(["migrate", "-c", `${dir}/A.conf`, "-c", `${dir}/other.conf`]);
    assertEquals(m.code, 0, m.stderr);
    const text = await Deno.readTextFile(`${dir}/A.conf`);
    assert(text.includes("# mine") && text.includes(`host directory = ${dir}/new`), text);
    assert(!text.includes(`${dir}/old`), text);
    await Deno.writeTextFile(`${dir}/A/g.txt`, "g");
    assertEquals((await escale(["run", "--once", "-c", `${dir}/A.conf`])).code, 0);
    assertEquals((await escale(["check", "-c", `${dir}/A.conf`])).code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** key -> SHA-256 of every object under `dir` but the leases (a maintenance run takes one). */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string) => {
    for await (const e of Deno.readDir(rel ? `${dir}/${rel}` : dir)) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) {
        if (p !== "leases") await walk(p);
      } else {
        const sha = await crypto.subtle.digest("SHA-256", await Deno.readFile(`${dir}/${p}`));
        out[p] = Array.from(new Uint8Array(sha), (b) => b.toString(16).padStart(2, "0")).join("");
      }
    }
  };
  await walk("");
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

Deno.test("cli migrate again from a client still configured for the old relay: nothing copied over the live new one, its configuration points there", async () => {
  const dir = await Deno.makeTempDir({ prefix: "escale-migrate-again-" });
  try {
    for (const d of ["A", "B", "old-relay"]) await Deno.mkdir(`${dir}/${d}`);
    for (const c of ["A", "B"]) {
      await Deno.writeTextFile(
        `${dir}/${c}.conf`,
        `[photos]\n# mine\nclient = ${c}\nlocal path = ${dir}/${c}\nrelay path = ${dir}/old-relay\n`,
      );
    }
    await Deno.writeTextFile(`${dir}/A/a.txt`, "from A");
    for (const c of ["A", "B", "A"]) assertEquals((await round(dir, c)).code, 0);
    // A publishes a change that B has not taken: the migration moves that commit.
    await Deno.writeTextFile(`${dir}/A/late.txt`, "published before the move");
    assertEquals((await round(dir, "A")).code, 0);
    const m = await escale(["migrate", "-c", `${dir}/A.conf`, `${dir}/new-relay`]);
    assertEquals(m.code, 0, m.stderr);
    // B's machine gets a second configuration naming the new relay; the old one stays.
    const bText = await Deno.readTextFile(`${dir}/B.conf`);
    await Deno.writeTextFile(`${dir}/B-old.conf`, bText);
    await Deno.writeTextFile(`${dir}/B.conf`, bText.replace("old-relay", "new-relay"));
    // On the new relay, B takes the change and A releases it: its commit is gone from there,
    // and B's record there is newer than the one on the old relay.
    assertEquals((await round(dir, "B")).down, ["late.txt"]);
    for (const c of ["A", "B"]) assertEquals((await round(dir, c)).code, 0);
    const live = await snapshot(`${dir}/new-relay`);
    assertEquals(Object.keys(live).filter((k) => k.startsWith("commits/")), []);

    const again = await escale(["migrate", "-c", `${dir}/B-old.conf`, `${dir}/new-relay`]);
    assertEquals(again.code, 0, again.stderr);
    assertEquals(
      await snapshot(`${dir}/new-relay`),
      live,
      "the old relay was copied over the new one",
    );
    assert(
      again.stdout.includes("had already moved") && again.stdout.includes("nothing copied"),
      again.stdout,
    );
    const text = await Deno.readTextFile(`${dir}/B-old.conf`);
    assert(text.includes("# mine") && text.includes(`${dir}/new-relay`), text);
    assert(!text.includes("old-relay"), text);
    for (const c of ["B-old", "A"]) {
      const r = await round(dir, c);
      assertEquals(r.code, 0, r.stderr);
      assertEquals(r.down, [], `${c} downloaded again`);
    }
    assertEquals(await readTree(`${dir}/A`), await readTree(`${dir}/B`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli migrate: file to FTP (ProFTPD), the password to the credential file", async () => {
  const ftp = await startFtpServer({ password: "ftp-Dest-7734", tls: false });
  try {
    const pw = await Deno.makeTempFile();
    await Deno.writeTextFile(pw, ftp.password + "\n");
    const url = `ftp://${ftp.host}:${ftp.port}/relay-dest`;
    await scenario(
      "to-ftp",
      (dir) => `relay path = ${dir}/old-relay\n`,
      () => [url, "--user", ftp.user, "--password-file", pw],
      () => `host address = ${url}\nuser = ${ftp.user}\npassword = ${ftp.password}\n`,
      url,
      ftp.password,
    );
  } finally {
    await ftp.stop();
  }
});

Deno.test("cli migrate: an encrypted relay moves without its key, and checks with it there", async () => {
  const dir = await Deno.makeTempDir({ prefix: "escale-migrate-enc-" });
  try {
    for (const d of ["A", "B", "old-relay"]) await Deno.mkdir(`${dir}/${d}`);
    assertEquals((await escale(["ctl", "keygen", `${dir}/relay.key`])).code, 0);
    for (const c of ["A", "B"]) {
      await Deno.writeTextFile(
        `${dir}/${c}.conf`,
        `[photos]\nclient = ${c}\nlocal path = ${dir}/${c}\nrelay path = ${dir}/old-relay\npassphrase = ${dir}/relay.key\n`,
      );
    }
    await Deno.writeTextFile(`${dir}/A/plan.txt`, "Operation Bluebird");
    for (const c of ["A", "B", "A"]) assertEquals((await round(dir, c)).code, 0);
    // A change B has not taken yet: its commit and data object move, encrypted.
    await Deno.writeTextFile(`${dir}/A/late.txt`, "Operation Redwing");
    assertEquals((await round(dir, "A")).code, 0);
    const before = await snapshot(`${dir}/old-relay`);
    assert(Object.keys(before).some((k) => k.startsWith("data/")), JSON.stringify(before));

    // The machine that moves the relay does not hold the key.
    await Deno.rename(`${dir}/relay.key`, `${dir}/elsewhere.key`);
    const m = await escale(["migrate", "-c", `${dir}/A.conf`, `${dir}/new-relay`]);
    assertEquals(m.code, 0, m.stderr + m.stdout);
    assertEquals(await snapshot(`${dir}/new-relay`), before, "not copied as stored");
    await Deno.rename(`${dir}/elsewhere.key`, `${dir}/relay.key`);

    const check = await escale(["check", "--read-data", "-c", `${dir}/A.conf`]);
    assertEquals(check.code, 0, check.stdout + check.stderr);
    assert(check.stdout.includes("1 files read and verified"), check.stdout);
    const bText = await Deno.readTextFile(`${dir}/B.conf`);
    await Deno.writeTextFile(`${dir}/B.conf`, bText.replace("old-relay", "new-relay"));
    assertEquals((await round(dir, "B")).down, ["late.txt"]);
    assertEquals(await readTree(`${dir}/A`), await readTree(`${dir}/B`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli migrate: a destination that stores other bytes than it was sent fails in one line, the old relay untouched", async () => {
  const dir = await Deno.makeTempDir({ prefix: "escale-migrate-flip-" });
  try {
    for (const d of ["A", "old-relay"]) await Deno.mkdir(`${dir}/${d}`);
    await Deno.writeTextFile(
      `${dir}/A.conf`,
      `[photos]\nclient = A\nlocal path = ${dir}/A\nrelay path = ${dir}/old-relay\n`,
    );
    await Deno.writeTextFile(`${dir}/A/a.txt`, "from A");
    // No puller has taken them: the commits and their data objects stay on the relay.
    assertEquals((await round(dir, "A")).code, 0);
    await Deno.writeTextFile(`${dir}/A/b.txt`, "from A, second");
    assertEquals((await round(dir, "A")).code, 0);
    const before = await snapshot(`${dir}/old-relay`);
    const conf = await Deno.readTextFile(`${dir}/A.conf`);

    // The first data object written to the destination is stored with a byte changed.
    const m = await escale(["migrate", "-c", `${dir}/A.conf`, `${dir}/new-relay`], {
      ESCALE_FAULTS: "write:flip:1:^data/",
    });
    assertEquals(m.code, 6, m.stderr + m.stdout);
    const lines = m.stderr.trim().split("\n");
    assertEquals(lines.length, 1, m.stderr);
    assert(lines[0].includes("does not read back as it was written"), m.stderr);
    assertEquals(await snapshot(`${dir}/old-relay`), before);
    assert(!before["moved.json"]);
    assertEquals(await Deno.readTextFile(`${dir}/A.conf`), conf);
    assertEquals(await Deno.stat(`${dir}/new-relay/escale.json`).catch(() => null), null);
    // Clients go on with the old relay.
    await Deno.writeTextFile(`${dir}/A/c.txt`, "after the failed move");
    assertEquals((await round(dir, "A")).code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
