import { dirname, resolve } from "node:path";
import { ConfigError } from "../errors/errors.ts";
import { parseAddress, type ParsedAddress, redactAddress } from "./address.ts";
import { rcloneCredentialParams } from "../relay/rclone/rclone_remote.ts";
import { compilePattern } from "./filters.ts";
import { type IniDocument, type IniEntry, type IniSection, parseIni } from "./ini_parser.ts";
import { interpolate, InterpolationProblem } from "./interpolate.ts";
import { isDownloadOnly, isUploadOnly } from "./modes.ts";
import { lookupOption, optionDefault, optionNames, type OptionSpec } from "./options.ts";
import { type RelayInput, resolveRelay, type Setting } from "./resolve_relay.ts";
import { hostnameOr } from "../util/hostname.ts";
import { resolvePassphrase } from "./secrets.ts";
import type { SettingOverride } from "./setting_flags.ts";
import type {
  ConflictStrategy,
  FilterSettings,
  GlobalSettings,
  LoadedConfig,
  Mode,
  RelaySettings,
  SectionSettings,
} from "./settings.ts";
import { suggest } from "./suggest.ts";
import { expandPath, type ParseContext } from "./value_types.ts";
import { ValueProblem } from "./value_problem.ts";

/**
 * Reads one configuration file into LoadedConfig: parse (ini_parser), interpolate, map every key
 * to its option through the table, parse each value by its type, then resolve and check each
 * section (local folder, relay, mode, encryption, filters). Every problem is a ConfigError at the
 * `file:line` that causes it; warnings are returned, never printed.
 */

export interface LoadConfigOptions {
  /** only these sections (escale -r); an unknown name is an error */
  sections?: string[];
  /** environment for HOME and the AWS_* fallbacks (tests pass their own) */
  env?: Record<string, string | undefined>;
  /** host name for the default client name (tests pass their own) */
  hostname?: string;
  /**
   * Settings given as flags or environment variables (setting_flags.ts): they replace what the
   * file says for the same option, in every selected section, and are parsed and checked as
   * lines of the file are.
   */
  overrides?: SettingOverride[];
  /** without a file: the name of the one repository the overrides define (default "escale") */
  sectionName?: string;
  /** folder that relative paths of overrides start from; default the current folder */
  cwd?: string;
}

/**
 * Overrides are entries of the document whose line numbers start here, far above any line a
 * 1 MiB file can have; messages about them name their flag or variable instead of `file:line`.
 */
const OVERRIDE_LINE = 1_000_000_000;

/** What the configuration is called in messages when there is no file. */
const NO_FILE = "command line";

/** A configuration file is small; a bound keeps a wrong `-c` from reading a huge file. */
const MAX_CONFIG_BYTES = 1024 * 1024;

async function readConfigText(file: string): Promise<{ text: string; mode: number | null }> {
  let bytes: Uint8Array;
  let mode: number | null;
  try {
    const info = await Deno.stat(file);
    if (!info.isFile) throw new ConfigError(`configuration file ${file} is not a regular file`);
    if (info.size > MAX_CONFIG_BYTES) {
      throw new ConfigError(`configuration file ${file} is too large (${info.size} bytes)`);
    }
    mode = info.mode;
    bytes = await Deno.readFile(file);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    if (e instanceof Deno.errors.NotFound) {
      throw new ConfigError(`configuration file ${file} does not exist`);
    }
    const why = e instanceof Error ? e.message.replace(/,? ?\(os error \d+\)/, "") : String(e);
    throw new ConfigError(`cannot read configuration file ${file}: ${why}`);
  }
  try {
    return { text: new TextDecoder("utf-8", { fatal: true }).decode(bytes), mode };
  } catch {
    throw new ConfigError(`configuration file ${file} is not UTF-8 text`);
  }
}

/** The text of a configuration file, or null when there is none yet (`escale init`). */
export async function readConfigIfAny(file: string): Promise<string | null> {
  try {
    await Deno.stat(file);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
  }
  return (await readConfigText(file)).text;
}

/** What one key of the file turned into. */
interface Parsed extends Setting {
  spec: OptionSpec;
}

class Loader {
  readonly warnings = new Set<string>();
  readonly configDir: string;
  readonly home: string;

