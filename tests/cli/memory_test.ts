// Memory follows the settings, not the size of what is sent (README, "Memory and threads"): a
// real escale process pushes, then pulls, one 256 MiB file through S3 (moto) and WebDAV
// (Apache), and each round's peak RSS stays under BOUND_MIB.
import { randomFillSync } from "node:crypto";
import { assert, assertEquals } from "../assert.ts";
import { conf, escaleWithPeak } from "./cli_helpers.ts";
import { startS3Server } from "../servers/s3_server.ts";
import { startWebDavServer } from "../servers/webdav_server.ts";

const MIB = 1024 * 1024;
const FILE_MIB = 256;

/**
 * What a round may hold with the default settings, plus a margin: about 75 MiB for an idle
 * round (runtime, SQLite, the program), 24 MiB of data objects fetched ahead (or a few 256 KiB
 * chunks per upload), 20 MiB for the hashing thread, and up to 64 MiB of dead buffers that V8
 * frees only once that much has piled up; measured peaks are 150-160 MiB up and 170-185 MiB
 * down. An S3 upload that held its 8 MiB parts in memory for fetch peaked at 293-313 MiB.
 */
const BOUND_MIB = 230;

async function roundTrip(name: string, dir: string, relay: string): Promise<void> {
  const b = `${dir}/${name}-B`;
  await Deno.mkdir(b);
  await conf(
    `${dir}/${name}-A.conf`,
    `[r]\nclient = A\nlocal path = ${dir}/A\nmode = upload\n${relay}`,
  );
  await conf(
    `${dir}/${name}-B.conf`,
    `[r]\nclient = B\nlocal path = ${b}\nmode = download\n${relay}`,
  );
  try {
    for (const [round, c] of [["registration", "B"], ["push", "A"], ["pull", "B"]]) {
      const r = await escaleWithPeak(["run", "--once", "-c", `${dir}/${name}-${c}.conf`]);
      assertEquals(r.code, 0, `${name} ${round}: ${r.stderr}`);
      const mib = Math.round(r.kib / 1024);
      console.log(`${name} ${round}: peak RSS ${mib} MiB`);
      assert(mib < BOUND_MIB, `${name} ${round}: peak RSS ${mib} MiB for a ${FILE_MIB} MiB file`);
    }
    // The content was checked against its hash by the pull; the size says it all arrived.
    assertEquals((await Deno.stat(`${b}/big.bin`)).size, FILE_MIB * MIB);
  } finally {
    await Deno.remove(b, { recursive: true });
  }
}

Deno.test(`cli: a ${FILE_MIB} MiB file goes up and down S3 and WebDAV in bounded memory`, async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "escale-memory-" });
  const s3 = await startS3Server();
  const dav = await startWebDavServer();
  try {
    await Deno.mkdir(`${dir}/A`);
    // Random bytes: no data object repeats another.
    const f = await Deno.open(`${dir}/A/big.bin`, { write: true, create: true });
    const block = new Uint8Array(MIB);
    for (let i = 0; i < FILE_MIB; i++) {
      randomFillSync(block);
      await f.write(block);
    }
    f.close();
    await t.step("S3 (moto)", () =>
      roundTrip(
        "s3",
        dir,
        `protocol = s3\nendpoint = ${s3.endpoint}\nbucket = ${s3.bucket}\nregion = ${s3.region}\nhost directory = memory\naccess key id = ${s3.accessKeyId}\nsecret access key = ${s3.secretAccessKey}\n`,
      ));
    await t.step("WebDAV (Apache)", () =>
      roundTrip(
        "webdav",
        dir,
        `host address = ${dav.url}memory\nuser = ${dav.user}\npassword = ${dav.password}\n`,
      ));
  } finally {
    await dav.stop();
    await s3.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
