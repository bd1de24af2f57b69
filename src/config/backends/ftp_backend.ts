import { bool } from "../value_types.ts";
import { o } from "../option_spec.ts";
import type { RelaySettings } from "../settings.ts";
import type { Backend } from "./backend.ts";
import { serverResolver, withPort } from "./server_address.ts";

const FTP_PORT = 21;

async function openFtp(s: RelaySettings) {
  const { FtpRelay } = await import("../../relay/ftp/ftp_relay.ts");
  return new FtpRelay({
    host: s.host!,
    port: s.port,
    user: s.user,
    password: s.password,
    directory: s.directory,
    tls: s.protocol === "ftps" ? "explicit" : "none",
    caFile: s.caFile,
    verifySsl: s.verifySsl,
    clearDataChannel: s.ftpsClearData,
    timeoutMs: s.timeoutSec * 1000,
  });
}

const describe = (s: RelaySettings) => `${s.protocol}://${s.host}:${s.port}/${s.directory}`;
const editable = (s: RelaySettings) => ({
  address: withPort(s.host ?? "", s.port, FTP_PORT),
  relayPath: s.directory,
});

/** FTP, in the clear. */
export const ftpBackend: Backend = {
  id: "ftp",
  protocols: ["ftp"],
  schemes: ["ftp"],
  implied: { ftp: "ftp" },
  options: [],
  setup: {
    label: "FTP server",
    address: "FTP server (host[:port], or ftp://host[:port]/folder)",
    login: "user",
  },
  resolve: serverResolver("ftp", () => FTP_PORT),
  open: openFtp,
  describe,
  editable,
  optionValues: () => [],
};

/** FTP over explicit TLS (AUTH TLS). */
export const ftpsBackend: Backend = {
  id: "ftps",
  protocols: ["ftps"],
  schemes: ["ftp", "ftps"],
  implied: { ftps: "ftps" },
  // deno-fmt-ignore
  options: [
    o("ftps clear data", [], bool, "no", "FTPS: leave the data channel unencrypted (for servers that demand TLS session reuse)."),
  ],
  setup: {
    label: "FTPS server",
    hint: "FTP over TLS",
    address: "FTPS server (host[:port], or ftps://host[:port]/folder)",
    login: "user",
  },
  resolve(input, chosen) {
    const out = serverResolver("ftps", () => FTP_PORT)(input, chosen);
    out.ftpsClearData = input.value<boolean>("ftps clear data");
    return out;
  },
  open: openFtp,
  describe,
  editable,
  optionValues: (s) => s.ftpsClearData ? [["ftps clear data", "yes"]] : [],
};