  readonly overrides: (SettingOverride & { spec: OptionSpec; entry: IniEntry })[];
  /** where relative paths of overrides start */
  readonly cwd: string;
  /** no file: the overrides are the whole configuration */
  readonly fileless: boolean;

  constructor(
    readonly doc: IniDocument,
    readonly file: string,
    readonly fileMode: number | null,
    readonly envOf: (name: string) => string | undefined,
    readonly hostname: string,
    configDir?: string,
    extra: { overrides?: SettingOverride[]; cwd?: string; fileless?: boolean } = {},
  ) {
    this.cwd = extra.cwd ?? Deno.cwd();
    this.fileless = extra.fileless ?? false;
    this.configDir = configDir ?? (this.fileless ? this.cwd : dirname(file));
    // Without HOME, `~` stays literal rather than pointing somewhere unexpected.
    this.home = envOf("HOME") || "~";
    this.overrides = (extra.overrides ?? []).map((o, i) => {
      const spec = lookupOption(o.key);
      if (!spec) throw new Error(`override of unknown option '${o.key}'`);
      // `key` is what messages call the setting: the flag or variable it came from.
      const entry = { key: o.source, rawKey: o.source, value: o.value, line: OVERRIDE_LINE + i };
      return { ...o, spec, entry };
    });
    for (const o of this.overrides) {
      if (o.spec.key === "host address" && o.source.startsWith("--")) this.checkFlagAddress(o);
    }
  }

  /**
   * A relay address given as a flag must not carry a password: every user of the machine can read
   * a command line (ps, /proc). The same address in a variable or a file is fine.
   */
  checkFlagAddress(o: SettingOverride): void {
    const seen = "and every user of this machine can read a command line";
    let addr: ParsedAddress;
    try {
      addr = parseAddress(o.value);
    } catch (e) {
      if (e instanceof ValueProblem) return; // reported where the address is read
      throw e;
    }
    if (addr.kind === "url" && addr.password) {
      throw new ConfigError(
        `'${o.source}' holds a password, ${seen}: give the password in ESCALE_PASSWORD or a ` +
          "file named by --password-file (or the whole address in ESCALE_RELAY)",
      );
    }
    const params = addr.kind === "bare" ? rcloneCredentialParams(addr.text) : [];
    if (params.length > 0) {
      throw new ConfigError(
        `'${o.source}' holds a credential (${params.join(", ")}), ${seen}: give the connection ` +
          "string in ESCALE_RELAY, or define the remote in an rclone configuration file " +
          "(--rclone-config)",
      );
    }
  }

  /** The flag or variable behind a line, when the line is an override's. */
  sourceAt(line: number | undefined): string | undefined {
    return line !== undefined && line >= OVERRIDE_LINE
      ? this.overrides[line - OVERRIDE_LINE]?.source
      : undefined;
  }

  warn(line: number | undefined, message: string): void {
    const source = this.sourceAt(line);
    this.warnings.add(
      source
        ? `${source}: ${message}`
        : line
        ? `${this.file}:${line}: ${message}`
        : this.fileless
        ? message
        : `${this.file}: ${message}`,
    );
  }

  ctxAt(line: number): ParseContext {
    // A relative path given on the command line is relative to where the command runs.
    const configDir = this.sourceAt(line) ? this.cwd : this.configDir;
    return { configDir, home: this.home, warn: (m) => this.warn(line, m) };
  }

  fail(message: string, line?: number): never {
    const source = this.sourceAt(line);
    if (source) {
      throw new ConfigError(message.startsWith(`'${source}'`) ? message : `${source}: ${message}`);
    }
    if (this.fileless) throw new ConfigError(message);
    throw new ConfigError(message, { file: this.file, line });
  }

  /** Re-places an error raised with this file's location (resolve_relay) at its override. */
  relocate(e: unknown): never {
    if (e instanceof ConfigError && e.where?.file === this.file) this.fail(e.detail, e.where.line);
    throw e;
  }

