/**
 * Checks of the WAN proxy itself, printed before the benchmark's results so that every run shows
 * the link it measured through: curl (not our code) uploads then downloads a bulk file through
 * the proxy to the Apache test server, and makes a few tiny requests on one connection. The bulk
 * rate should come close to the profile's rate (less the slow start), the first tiny request
 * should cost two round trips (connect + request) and each later one a single round trip.
 */
import { bytesPerSecond, type LinkProfile } from "./wan_link.ts";
import { INITIAL_WINDOW } from "./wan_flow.ts";
import { WanProxy } from "./wan_proxy.ts";
import { startWebDavServer } from "../tests/servers/webdav_server.ts";

export interface ProxyCheck {
  profile: string;
  bulkBytes: number;
  /** seconds and payload rate (MB/s) of curl's whole transfer, each way */
  upSeconds: number;
  downSeconds: number;
  upMBps: number;
  downMBps: number;
  /** the configured rate, MB/s */
  linkMBps: number;
  /** curl's time to first byte of each tiny request on one connection, in ms */
  tinyMs: number[];
  /** the same without the proxy: Apache's own time (it checks a bcrypt password per request) */
  directMs: number[];
}

/**
 * What a download of `bytes` should take through the emulated link: connect (1 RTT), request
 * and first byte (1 RTT), slow start from the initial window doubling per RTT until the window
 * fills the link (`rampBytes` in `rampSeconds`, both RTTs included), then the rest at the rate.
 */
export function expectedBulk(
  bytes: number,
  p: LinkProfile,
): { seconds: number; rampBytes: number; rampSeconds: number } {
  const rtt = p.rttMs / 1000;
  const bdp = bytesPerSecond(p) * rtt;
  let t = 2 * rtt;
  let left = bytes;
  for (let w = INITIAL_WINDOW; w < bdp && left > w; w *= 2) {
    left -= w;
    t += rtt;
  }
  return { seconds: t + left / bytesPerSecond(p), rampBytes: bytes - left, rampSeconds: t };
}

async function curl(args: string[]): Promise<string> {
  const out = await new Deno.Command("curl", {
    args: ["-s", "-S", "--fail", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`curl failed: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

export async function checkProxy(profile: LinkProfile): Promise<ProxyCheck> {
  const dav = await startWebDavServer();
  const proxy = new WanProxy(profile);
  const dir = await Deno.makeTempDir({ prefix: "escale-wancheck-" });
  try {
    const url = new URL(dav.url);
    const port = proxy.listen({
      kind: "http",
      port: 0,
      to: { hostname: url.hostname, port: Number(url.port) },
    });
    const base = `http://127.0.0.1:${port}${url.pathname}`;
    // Credentials through a netrc file, never in curl's arguments.
    const netrc = `${dir}/netrc`;
    const line = `machine 127.0.0.1 login ${dav.user} password ${dav.password}\n`;
    await Deno.writeTextFile(netrc, line, { mode: 0o600 });
    // About 2.5 s of transfer at the profile's rate.
    const bulkBytes = Math.round(bytesPerSecond(profile) * 2.5 / 1048576) * 1048576;
    const bulk = new Uint8Array(bulkBytes);
    for (let i = 0; i < bulk.length; i += 65536) {
      crypto.getRandomValues(bulk.subarray(i, i + 65536));
    }
    await Deno.writeFile(`${dir}/bulk.bin`, bulk);
    await Deno.writeTextFile(`${dir}/tiny.txt`, "x");
    const auth = ["--netrc-file", netrc];
    const up = await curl([
      ...auth,
      "-o",
      "/dev/null",
      "-w",
      "%{time_total}",
      "-T",
      `${dir}/bulk.bin`,
      `${base}bulk.bin`,
    ]);
    const down = await curl([...auth, "-o", "/dev/null", "-w", "%{time_total}", `${base}bulk.bin`]);
    await curl([...auth, "-o", "/dev/null", "-T", `${dir}/tiny.txt`, `${base}tiny.txt`]);
    const tinyArgs = (b: string) => [
      ...auth,
      "-w",
      "%{time_starttransfer}\\n",
      ...Array(4).fill(["-o", "/dev/null"]).flat(),
      ...Array(4).fill(`${b}tiny.txt`),
    ];
    const tiny = await curl(tinyArgs(base));
    const direct = await curl(tinyArgs(dav.url));
    const mb = (s: number) => bulkBytes / 1e6 / s;
    const ms = (out: string) => out.trim().split("\n").map((x) => Math.round(Number(x) * 1000));
    return {
      profile: profile.name,
      bulkBytes,
      upSeconds: Number(up),
      downSeconds: Number(down),
      upMBps: mb(Number(up)),
      downMBps: mb(Number(down)),
      linkMBps: bytesPerSecond(profile) / 1e6,
      tinyMs: ms(tiny),
      directMs: ms(direct),
    };
  } finally {
    proxy.stop();
    await dav.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

/** The check as markdown lines, with what each figure should be. */
export function describeCheck(c: ProxyCheck, profile: LinkProfile): string {
  const pct = (x: number) => `${Math.round(100 * x / c.linkMBps)}%`;
  const mib = c.bulkBytes / 1048576;
  const expected = expectedBulk(c.bulkBytes, profile);
  // The rate once the window is open: what the link itself delivers.
  const steady = (c.bulkBytes - expected.rampBytes) / 1e6 / (c.downSeconds - expected.rampSeconds);
  return [
    `Proxy check, profile \`${c.profile}\` (RTT ${profile.rttMs} ms, ${profile.mbit} Mbit/s = ${c.linkMBps} MB/s each way), curl against Apache through the proxy:`,
    "",
    `- bulk ${mib} MiB up (PUT): ${c.upSeconds.toFixed(2)} s, ${c.upMBps.toFixed(2)} MB/s (${
      pct(c.upMBps)
    } of the link, connect and slow start included); down (GET): ${c.downSeconds.toFixed(2)} s, ${
      c.downMBps.toFixed(2)
    } MB/s (${pct(c.downMBps)}); the model expects ${
      expected.seconds.toFixed(2)
    } s for the GET (connect, request, slow start from ${INITIAL_WINDOW} bytes, then the rate), ` +
    `so the GET ran at ${steady.toFixed(2)} MB/s (${
      pct(steady)
    }) once the window was open; curl's PUT adds a round trip for \`Expect: 100-continue\``,
    `- tiny GETs on one connection, time to first byte: ${c.tinyMs.join(", ")} ms (expected: ${
      2 * profile.rttMs
    } ms for the first, connect + request; ${profile.rttMs} ms for each later one; plus Apache's own time, without the proxy: ${
      c.directMs.join(", ")
    } ms)`,
  ].join("\n");
}
