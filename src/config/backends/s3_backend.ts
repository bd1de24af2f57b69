import { ConfigError } from "../../errors/errors.ts";
import { NONE, o } from "../option_spec.ts";
import { bool, secret, string } from "../value_types.ts";
import type { Backend } from "./backend.ts";
import {
  type BackendSettings,
  configError,
  credentials,
  joinRemote,
  tlsSettings,
} from "./relay_input.ts";

const DEFAULT_REGION = "us-east-1";

/** Amazon S3 or any S3-compatible service. */
export const s3Backend: Backend = {
  id: "s3",
  protocols: ["s3"],
  schemes: ["s3", "http", "https"],
  implied: { s3: "s3" },
  // deno-fmt-ignore
  options: [
    o("bucket", [], string, NONE, "S3 bucket (or s3://bucket in 'host address')."),
    o("region", [], string, DEFAULT_REGION, "S3 region (or AWS_REGION / AWS_DEFAULT_REGION)."),
    o("endpoint", [], string, NONE, "S3 endpoint URL for non-AWS services."),
    o("path style", [], bool, NONE, "S3 path-style URLs; default: yes with a custom endpoint."),
    o("access key id", [], string, NONE, "S3 access key id (else 'user', else AWS_ACCESS_KEY_ID)."),
    o("secret access key", [], secret, NONE, "S3 secret key (else 'password', else AWS_SECRET_ACCESS_KEY).", { secret: true }),
  ],
  setup: {
    label: "S3 bucket",
    hint: "AWS or any S3-compatible service",
    address: "S3 bucket (s3://bucket[/prefix], or https://endpoint/bucket[/prefix])",
    login: "keys",
    loginKeys: { user: "access key id", password: "secret access key" },
    addressOptions: ["bucket", "endpoint"],
  },
  resolve(input, { addr, addrLine }) {
    let bucket: string | undefined;
    let endpoint: string | undefined;
    let prefix = "";
    const bucketS = input.get<string>("bucket");
    const splitBucket = (path: string) => {
      const segs = path.split("/").filter((s) => s !== "");
      if (!bucketS && segs.length > 0) bucket = segs.shift();
      prefix = segs.join("/");
    };
    if (addr?.kind === "url" && addr.scheme === "s3") {
      bucket = addr.host || undefined;
      prefix = addr.path;
    } else if (addr?.kind === "url") {
      endpoint = `${addr.scheme}://${addr.host}${addr.port ? `:${addr.port}` : ""}`;
      splitBucket(addr.path);
    } else if (addr?.kind === "bare") splitBucket(addr.text);
    else if (addr?.kind === "path") {
      throw configError(input, "'host address' is a local path, but the protocol is s3", addrLine);
    }
    if (bucketS) {
      if (bucket !== undefined && bucket !== bucketS.value) {
        throw configError(
          input,
          `'${bucketS.name}' ${bucketS.value} conflicts with bucket ${bucket} in 'host address'`,
          bucketS.line,
        );
      }
      bucket = bucketS.value;
    }
    if (!bucket) {
      throw configError(
        input,
        "an s3 relay needs a bucket: set 'bucket' or host address = s3://bucket",
        addr ? addrLine : undefined,
      );
    }
    const endpointS = input.get<string>("endpoint");
    if (endpointS) {
      const m = /^(https?):\/\/[^/\s]+$/.exec(endpointS.value.replace(/\/+$/, ""));
      if (!m) {
        throw configError(
          input,
          `'${endpointS.name}' must be an http:// or https:// URL`,
          endpointS.line,
        );
      }
      endpoint = endpointS.value.replace(/\/+$/, "");
    }
    const region = input.get<string>("region")?.value || input.env("AWS_REGION") ||
      input.env("AWS_DEFAULT_REGION") || input.value<string>("region")!;
    const keyS = input.get<string>("access key id");
    const secretS = input.get<string>("secret access key");
    const userS = input.get<string>("user");
    const configured = credentials(input, keyS?.value ?? userS?.value);
    let user = configured.user;
    let password = secretS?.value ?? configured.password;
    let sessionToken: string | undefined;
    if (user === undefined && password === undefined) {
      user = input.env("AWS_ACCESS_KEY_ID");
      password = input.env("AWS_SECRET_ACCESS_KEY");
      // A session token belongs to the key pair it came with, so only with keys from the env.
      sessionToken = input.env("AWS_SESSION_TOKEN") || undefined;
    }
    if (!user || !password) {
      throw configError(
        input,
        "an s3 relay needs credentials: set 'access key id' and 'secret access key', or " +
          "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment",
      );
    }
    const directory = joinRemote(prefix, input.get<string>("host directory")?.value ?? "")
      .replace(/^\/+|\/+$/g, "");
    const out: BackendSettings = {
      protocol: "s3",
      directory,
      bucket,
      region,
      user,
      password,
      pathStyle: input.get<boolean>("path style")?.value ?? endpoint !== undefined,
      ...tlsSettings(input),
    };
    if (endpoint) out.endpoint = endpoint;
    if (sessionToken) out.sessionToken = sessionToken;
    return out;
  },
  async open(s) {
    // Settings built by other means than the loader (tests, init's answers) are checked too.
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
    const region = s.region ?? DEFAULT_REGION;
    const { S3Relay } = await import("../../relay/s3/s3_relay.ts");
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
      timeoutMs: s.timeoutSec * 1000,
      partRetries: s.maxRetries,
    });
  },
  describe: (s) => `s3://${s.bucket}/${s.directory}`,
  editable: (s) => ({
    address: s.endpoint ? `${s.endpoint}/${s.bucket}` : `s3://${s.bucket}`,
    relayPath: s.directory,
  }),
  optionValues(s) {
    const out: [string, string][] = [];
    if (s.region) out.push(["region", s.region]);
    if (s.pathStyle !== undefined) out.push(["path style", s.pathStyle ? "yes" : "no"]);
    return out;
  },
};