  /**
   * Maps the keys of one part of the file to options. Unknown keys only warn: a typo should not
   * stop a running setup, and the suggestion makes it easy to fix.
   */
  known(entries: Map<string, IniEntry>): Map<string, { spec: OptionSpec; entry: IniEntry }> {
    const out = new Map<string, { spec: OptionSpec; entry: IniEntry }>();
    for (const entry of entries.values()) {
      const spec = lookupOption(entry.key);
      if (!spec) {
        const hint = suggest(entry.key, optionNames());
        this.warn(
          entry.line,
          `unknown option '${entry.key}'` + (hint ? ` (did you mean '${hint}'?)` : ""),
        );
        continue;
      }
      const before = out.get(spec.key);
      if (before) {
        this.fail(
          `'${entry.key}' and '${before.entry.key}' (line ${before.entry.line}) are the same ` +
            `option '${spec.key}'; keep one`,
          entry.line,
        );
      }
      out.set(spec.key, { spec, entry });
    }
    return out;
  }

  parse(spec: OptionSpec, entry: IniEntry, lookup: (key: string) => string | undefined): Parsed {
    let raw: string;
    try {
      // A flag or variable is taken as given: `%` in a password from the environment is a `%`.
      raw = entry.line >= OVERRIDE_LINE ? entry.value : interpolate(entry.value, lookup);
    } catch (e) {
      if (!(e instanceof InterpolationProblem)) throw e;
      // A secret's text, even a reference name inside it, must not reach a message.
      this.fail(
        spec.secret
          ? `'${entry.key}' refers to a key that is not set`
          : `'${entry.key}': ${e.message}`,
        entry.line,
      );
    }
    if (spec.unused) this.warn(entry.line, `'${entry.key}' ${spec.unused}`);
    try {
      const value = spec.type.parse(raw, this.ctxAt(entry.line));
      return { spec, value, raw, name: entry.key, line: entry.line };
    } catch (e) {
      if (e instanceof ValueProblem) this.fail(`'${entry.key}' ${e.message}`, entry.line);
      throw e;
    }
  }

  globalSettings(): GlobalSettings {
    const lookup = (k: string) => this.doc.global.get(k)?.value;
    const values = new Map<string, Parsed>();
    const chosen = this.known(this.doc.global);
    for (const o of this.overrides) {
      if (o.spec.scope === "global") chosen.set(o.spec.key, o);
    }
    for (const [key, { spec, entry }] of chosen) {
      // Section options here are inherited, and parsed per section: their `%(…)s` may refer to
      // keys that only the section sets.
      if (spec.scope === "global" || key === "cache dir") {
        values.set(key, this.parse(spec, entry, lookup));
      }
      if (key === "cache dir") this.checkCacheDir(values.get(key)!);
    }
    const get = <T>(k: string) => values.get(k)?.value as T | undefined;
    const out: GlobalSettings = {
      logLevel: get<string>("log level") ?? optionDefault<string>("log level")!,
      logRotate: get<number>("log rotate") ?? optionDefault<number>("log rotate")!,
    };
    const logFile = get<string>("log file");
    if (logFile !== undefined) out.logFile = logFile;
    const keepAlive = get<number | null>("keep alive");
    // Escale read 0 as "no"; restarting in a tight loop is never what `0` meant.
    if (keepAlive) out.keepAlive = keepAlive;
    const cacheDir = get<string>("cache dir");
    if (cacheDir !== undefined) out.cacheDir = cacheDir;
    return out;
  }

  section(section: IniSection): SectionSettings {
    return this.build(section, this.values(section));
  }

  /** The options of one section (inherited global ones included), parsed; `skip` leaves some out. */
  values(section: IniSection, skip: ReadonlySet<string> = new Set()): Map<string, Parsed> {
    const lookup = (k: string) => section.entries.get(k)?.value ?? this.doc.global.get(k)?.value;
    const chosen = new Map<string, { spec: OptionSpec; entry: IniEntry }>();
    for (const [key, v] of this.known(this.doc.global)) {
      if (v.spec.scope === "section") chosen.set(key, v);
    }
    for (const [key, v] of this.known(section.entries)) {
      if (v.spec.scope === "global") {
        this.warn(
          v.entry.line,
          `'${v.entry.key}' is read only before the first section; ignored in [${section.name}]`,
        );
        continue;
      }
      chosen.set(key, v);
    }
    // A flag beats the file; it replaces the option whatever spelling the file used.
    for (const o of this.overrides) {
      if (o.spec.scope === "section") chosen.set(o.spec.key, o);
    }
    for (const o of this.overrides) {
      if (o.isFile && chosen.get(o.spec.key)?.entry === o.entry) this.checkSecretFile(o);
    }
    const values = new Map<string, Parsed>();
    for (const [key, { spec, entry }] of chosen) {
      if (!skip.has(key)) values.set(key, this.parse(spec, entry, lookup));
    }
    return values;
  }

