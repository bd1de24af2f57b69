import { resolve } from "node:path";
import { FileRelay } from "../../relay/file_relay.ts";
import { expandPath } from "../value_types.ts";
import type { Backend } from "./backend.ts";
import { configError, isLocalAbsolute } from "./relay_input.ts";

/** A local or mounted folder. Its module is small, so it is not loaded on demand. */
export const fileBackend: Backend = {
  id: "file",
  protocols: ["file"],
  schemes: ["file"],
  implied: { file: "file" },
  options: [],
  setup: {
    label: "Local or mounted folder",
    hint: "USB disk, NAS share, synced folder",
    login: "none",
  },
  resolve(input, { addr, addrLine }) {
    const ctx = input.ctxAt(addrLine);
    const dirS = input.get<string>("host directory");
    let base: string | undefined;
    if (addr?.kind === "url") {
      if (addr.host !== "" && addr.host !== "localhost") {
        throw configError(input, "a file:// address cannot name another host", addrLine);
      }
      base = addr.path === "" ? undefined : addr.path;
    } else if (addr?.kind === "path") base = expandPath(addr.path, ctx);
    else if (addr?.kind === "bare" && addr.text !== "localhost") base = expandPath(addr.text, ctx);

    let folder: string;
    let line: number;
    const dir = dirS?.value.trim() ?? "";
    if (dirS && dir !== "") {
      // Escale made an absolute directory relative to the working folder; absolute stays absolute.
      folder = isLocalAbsolute(dir) || !base ? expandPath(dir, ctx) : resolve(base, dir);
      line = dirS.line;
    } else if (base) {
      folder = resolve(base);
      line = addrLine;
    } else {
      throw configError(input, "a file relay needs a folder: set 'relay path = /some/folder'");
    }
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(folder);
    } catch {
      throw configError(input, `relay folder ${folder} does not exist`, line);
    }
    if (!info.isDirectory) throw configError(input, `relay folder ${folder} is not a folder`, line);
    return { protocol: "file", directory: folder };
  },
  open: (s) => Promise.resolve(new FileRelay(s.directory)),
  describe: (s) => s.directory,
  editable: (s) => ({ address: s.directory }),
  optionValues: () => [],
};
