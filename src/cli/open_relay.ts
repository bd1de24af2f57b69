import type { RelaySettings } from "../config/settings.ts";
import { ConfigError } from "../errors/errors.ts";
import { FileRelay } from "../relay/file_relay.ts";
import type { Relay } from "../relay/relay.ts";

/** A backend as built, before `open()` has checked that it can be reached. */
export interface UnopenedRelay extends Relay {
  open(): Promise<unknown>;
}

/**
 * Builds the backend a section's relay settings describe, and checks it can be reached. Network
 * backends are loaded on demand: their modules (XML parser, TLS, signing) cost start-up time to
 * every run that does not use them.
 */
export async function openRelay(s: RelaySettings): Promise<Relay> {
  const relay = await relayBackend(s);
  try {
    await relay.open();
  } catch (e) {
    await relay.close().catch(() => {});
    throw e;
  }
  return relay;
}

/** The backend for these settings, not opened yet: callers that retry `open()` reuse it. */
export async function relayBackend(s: RelaySettings): Promise<UnopenedRelay> {
  const timeoutMs = s.timeoutSec * 1000;
  switch (s.protocol) {
    case "file":
      return new FileRelay(s.directory);
    case "webdav": {
      const port = s.port ? `:${s.port}` : "";
      const dir = s.directory.startsWith("/") ? s.directory : `/${s.directory}`;
      const { WebDavRelay } = await import("../relay/webdav/webdav_relay.ts");
      return new WebDavRelay({
        url: `${s.scheme ?? "https"}://${s.host}${port}${dir.endsWith("/") ? dir : dir + "/"}`,
        user: s.user,
        password: s.password,
        caFile: s.caFile,
        verifySsl: s.verifySsl,
        certFile: s.certFile,
        keyFile: s.keyFile,
        timeoutMs,
      });
    }
    case "s3": {
      if (!s.bucket) {
        throw new ConfigError(
          "protocol s3 needs a bucket ('bucket = …' or host address s3://bucket/prefix)",
        );
      }
      if (!s.user || !s.password) {
        throw new ConfigError(
          "protocol s3 needs credentials: 'access key id' and 'secret access key' (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
        );
      }
      const region = s.region ?? "us-east-1";
      const { S3Relay } = await import("../relay/s3/s3_relay.ts");
      return new S3Relay({
        endpoint: s.endpoint ?? `https://s3.${region}.amazonaws.com`,
        region,
        bucket: s.bucket,
        prefix: s.directory,
        pathStyle: s.pathStyle ?? s.endpoint !== undefined,
        accessKeyId: s.user,
        secretAccessKey: s.password,
        sessionToken: s.sessionToken,
        caFile: s.caFile,
        verifySsl: s.verifySsl,
        timeoutMs,
      });
    }
    case "ftp":
    case "ftps": {
      const { FtpRelay } = await import("../relay/ftp/ftp_relay.ts");
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
        timeoutMs,
      });
    }
    case "rclone": {
      const { RcloneRelay } = await import("../relay/rclone/rclone_relay.ts");
      return new RcloneRelay({
        binary: s.rcloneBinary,
        remote: s.rcloneRemote!,
        directory: s.directory,
        configFile: s.rcloneConfig,
        timeoutMs,
      });
    }
  }
}