  relayInput(section: IniSection, values: Map<string, Parsed>): RelayInput {
    return {
      file: this.file,
      sectionLine: section.line,
      get: <T>(k: string) => values.get(k) as Setting<T> | undefined,
      value: <T>(k: string) => (values.get(k)?.value as T | undefined) ?? optionDefault<T>(k),
      ctxAt: (line) => this.ctxAt(line),
      env: this.envOf,
    };
  }

  build(section: IniSection, values: Map<string, Parsed>): SectionSettings {
    const get = <T>(k: string) => values.get(k) as Setting<T> | undefined;
    // What the section says, else the option table's default.
    const val = <T>(k: string) => (values.get(k)?.value as T | undefined) ?? optionDefault<T>(k);
    const relayInput = this.relayInput(section, values);
    this.warnCleartextSecrets(values);

    const local = get<string>("local path");
    if (!local) {
      this.fail(
        this.fileless
          ? "no folder to synchronise: give --local DIR (or ESCALE_LOCAL)"
          : `[${section.name}] has no 'local path'`,
        section.line,
      );
    }
    this.checkFolder(local.value, "local path", local.line);

    const cache = get<string>("cache dir");
    if (cache) this.checkCacheDir(cache);

    if (this.fileless && !get("host address") && !get("host directory")) {
      this.fail("no relay: give --relay URL (or ESCALE_RELAY)");
    }
    let relay;
    try {
      relay = resolveRelay(relayInput);
    } catch (e) {
      this.relocate(e);
    }
    const mode = this.mode(values);
    const { encryption, passphrase } = this.encryption(values);
    const filters = this.filters(values);

    const clientS = get<string>("client name");
    const clientName = clientS?.value ??
      (this.hostname === "localhost" ? section.name : this.hostname);
    if (clientName === "" || [...clientName].some((c) => c < " " || c === "\x7f")) {
      this.fail(
        "the client name must be non-empty and free of control characters",
        clientS?.line ?? section.line,
      );
    }

    const where: Record<string, number> = {};
    const options: Record<string, unknown> = {};
    for (const [key, p] of values) {
      where[key] = p.line;
      if (p.spec.secret) continue;
      // `host address` may carry user:password@; the password must not travel further.
      options[key] = key === "host address" ? redactAddress(p.value as string) : p.value;
    }
    const out: SectionSettings = {
      name: section.name,
      file: this.file,
      line: section.line,
      clientName,
      localPath: local.value,
      mode,
      relay,
      encryption,
      lockTimeoutSec: val<number>("lock timeout")!,
      maxPageSize: val<number>("maxpagesize")!,
      chunkSize: val<number>("chunk size")!,
      // `refresh = no` parses to null (the default takes its place): Escale's "one pass and exit".
      refreshSec: val<number>("refresh")!,
      oneRound: values.get("refresh")?.value === null,
      modificationTime: val<boolean>("modification time")!,
      checksumCache: val<boolean>("checksum cache")!,
      conflict: val<ConflictStrategy>("conflict")!,
      propagateDeletions: val<boolean>("propagate deletions")!,
      deleteThreshold: val<number>("delete threshold")!,
      hiddenFiles: filters.hiddenFiles === true,
      verbosity: val<number>("verbosity")!,
      uploadMaxWaitSec: val<number>("upload max wait")!,
      filters,
      where,
      options,
    };
    if (passphrase) out.passphrase = passphrase;
    const optional = {
      pullerCount: val<number>("puller count"),
      pullerTimeoutSec: val<number | null>("puller timeout") ?? undefined,
      diskQuota: val<number>("disk quota"),
      transfers: val<number>("transfers"),
      maintainer: val<string>("maintainer"),
      cacheDir: val<string>("cache dir"),
    };
    for (const [k, v] of Object.entries(optional)) {
      if (v !== undefined) Object.assign(out, { [k]: v });
    }
    return out;
  }

