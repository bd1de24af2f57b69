import { backendFor, protocolOfScheme, SCHEMES } from "./backends/registry.ts";
import { isLocalAbsolute, type RelayInput } from "./backends/relay_input.ts";
import { parseAddress, type ParsedAddress } from "./address.ts";
import { ConfigError } from "../errors/errors.ts";
import type { RelaySettings } from "./settings.ts";
import { ValueProblem } from "./value_problem.ts";

export type { RelayInput, Setting } from "./backends/relay_input.ts";

/**
 * Turns the relay options of one section into RelaySettings: which backend (from `protocol`, else
 * from the address), then that backend's own resolution (backends/), checking what can be
 * checked without connecting.
 */
export function resolveRelay(input: RelayInput): RelaySettings {
  const { file, sectionLine } = input;
  const fail = (message: string, line: number): never => {
    throw new ConfigError(message, { file, line });
  };
  const protoS = input.get<string>("protocol");
  const addrS = input.get<string>("host address");
  const dirS = input.get<string>("host directory");
  let addr: ParsedAddress | undefined;
  if (addrS && addrS.value !== "") {
    try {
      addr = parseAddress(addrS.value);
    } catch (e) {
      if (e instanceof ValueProblem) fail(`'${addrS.name}' ${e.message}`, addrS.line);
      throw e;
    }
  }
  const addrLine = addrS?.line ?? sectionLine;

  let protocol: string;
  if (protoS) protocol = protoS.value;
  else if (addr?.kind === "url") {
    const p = protocolOfScheme(addr.scheme);
    if (!p) {
      fail(
        `'${addrS!.name}' has an unknown scheme '${addr.scheme}://' ` +
          `(use ${SCHEMES.join(", ")}, or set 'protocol')`,
        addrLine,
      );
    }
    protocol = p!;
  } else if (addr?.kind === "path") protocol = "file";
  else if (addr?.kind === "bare") {
    return fail(
      `cannot tell the protocol from '${addrS!.name}'; write it as protocol://server or set ` +
        "'protocol'",
      addrLine,
    );
  } else if (dirS && isLocalAbsolute(dirS.value)) protocol = "file";
  else {
    return fail(
      "no relay is configured: set 'host address' (protocol://server/path) or " +
        "'relay path' (a local or mounted folder)",
      sectionLine,
    );
  }
  const backend = backendFor(protocol);
  if (!backend) return fail(`'protocol' is not a known protocol: ${protocol}`, protoS!.line);
  if (addr?.kind === "url" && !backend.schemes.includes(addr.scheme)) {
    fail(`'${addrS!.name}' uses ${addr.scheme}:// but the protocol is ${protocol}`, addrLine);
  }
  return {
    ...backend.resolve(input, { protocol, addr, addrLine }),
    timeoutSec: input.value<number>("timeout")!,
    maxRetries: input.value<number>("max retries")!,
  };
}