  /** `--passphrase-file` and the like must name a readable file, never be the secret itself. */
  checkSecretFile(o: SettingOverride & { entry: IniEntry }): void {
    const path = expandPath(o.value, this.ctxAt(o.entry.line));
    let info: Deno.FileInfo | undefined;
    try {
      info = Deno.statSync(path);
    } catch {
      info = undefined;
    }
    if (!info?.isFile) this.fail(`${path} is not an existing file`, o.entry.line);
    o.entry.value = path;
  }

  checkFolder(path: string, key: string, line: number): void {
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(path);
    } catch {
      this.fail(`${key} ${path} does not exist`, line);
    }
    if (!info.isDirectory) this.fail(`${key} ${path} is not a folder`, line);
  }

  /** The state folder is created below `cache dir` on first use; what exists there must be one. */
  checkCacheDir(s: Setting): void {
    const path = s.value as string;
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      if (e instanceof Deno.errors.NotADirectory) {
        this.fail(`'${s.name}' ${path} is inside a file, not a folder`, s.line);
      }
      const why = e instanceof Error ? e.message.replace(/ \(os error \d+\).*$/, "") : String(e);
      this.fail(`'${s.name}' ${path} cannot be used: ${why}`, s.line);
    }
    if (!info.isDirectory) this.fail(`'${s.name}' ${path} is a file, not a folder`, s.line);
  }

  mode(values: Map<string, Parsed>): Mode {
    const modeS = values.get("mode");
    const push = values.get("push only");
    const pull = values.get("pull only");
    if (push?.value === true && pull?.value === true) {
      this.fail(
        `'${push.name}' and '${pull.name}' cannot both be yes`,
        Math.max(push.line, pull.line),
      );
    }
    const mode = (modeS?.value as Mode | undefined) ?? optionDefault<Mode>("mode")!;
    const only = push?.value === true ? push : pull?.value === true ? pull : undefined;
    if (!only) return mode;
    const upload = only === push;
    if (!modeS) return upload ? "upload" : "download";
    if (!(upload ? isUploadOnly(mode) : isDownloadOnly(mode))) {
      this.fail(`'${only.name} = yes' contradicts mode ${mode} (line ${modeS.line})`, only.line);
    }
    return mode;
  }

  encryption(values: Map<string, Parsed>): {
    encryption: "none" | "aead";
    passphrase?: { value: string; file?: string };
  } {
    const encS = values.get("encryption");
    const passS = values.get("passphrase");
    let passphrase = passS && passS.raw !== ""
      ? resolvePassphrase(passS.raw, this.ctxAt(passS.line))
      : undefined;
    // A passphrase alone turns encryption on: setting one and leaking plaintext would be worse.
    const encryption = (encS?.value as "none" | "aead" | undefined) ??
      (passphrase ? "aead" : "none");
    if (encryption === "aead" && !passphrase) {
      this.fail("encryption is on but no 'passphrase' (or 'key') is set", encS?.line);
    }
    if (encryption === "none" && passphrase && encS) {
      this.warn(encS.line, "encryption is off, so the passphrase is not used");
      passphrase = undefined;
    }
    return passphrase ? { encryption, passphrase } : { encryption };
  }

  filters(values: Map<string, Parsed>): FilterSettings {
    const list = (k: string) => {
      const s = values.get(k);
      const items = (s?.value as string[] | undefined) ?? [];
      if (s && k !== "file extension") {
        for (const item of items) {
          try {
            compilePattern(item);
          } catch (e) {
            if (e instanceof ConfigError) this.fail(`'${s.name}': ${e.message}`, s.line);
            throw e;
          }
        }
      }
      return items;
    };
    return {
      extensions: list("file extension"),
      include: list("include"),
      exclude: list("exclude"),
      includeDirs: list("include directory"),
      excludeDirs: list("exclude directory"),
      hiddenFiles: (values.get("hidden files")?.value as boolean | undefined) ??
        optionDefault<boolean>("hidden files")!,
    };
  }

  /** A literal secret in a file other users can read deserves a nudge, once per line. */
  warnCleartextSecrets(values: Map<string, Parsed>): void {
    if (this.fileMode === null || (this.fileMode & 0o077) === 0) return;
    for (const p of values.values()) {
      if (!p.spec.secret || p.raw === "" || p.line >= OVERRIDE_LINE) continue;
      const asFile = resolve(this.configDir, p.raw.replace(/^~(?=\/|$)/, this.home));
      let isFile = false;
      try {
        isFile = Deno.statSync(asFile).isFile;
      } catch {
        isFile = false;
      }
      if (!isFile) {
        this.warn(
          p.line,
          `'${p.name}' is written in a file other users can read; chmod 600 ${this.file} ` +
            "or move the secret to a file of its own",
        );
      }
    }
  }
}

export interface SectionOptions {
  /** environment for HOME and the AWS_* fallbacks */
  env: Record<string, string | undefined>;
  /** options to leave out (a credential file that is only about to be written) */
  skip?: ReadonlySet<string>;
  /** options to set as if written on the section's line (answers not written yet) */
  inject?: Record<string, string>;
  /** the folder relative paths are relative to, when the document is not read from its file */
  configDir?: string;
}

/**
 * One section of a parsed document, read the way `loadConfig` reads it but without checking the
 * rest of the section: `escale init` takes the current values of a section it edits from here,
 * and checks the relay its answers describe before writing them.
 */
export function readSection(
  doc: IniDocument,
  name: string,
  opts: SectionOptions,
): { get<T>(key: string): Setting<T> | undefined; relay(): RelaySettings } {
  const section = doc.sections.find((s) => s.name === name);
  if (!section) throw new Error(`section ${name} vanished from the parsed text`);
  const loader = new Loader(doc, doc.file, null, (n) => opts.env[n], "localhost", opts.configDir);
  const values = loader.values(section, opts.skip);
  for (const [key, value] of Object.entries(opts.inject ?? {})) {
    const spec = lookupOption(key)!;
    values.set(spec.key, { spec, value, raw: value, name: key, line: section.line });
  }
  return {
    get: <T>(key: string) => values.get(key) as Setting<T> | undefined,
    relay: () => resolveRelay(loader.relayInput(section, values)),
  };
}

/**
 * Loads `path`, or with `null` a configuration made only of `opts.overrides` (one repository,
 * named `opts.sectionName`): the same checks, the same defaults, the same settings either way.
 */
export async function loadConfig(
  path: string | null,
  opts: LoadConfigOptions = {},
): Promise<LoadedConfig> {
  const cwd = opts.cwd ?? Deno.cwd();
  let file: string;
  let doc: IniDocument;
  let mode: number | null = null;
  if (path === null) {
    file = NO_FILE;
    const name = opts.sectionName ?? "escale";
    doc = { file, global: new Map(), sections: [{ name, line: 0, entries: new Map() }] };
  } else {
    file = resolve(path);
    const read = await readConfigText(file);
    mode = read.mode;
    doc = parseIni(read.text, file);
  }
  const envOf = (name: string) => (opts.env ? opts.env[name] : Deno.env.get(name));
  const loader = new Loader(
    doc,
    file,
    mode,
    envOf,
    opts.hostname ?? hostnameOr("localhost"),
    undefined,
    { overrides: opts.overrides ?? [], cwd, fileless: path === null },
  );
  const global = loader.globalSettings();

  let selected = doc.sections;
  if (opts.sections !== undefined) {
    const names = new Set(doc.sections.map((s) => s.name));
    const unknown = opts.sections.filter((n) => !names.has(n));
    if (unknown.length > 0) {
      const have = doc.sections.map((s) => s.name).join(", ") || "none";
      throw new ConfigError(
        `no section ${unknown.map((n) => `[${n}]`).join(", ")} (sections: ${have})`,
        { file },
      );
    }
    const wanted = new Set(opts.sections);
    selected = doc.sections.filter((s) => wanted.has(s.name));
  }
  if (doc.sections.length === 0) {
    loader.warn(undefined, "no [section] defines a repository; nothing to synchronise");
  }
  const perSection = loader.overrides.filter((o) => o.spec.scope === "section");
  if (perSection.length > 0 && selected.length > 1) {
    throw new ConfigError(
      `${perSection[0].source} would apply to ${selected.length} repositories (` +
        `${selected.map((s) => s.name).join(", ")}); choose one with -r`,
      { file },
    );
  }
  const sections = selected.map((s) => loader.section(s));
  const out: LoadedConfig = { file, global, sections, warnings: [...loader.warnings] };
  if (path === null) out.fileless = true;
  return out;
}
