import { dirname, isAbsolute, join, resolve } from "node:path";
import {
  editSection,
  sectionNameProblem,
  writeConfigSection,
  writeFileAtomic,
} from "../config/config_writer.ts";
import { defaultConfigPath, findConfigFile } from "../config/find_config.ts";
import { type IniDocument, parseIni } from "../config/ini_parser.ts";
import { hostnameOr } from "../util/hostname.ts";
import { loadConfig, readConfigIfAny, readSection } from "../config/load_config.ts";
import { isDownloadOnly, MODE_HELP, MODES, parseMode } from "../config/modes.ts";
import { lookupOption, optionDefault } from "../config/options.ts";
import type { Backend } from "../config/backends/backend.ts";
import { backendFor, backendOf, BACKENDS } from "../config/backends/registry.ts";
import { addressProblem } from "../config/backends/relay_address.ts";
import { resolvePassphrase } from "../config/secrets.ts";
import type { Mode, RelayProtocol, RelaySettings } from "../config/settings.ts";
import type { ParseContext } from "../config/value_types.ts";
import { ValueProblem } from "../config/value_problem.ts";
import { type CryptoParams, openCryptoParams } from "../crypto/key_params.ts";
import { generateKeyFile, readSecret } from "../crypto/secret_source.ts";
import {
  ConfigError,
  describeError,
  type ErrorKind,
  EscaleError,
  localIoError,
} from "../errors/errors.ts";
import type { Header } from "../protocol/format.ts";
import { RelayStore } from "../protocol/relay_store.ts";
import type { Relay } from "../relay/relay.ts";
import { openRelay } from "./open_relay.ts";
import { type Check, type Choice, type Prompter, terminalPrompter } from "./prompter.ts";
import { CONFIG_ENV, readEnv } from "../util/env.ts";

/**
 * `escale init`: sets up one repository (a section of the configuration) by asking questions on
 * a terminal, or from flags in scripts. It follows Escale's simplified wizard (behaviour notes
 * §10) and fixes what was broken there: the relay is checked before anything is written, the
 * section is added or edited without rewriting the rest of the file, passwords go to a 0600
 * file and never into the configuration, and the result is loaded back exactly as `escale run`
 * will load it. Whatever fails or is cancelled, the files written so far are put back.
 */

export interface InitOptions {
  config?: string;
  section?: string;
  localPath?: string;
  service?: string;
  address?: string;
  relayPath?: string;
  user?: string;
  passwordFile?: string;
  encryption?: string;
  keyFile?: string;
  generateKey?: boolean;
  mode?: string;
  pullers?: string;
  refresh?: string;
  clientName?: string;
  yes?: boolean;
}

export interface InitDeps {
  /** builds the relay to check; tests may pass one that knows more backends */
  openRelay?: (s: RelaySettings) => Promise<Relay>;
  /** null = no terminal; default: a terminal prompter when standard input is a terminal */
  prompter?: Prompter | null;
  env?: Record<string, string | undefined>;
  hostname?: string;
  /** output without a terminal prompter; default: standard output */
  print?: (line: string) => void;
}

export interface InitResult {
  file: string;
  section: string;
  added: boolean;
  keyFile?: string;
  credentialFile?: string;
}

export type Service = RelayProtocol;

const SERVICES: Choice<Service>[] = BACKENDS.map((b) => ({
  value: b.id,
  label: b.setup.label,
  hint: b.setup.hint,
}));

/**
 * The keys this command decides. On an edited section, the ones it does not set this time are
 * removed, because a stale one (a `user` next to a `user:password` file, a `port` that clashes
 * with the new address, `push only` against a new mode) would break the section. Every other key
 * of the section (filters, TLS files, timeouts) is left as the user wrote it.
 */
const MANAGED = [
  "client name",
  "local path",
  "protocol",
  "host address",
  "host directory",
  "port",
  "user",
  "password",
  ...BACKENDS.flatMap((b) => [
    ...b.setup.addressOptions ?? [],
    ...b.setup.loginKeys ? [b.setup.loginKeys.user, b.setup.loginKeys.password] : [],
  ]),
  "encryption",
  "passphrase",
  "mode",
  "push only",
  "pull only",
  "puller count",
  "refresh",
];

/** Secret files are one short line; the bound keeps a wrong `--password-file` harmless. */
const MAX_PASSWORD_FILE = 64 * 1024;

/** Label of the not-yet-written text that relay settings are resolved from. */
const ANSWERS = "<answers>";

const SCRATCH_PREFIX = "escale-init-check-";

/** A word as a POSIX shell reads it, for commands shown to the user to copy. */
function shellWord(s: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

function randomHex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A section name as a file name: credentials and keys live next to the configuration. */
export function fileStem(section: string): string {
  // Escaping (rather than replacing) keeps two sections from sharing one credential file.
  return section.replace(/[^A-Za-z0-9_.-]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
}

function kindOfPath(p: string): "folder" | "file" | "other" | "missing" {
  try {
    const info = Deno.statSync(p);
    return info.isDirectory ? "folder" : info.isFile ? "file" : "other";
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) {
      return "missing";
    }
    throw localIoError(e, `looking at ${p}`);
  }
}

function isInside(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent.endsWith("/") ? parent : parent + "/");
}

/** Things done so far, undone in reverse order when the command does not complete. */
class Undo {
  readonly #steps: (() => Promise<void>)[] = [];
  push(step: () => Promise<void>): void {
    this.#steps.push(step);
  }
  async run(): Promise<void> {
    for (const step of this.#steps.reverse()) await step().catch(() => {});
    this.#steps.length = 0;
  }
}

/** Creates a folder and its missing parents; undo removes exactly those, if still empty. */
async function makeFolder(path: string, mode: number, undo: Undo): Promise<void> {
  const missing: string[] = [];
  for (let p = path; kindOfPath(p) === "missing"; p = dirname(p)) {
    missing.push(p);
    if (dirname(p) === p) break;
  }
  if (missing.length === 0) return;
  try {
    await Deno.mkdir(path, { recursive: true, mode });
  } catch (e) {
    throw localIoError(e, `creating folder ${path}`);
  }
  undo.push(async () => {
    for (const m of missing) await Deno.remove(m);
  });
}

/** Puts a file back as it was (or removes it) when the command is undone. */
async function rememberFile(path: string, undo: Undo): Promise<void> {
  let before: { data: Uint8Array; mode: number } | null = null;
  try {
    const info = await Deno.stat(path);
    before = { data: await Deno.readFile(path), mode: (info.mode ?? 0o600) & 0o777 };
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw localIoError(e, `reading ${path}`);
  }
  undo.push(async () => {
    if (before) await writeFileAtomic(path, before.data, before.mode);
    else await Deno.remove(path);
  });
}

interface Question {
  /** what is asked, for the message when it cannot be */
  what: string;
  /** the flag that answers it, with its argument, e.g. `--local-path DIR` */
  flag: string;
}

/**
 * Where each answer comes from: its flag, else (with --yes) its default, else the terminal,
 * else an error that names the flag. The same check runs on every path, so a flag gets the
 * message the prompt would have shown.
 */
class Answers {
  constructor(readonly prompter: Prompter | null, readonly yes: boolean) {}

  missing(q: Question, defaultShown?: string): EscaleError {
    const dflt = defaultShown === undefined
      ? ""
      : ` (or --yes to accept the default${defaultShown === "" ? "" : `, ${defaultShown}`})`;
    return new EscaleError("usage", `no terminal to ask for ${q.what}: pass ${q.flag}${dflt}`);
  }

  flagged(q: Question, given: string, check?: Check): string {
    const problem = check?.(given);
    if (problem) throw new EscaleError("usage", `${q.flag.split(" ")[0]}: ${problem}`);
    return given;
  }

  async text(
    q: Question & { message: string; given?: string; defaultValue?: string; check?: Check },
  ): Promise<string> {
    if (q.given !== undefined) return this.flagged(q, q.given, q.check);
    if (this.yes && q.defaultValue !== undefined) return this.flagged(q, q.defaultValue, q.check);
    if (!this.prompter) throw this.missing(q, q.defaultValue);
    return await this.prompter.text({
      message: q.message,
      defaultValue: q.defaultValue,
      check: q.check,
    });
  }

  async select<T extends string>(
    q: Question & {
      message: string;
      given?: string;
      parse: (raw: string) => T;
      options: Choice<T>[];
      defaultValue?: T;
    },
  ): Promise<T> {
    const parse = (raw: string): T => {
      try {
        return q.parse(raw);
      } catch (e) {
        if (e instanceof ValueProblem) {
          throw new EscaleError("usage", `${q.flag.split(" ")[0]} ${e.message}`);
        }
        throw e;
      }
    };
    if (q.given !== undefined) return parse(q.given);
    if (this.yes && q.defaultValue !== undefined) return q.defaultValue;
    if (!this.prompter) {
      throw this.missing(q, q.options.find((c) => c.value === q.defaultValue)?.label);
    }
    return await this.prompter.select({
      message: q.message,
      options: q.options,
      initial: q.defaultValue,
    });
  }

  /** A yes/no question; `given` is the flag's value when it was passed. */
  async confirm(
    q: Question & { message: string; given?: boolean; defaultValue?: boolean },
  ): Promise<boolean> {
    if (q.given !== undefined) return q.given;
    if (this.yes && q.defaultValue !== undefined) return q.defaultValue;
    if (!this.prompter) {
      throw this.missing(
        q,
        q.defaultValue === undefined ? undefined : q.defaultValue ? "yes" : "no",
      );
    }
    return await this.prompter.confirm({ message: q.message, initial: q.defaultValue });
  }
}

/** What an existing section says, as defaults for editing it. */
interface Current {
  localPath?: string;
  service?: Service;
  address?: string;
  relayPath?: string;
  user?: string;
  password?: string;
  encrypted?: boolean;
  passphrase?: { value: string; file?: string };
  mode?: Mode;
  pullers?: string;
  refresh?: string;
  clientName?: string;
}

/** The service a `protocol =` name stands for (an rclone alias is the rclone service). */
function serviceOf(protocol: string): Service | undefined {
  return backendFor(protocol)?.id;
}

function currentValues(
  doc: IniDocument,
  name: string,
  ctx: ParseContext,
  env: Record<string, string | undefined>,
): Current {
  const cur: Current = {};
  let s: ReturnType<typeof readSection>;
  try {
    s = readSection(doc, name, { env, configDir: ctx.configDir });
  } catch {
    // A section that does not even parse gives no defaults; the questions start blank.
    return cur;
  }
  cur.localPath = s.get<string>("local path")?.value;
  cur.clientName = s.get<string>("client name")?.value;
  cur.pullers = s.get<number>("puller count")?.raw.trim();
  cur.refresh = s.get<number>("refresh")?.raw.trim();
  const mode = s.get<Mode>("mode")?.value;
  cur.mode = mode ??
    (s.get<boolean>("push only")?.value
      ? "upload"
      : s.get<boolean>("pull only")?.value
      ? "download"
      : undefined);
  const pass = s.get<string>("passphrase");
  if (pass && pass.raw !== "") cur.passphrase = resolvePassphrase(pass.raw, ctx);
  const enc = s.get<string>("encryption")?.value;
  cur.encrypted = enc === undefined ? (cur.passphrase ? true : undefined) : enc === "aead";
  try {
    const r = s.relay();
    cur.service = r.protocol;
    cur.user = r.user;
    cur.password = r.password;
    const shown = backendOf(r.protocol).editable(r);
    cur.address = shown.address;
    cur.relayPath = shown.relayPath;
    // The address as written is the better default when it says everything on its own, so an
    // edit that changes nothing leaves the lines as they were.
    const rawAddress = s.get<string>("host address")?.value;
    const rawProtocol = s.get<string>("protocol")?.value;
    if (
      r.protocol !== "file" && rawAddress !== undefined &&
      (rawProtocol === undefined || rawProtocol === r.protocol) &&
      !["port", ...backendOf(r.protocol).setup.addressOptions ?? []].some((k) =>
        s.get(k) !== undefined
      ) &&
      addressProblem(backendOf(r.protocol), rawAddress) === undefined
    ) {
      cur.address = rawAddress;
      cur.relayPath = s.get<string>("host directory")?.value ?? "";
    }
  } catch {
    // The relay as written does not resolve (a folder gone, say): offer what is written.
    const proto = s.get<string>("protocol")?.value;
    cur.service = proto ? serviceOf(proto) : undefined;
    cur.address = s.get<string>("host address")?.value.replace(/\/\/[^/@]*@/, "//");
    cur.relayPath = s.get<string>("host directory")?.value;
  }
  return cur;
}

function userProblem(user: string): string | undefined {
  if (user.includes(":")) return "the user name cannot contain ':'";
  if ([...user].some((c) => c < " " || c === "\x7f")) {
    return "the user name cannot contain control characters";
  }
  return undefined;
}

function optionProblem(key: string, raw: string): string | undefined {
  const spec = lookupOption(key)!;
  try {
    spec.type.parse(raw, { configDir: "/", home: "/", warn: () => {} });
    return undefined;
  } catch (e) {
    if (e instanceof ValueProblem) return `${key} ${e.message}`;
    throw e;
  }
}

function clientNameProblem(name: string): string | undefined {
  if (name.trim() === "") return "the client name is required";
  if (name !== name.trim()) return "the client name cannot start or end with spaces";
  if ([...name].some((c) => c < " " || c === "\x7f")) {
    return "the client name cannot contain control characters";
  }
  return undefined;
}

export async function readPasswordFile(path: string): Promise<string> {
  let bytes: Uint8Array;
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) throw new EscaleError("usage", `--password-file: ${path} is not a file`);
    if (info.size > MAX_PASSWORD_FILE) {
      throw new EscaleError("usage", `--password-file: ${path} is too large for a password file`);
    }
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof EscaleError) throw e;
    if (e instanceof Deno.errors.NotFound) {
      throw new EscaleError("usage", `--password-file: ${path} does not exist`);
    }
    throw localIoError(e, `reading ${path}`);
  }
  const text = new TextDecoder().decode(bytes).replace(/\r?\n$/, "");
  if (text === "") throw new EscaleError("usage", `--password-file: ${path} is empty`);
  if (/[\r\n]/.test(text)) {
    throw new EscaleError("usage", `--password-file: ${path} must hold the password on one line`);
  }
  return text;
}

/** A relay message with any trace of the password taken out, whatever the backend put in it. */
function scrub(message: string, secret: string | undefined): string {
  return secret ? message.replaceAll(secret, "***") : message;
}

/**
 * Proves the relay usable: opens it, writes a scratch object, sees it, deletes it. Returns the
 * relay's header when it already holds an escale repository, so that encryption can follow it.
 */
async function checkRelay(
  settings: RelaySettings,
  open: (s: RelaySettings) => Promise<Relay>,
  stop: AbortSignal,
): Promise<{ name: string; header: Header | null }> {
  const fail = (e: unknown, what: string): never => {
    if (e instanceof EscaleError && e.kind === "interrupted") throw e;
    const kind: ErrorKind = e instanceof EscaleError ? e.kind : "unreachable";
    const msg = e instanceof EscaleError ? e.message : describeError(e);
    throw new EscaleError(kind, scrub(`relay check failed ${what}: ${msg}`, settings.password));
  };
  const interrupted = new Promise<never>((_, reject) => {
    const abort = () =>
      reject(new EscaleError("interrupted", "setup interrupted; nothing was written"));
    if (stop.aborted) abort();
    else stop.addEventListener("abort", abort, { once: true });
  });
  interrupted.catch(() => {});
  let relay: Relay;
  try {
    relay = await Promise.race([open(settings), interrupted]);
  } catch (e) {
    return fail(e, "(opening the relay)");
  }
  const key = SCRATCH_PREFIX + randomHex(8);
  const body = new TextEncoder().encode("escale init: checking that the relay is writable\n");
  try {
    await Promise.race([relay.write(key, body), interrupted]);
    const seen = await Promise.race([relay.stat(key), interrupted]);
    if (!seen || seen.size !== body.length) {
      throw new EscaleError("permanent", "an object just written is not there");
    }
    await Promise.race([relay.delete(key), interrupted]);
    const header = await Promise.race([RelayStore.readHeader(relay), interrupted]);
    return { name: relay.name, header };
  } catch (e) {
    await relay.delete(key).catch(() => {});
    return fail(e, `on ${relay.name}`);
  } finally {
    await relay.close().catch(() => {});
  }
}

/** The configuration file init works on: -c, else the one `escale run` would find, else new. */
function chooseConfigFile(explicit: string | undefined, env: Record<string, string | undefined>) {
  if (explicit !== undefined && explicit !== "") return resolve(explicit);
  try {
    return findConfigFile(undefined, { env });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return defaultConfigPath({ env });
  }
}

function boolFlag(flag: string, raw: string | undefined): boolean | undefined {
  if (raw === undefined) return undefined;
  const t = raw.trim().toLowerCase();
  if (["yes", "y", "on", "true", "1"].includes(t)) return true;
  if (["no", "n", "off", "false", "0"].includes(t)) return false;
  throw new EscaleError("usage", `${flag} must be yes or no (got ${JSON.stringify(raw)})`);
}

function parseService(raw: string): Service {
  const s = serviceOf(raw) ?? (raw.trim().toLowerCase() === "local" ? "file" : undefined);
  if (!s || (s === "rclone" && raw.trim().toLowerCase() !== "rclone")) {
    throw new ValueProblem(
      `must be one of ${SERVICES.map((x) => x.value).join(", ")} (got ${JSON.stringify(raw)})`,
    );
  }
  return s;
}

/** What the relay step answered: the section lines it sets and the login (not written yet). */
interface RelayAnswers {
  service: Service;
  set: [string, string][];
  user: string;
  password?: string;
}

type KeyPlan = { set?: [string, string]; generate?: string; keep?: true };

class Wizard {
  readonly ask: Answers;
  readonly undo = new Undo();
  readonly out: (line: string) => void;
  readonly open: (s: RelaySettings) => Promise<Relay>;

  constructor(
    readonly opts: InitOptions,
    readonly prompter: Prompter | null,
    readonly env: Record<string, string | undefined>,
    readonly hostname: string,
    readonly stop: AbortSignal,
    deps: InitDeps,
  ) {
    this.ask = new Answers(prompter, opts.yes === true);
    this.out = (line) =>
      prompter ? prompter.info(line) : (deps.print ?? ((l: string) => console.log(l)))(line);
    this.open = deps.openRelay ?? openRelay;
  }

  guard(): void {
    if (this.stop.aborted) {
      throw new EscaleError("interrupted", "setup interrupted; nothing was written");
    }
  }

  /** `~` and relative paths as a shell user means them. */
  absolute(p: string): string {
    const t = p.trim();
    const home = this.env.HOME;
    if (home && (t === "~" || t.startsWith("~/"))) return resolve(home + t.slice(1));
    return isAbsolute(t) ? resolve(t) : resolve(Deno.cwd(), t);
  }

  folderCheck(what: string): Check {
    return (answer) => {
      if (answer.trim() === "") return `${what} is required`;
      const kind = kindOfPath(this.absolute(answer));
      return kind === "file" || kind === "other"
        ? `${answer} exists and is not a folder`
        : undefined;
    };
  }

  /** Asks for permission to create a missing folder; false when it already exists. */
  async mayCreate(path: string, what: string): Promise<boolean> {
    if (kindOfPath(path) !== "missing") return false;
    const ok = await this.ask.confirm({
      what: `permission to create ${what} ${path}`,
      flag: "--yes",
      message: `${path} does not exist. Create it?`,
      given: this.opts.yes ? true : undefined,
      defaultValue: this.prompter ? true : undefined,
    });
    if (!ok) throw new EscaleError("usage", `${what} ${path} does not exist`);
    return true;
  }

  async run(configFile: string): Promise<InitResult> {
    const encFlag = this.encryptionFlag();
    const configDir = dirname(configFile);
    const ctx: ParseContext = { configDir, home: this.env.HOME || "~", warn: () => {} };
    const text = await readConfigIfAny(configFile);
    const doc = parseIni(text ?? "", configFile);
    const { section, editing, cur } = await this.sectionStep(configFile, text, doc, ctx);
    const { localPath, createLocal } = await this.localStep(cur);
    const relay = await this.relayStep(cur, localPath, section);
    const checked = await this.checkStep(text, section, ctx, relay);
    const { keyPlan, ...encryption } = await this.encryptionStep(
      checked,
      encFlag,
      section,
      configDir,
      cur,
    );
    const behaviour = await this.behaviourStep(cur);
    const set = [...relay.set, ...encryption.set, ...behaviour.set];
    const { user, password } = relay;
    const clientName = behaviour.clientName;
    const ordered: [string, string][] = [
      ["client name", clientName],
      ["local path", localPath],
      ...set,
    ];
    // A kept literal passphrase stays as written: init never copies a secret into the config.
    const remove = keyPlan.keep && !cur.passphrase?.file
      ? MANAGED.filter((k) => k !== "passphrase")
      : MANAGED;

    if (this.prompter && !this.opts.yes) {
      this.prompter.note(
        ordered.map(([k, v]) => `${k} = ${v}`).join("\n"),
        `[${section}] in ${configFile}`,
      );
      const ok = await this.prompter.confirm({
        message: editing ? `Update [${section}]?` : `Add [${section}]?`,
        initial: true,
      });
      if (!ok) throw new EscaleError("interrupted", "setup cancelled; nothing was written");
    }
    this.guard();
    return await this.write({
      configFile,
      configDir,
      section,
      ordered,
      remove,
      createLocal,
      localPath,
      user,
      password,
      keyPlan,
    });
  }

  /** The flags that contradict each other; the --encryption flag as a yes/no. */
  encryptionFlag(): boolean | undefined {
    const o = this.opts;
    if (o.keyFile !== undefined && o.generateKey) {
      throw new EscaleError("usage", "--key-file and --generate-key exclude each other");
    }
    const encFlag = boolFlag("--encryption", o.encryption);
    if (encFlag === false && (o.keyFile !== undefined || o.generateKey)) {
      throw new EscaleError(
        "usage",
        `${o.keyFile !== undefined ? "--key-file" : "--generate-key"} needs encryption`,
      );
    }
    return encFlag;
  }

  /** Which section: an existing one is edited, its current values the defaults. */
  async sectionStep(
    configFile: string,
    text: string | null,
    doc: IniDocument,
    ctx: ParseContext,
  ): Promise<{ section: string; editing: boolean; cur: Current }> {
    const names = doc.sections.map((s) => s.name);
    this.prompter?.intro("escale init");
    if (this.prompter && text !== null) {
      this.prompter.info(
        `Configuration ${configFile}` +
          (names.length ? ` has ${names.map((n) => `[${n}]`).join(" ")}` : " has no section yet"),
      );
    }
    const section = await this.ask.text({
      what: "the section name",
      flag: "--section NAME",
      message: names.length
        ? "Section name (an existing one to edit it, a new one to add it)"
        : "Section name (one section per synchronised folder)",
      given: this.opts.section,
      check: sectionNameProblem,
    });
    const editing = names.includes(section);
    const cur = editing ? currentValues(doc, section, ctx, this.env) : {};
    if (editing) this.prompter?.info(`Editing [${section}]: the current values are the defaults.`);

    return { section, editing, cur };
  }

  /** The local folder, created (with permission) when missing. */
  async localStep(cur: Current): Promise<{ localPath: string; createLocal: boolean }> {
    // Local folder.
    const localPath = this.absolute(
      await this.ask.text({
        what: "the local folder",
        flag: "--local-path DIR",
        message: "Local folder to synchronise",
        given: this.opts.localPath,
        defaultValue: cur.localPath,
        check: this.folderCheck("the local folder"),
      }),
    );
    const createLocal = await this.mayCreate(localPath, "local folder");

    return { localPath, createLocal };
  }

  /** The relay: its service, then the questions of that backend (folder, or address and login). */
  async relayStep(cur: Current, localPath: string, section: string): Promise<RelayAnswers> {
    const o = this.opts;
    const service = await this.ask.select<Service>({
      what: "the relay service",
      flag: `--service ${SERVICES.map((x) => x.value).join("|")}`,
      message: "Where is the relay (the storage every client can reach)?",
      given: o.service,
      parse: parseService,
      options: SERVICES,
      defaultValue: cur.service ?? "file",
    });
    const known = cur.service === service ? cur : {};
    const backend = backendOf(service);
    // A folder has no login, and rclone keeps its credentials in its own configuration.
    if (backend.setup.login === "none") {
      for (const [flag, value] of [["--user", o.user], ["--password-file", o.passwordFile]]) {
        if (value !== undefined) {
          throw new EscaleError("usage", `${flag} does not apply to the ${service} service`);
        }
      }
    }
    if (backend.setup.address === undefined) {
      return { service, set: await this.folderRelay(known, localPath), user: "" };
    }
    const set = await this.addressRelay(backend, known);
    if (backend.setup.login === "none") return { service, set, user: "" };
    const login = await this.login(backend, known, section);
    return { service, set: [...set, ...login.set], user: login.user, password: login.password };
  }

  /** A folder relay: the folder, created (with permission) when missing. */
  async folderRelay(known: Current, localPath: string): Promise<[string, string][]> {
    const o = this.opts;
    if (o.address !== undefined && o.relayPath !== undefined) {
      throw new EscaleError("usage", "a folder relay takes --relay-path only, not --address");
    }
    const folder = this.absolute(
      await this.ask.text({
        what: "the relay folder",
        flag: "--relay-path DIR",
        message: "Relay folder (local or mounted, reachable by every client)",
        given: o.relayPath ?? o.address,
        defaultValue: known.address,
        check: this.folderCheck("the relay folder"),
      }),
    );
    if (isInside(folder, localPath) || isInside(localPath, folder)) {
      throw new EscaleError(
        "usage",
        `the relay folder ${folder} and the local folder ${localPath} cannot contain each other`,
      );
    }
    if (await this.mayCreate(folder, "relay folder")) {
      this.guard();
      await makeFolder(folder, 0o700, this.undo);
    }
    return [["protocol", "file"], ["host directory", folder]];
  }

  /** A network relay: its address, in the backend's own words, and a folder inside it. */
  async addressRelay(backend: Backend, known: Current): Promise<[string, string][]> {
    const o = this.opts;
    const address = (await this.ask.text({
      what: "the relay address",
      flag: "--address ADDRESS",
      message: backend.setup.address!,
      given: o.address,
      defaultValue: known.address,
      check: (a) => addressProblem(backend, a),
    })).trim();
    const relayPath = (await this.ask.text({
      what: "the folder on the relay",
      flag: "--relay-path PATH",
      message: "Folder inside it (empty: the address itself)",
      given: o.relayPath,
      defaultValue: known.relayPath ?? "",
      check: (p) => /[\r\n]/.test(p) ? "the folder must fit on one line" : undefined,
    })).trim();
    const set: [string, string][] = [["protocol", backend.id], ["host address", address]];
    if (relayPath !== "") set.push(["host directory", relayPath]);
    return set;
  }

  /** The login: a user (or S3 access key) and its password, kept for the credential file. */
  async login(
    backend: Backend,
    known: Current,
    section: string,
  ): Promise<{ set: [string, string][]; user: string; password?: string }> {
    const o = this.opts;
    const keys = backend.setup.login === "keys";
    const user = (await this.ask.text({
      what: keys ? "the access key id" : "the user name",
      flag: "--user NAME",
      message: keys
        ? "Access key id (empty: AWS_ACCESS_KEY_ID from the environment)"
        : "User name (empty: no login)",
      given: o.user,
      defaultValue: known.user ?? "",
      check: userProblem,
    })).trim();
    if (user === "") {
      if (o.passwordFile !== undefined) {
        throw new EscaleError("usage", "--password-file needs --user");
      }
      return { set: [], user };
    }
    const keep = known.password !== undefined && known.user === user ? known.password : undefined;
    const password = await this.password(backend.id, user, keep);
    return { set: [["secret file", `${fileStem(section)}.credential`]], user, password };
  }

  /** The relay as the section will describe it, checked before anything else is written. */
  async checkStep(
    text: string | null,
    section: string,
    ctx: ParseContext,
    relay: RelayAnswers,
  ): Promise<{ name: string; header: Header | null }> {
    const { service, set, user, password } = relay;
    const relayText = editSection(text ?? "", section, { set, remove: MANAGED }).text;
    const settings = this.relaySettings(relayText, section, ctx, service, user, password);
    this.guard();
    this.out(`Checking the relay ${backendOf(settings.protocol).describe(settings)} …`);
    const checked = await checkRelay(settings, this.open, this.stop);
    this.out(`The relay ${checked.name} is reachable and writable.`);

    return checked;
  }

  /** Encryption: as the relay already is, else asked; where the key comes from. */
  async encryptionStep(
    checked: { name: string; header: Header | null },
    encFlag: boolean | undefined,
    section: string,
    configDir: string,
    cur: Current,
  ): Promise<{ set: [string, string][]; keyPlan: KeyPlan }> {
    const o = this.opts;
    const set: [string, string][] = [];
    // Encryption.
    const header = checked.header;
    let encrypt: boolean;
    if (header) {
      encrypt = header.encryption !== null;
      this.out(
        `The relay already holds an escale repository (${
          encrypt ? "encrypted" : "not encrypted"
        }); this client must match it.`,
      );
      const asked = encFlag ?? (o.keyFile !== undefined || o.generateKey ? true : undefined);
      if (asked !== undefined && asked !== encrypt) {
        throw new EscaleError(
          "key",
          encrypt
            ? `the relay ${checked.name} is encrypted: pass --key-file with the key the other clients use`
            : `the relay ${checked.name} is not encrypted: pass --encryption no`,
        );
      }
      if (encrypt && o.generateKey) {
        throw new EscaleError(
          "key",
          `the relay ${checked.name} is already encrypted, so a new key cannot read it: pass --key-file with the key the other clients use`,
        );
      }
    } else {
      encrypt = await this.ask.confirm({
        what: "whether to encrypt",
        flag: "--encryption yes|no",
        message: "Encrypt everything on the relay?",
        given: encFlag ?? (o.keyFile !== undefined || o.generateKey ? true : undefined),
        defaultValue: cur.encrypted ?? true,
      });
    }
    let keyPlan: KeyPlan = {};
    if (encrypt) {
      keyPlan = await this.key(section, configDir, cur, header !== null);
      if (header?.encryption) {
        const source = keyPlan.keep ? cur.passphrase! : {
          value: "",
          file: keyPlan.set![1].startsWith("/")
            ? keyPlan.set![1]
            : join(configDir, keyPlan.set![1]),
        };
        this.out("Checking the key against the relay …");
        try {
          await openCryptoParams(
            header.encryption as CryptoParams,
            await readSecret({ ...source, warn: (m) => this.out(m) }),
          );
        } catch (e) {
          if (e instanceof EscaleError && e.kind === "key") {
            throw new EscaleError(
              "key",
              `${source.file ?? "the passphrase"} is not the key of the relay ${checked.name}`,
            );
          }
          throw e;
        }
      }
    }
    set.push(["encryption", encrypt ? "yes" : "no"]);
    if (keyPlan.set) set.push(keyPlan.set);

    return { set, keyPlan };
  }

  /** How this client synchronises, and its name on the relay. */
  async behaviourStep(cur: Current): Promise<{ set: [string, string][]; clientName: string }> {
    const o = this.opts;
    const set: [string, string][] = [];
    // Behaviour.
    const mode = await this.ask.select<Mode>({
      what: "the mode",
      flag: "--mode MODE",
      message: "How should this client synchronise?",
      given: o.mode,
      parse: parseMode,
      options: MODES.map((m) => ({ value: m, label: m, hint: MODE_HELP[m] })),
      defaultValue: cur.mode ?? optionDefault<Mode>("mode")!,
    });
    set.push(["mode", mode]);
    if (!isDownloadOnly(mode)) {
      const pullers = (await this.ask.text({
        what: "the puller count",
        flag: "--pullers N",
        message:
          "How many clients must receive each change before its data leaves the relay? (empty: every client that downloads)",
        given: o.pullers,
        defaultValue: cur.pullers ?? "",
        check: (n) => n.trim() === "" ? undefined : optionProblem("puller count", n),
      })).trim();
      if (pullers !== "") set.push(["puller count", pullers]);
    }
    const refresh = (await this.ask.text({
      what: "the refresh interval",
      flag: "--refresh SECONDS",
      message: "Seconds between synchronisation rounds",
      given: o.refresh,
      defaultValue: cur.refresh ?? lookupOption("refresh")!.default!,
      check: (r) => optionProblem("refresh", r),
    })).trim();
    set.push(["refresh", refresh]);
    const clientName = await this.ask.text({
      what: "the client name",
      flag: "--client-name NAME",
      message: "Name of this client on the relay (unique per relay)",
      given: o.clientName,
      defaultValue: cur.clientName ?? this.hostname,
      check: clientNameProblem,
    });
    return { set, clientName };
  }

  async password(service: Service, user: string, keep: string | undefined): Promise<string> {
    if (this.opts.passwordFile !== undefined) {
      return await readPasswordFile(this.absolute(this.opts.passwordFile));
    }
    const keys = backendOf(service).setup.login === "keys";
    const what = keys ? "the secret access key" : `the password of ${user}`;
    if (keep !== undefined && this.opts.yes) return keep;
    if (!this.prompter) {
      throw this.ask.missing(
        { what, flag: "--password-file FILE" },
        keep === undefined ? undefined : "",
      );
    }
    const label = keys ? "Secret access key" : `Password of ${user}`;
    const answer = await this.prompter.password({
      message: keep !== undefined ? `${label} (empty: keep the current one)` : label,
      check: (p) =>
        p === "" && keep === undefined
          ? "the password is required"
          : /[\r\n]/.test(p)
          ? "the password must fit on one line"
          : undefined,
    });
    return answer === "" && keep !== undefined ? keep : answer;
  }

  /** Where the key comes from: a new file, an existing one, or what the section already has. */
  async key(
    section: string,
    configDir: string,
    cur: Current,
    relayInitialised: boolean,
  ): Promise<{ set?: [string, string]; generate?: string; keep?: true }> {
    const o = this.opts;
    const stem = `${fileStem(section)}.key`;
    const ownKey = join(configDir, stem);
    const existingKey = (raw: string): string | undefined => {
      const p = this.absolute(raw);
      return kindOfPath(p) === "file" ? undefined : `${p} is not an existing file`;
    };
    if (o.keyFile !== undefined) {
      const p = this.absolute(
        this.ask.flagged({ what: "", flag: "--key-file" }, o.keyFile, existingKey),
      );
      return { set: ["key", p] };
    }
    if (o.generateKey) {
      if (kindOfPath(ownKey) !== "missing") {
        throw new EscaleError(
          "usage",
          `key file ${ownKey} already exists; pass --key-file ${ownKey} to use it`,
        );
      }
      return { set: ["key", stem], generate: ownKey };
    }
    type KeyChoice = "keep" | "own" | "generate" | "other";
    const options: Choice<KeyChoice>[] = [];
    if (cur.passphrase) {
      options.push({
        value: "keep",
        label: cur.passphrase.file
          ? `Keep the current key file ${cur.passphrase.file}`
          : "Keep the current passphrase (written in the configuration)",
      });
    }
    if (kindOfPath(ownKey) === "file" && cur.passphrase?.file !== ownKey) {
      options.push({ value: "own", label: `Use the key file ${ownKey}` });
    } else if (!relayInitialised && kindOfPath(ownKey) === "missing") {
      options.push({
        value: "generate",
        label: `Generate a new key into ${ownKey}`,
        hint: "copy it to every other client",
      });
    }
    options.push({ value: "other", label: "Use another key file", hint: "from another client" });
    const choice = await this.ask.select<KeyChoice>({
      what: "the key",
      flag: relayInitialised ? "--key-file FILE" : "--key-file FILE or --generate-key",
      message: "Encryption key",
      parse: (raw) => raw as KeyChoice,
      options,
      defaultValue: options[0].value === "other" ? undefined : options[0].value,
    });
    switch (choice) {
      case "keep":
        return cur.passphrase!.file
          ? { set: ["key", cur.passphrase!.value], keep: true }
          : { keep: true };
      case "own":
        return { set: ["key", stem] };
      case "generate":
        return { set: ["key", stem], generate: ownKey };
      case "other": {
        const p = await this.ask.text({
          what: "the key file",
          flag: "--key-file FILE",
          message: "Key file (the one the other clients of this relay use)",
          check: existingKey,
        });
        return { set: ["key", this.absolute(p)] };
      }
    }
  }

  relaySettings(
    text: string,
    section: string,
    ctx: ParseContext,
    service: Service,
    user: string,
    password: string | undefined,
  ): RelaySettings {
    // The credential file is not written yet: the check gets the answers instead.
    const keys = backendOf(service).setup.loginKeys;
    const inject: Record<string, string> = {};
    if (user !== "") {
      if (keys) {
        inject[keys.user] = user;
        inject[keys.password] = password ?? "";
      } else inject["user"] = user;
    }
    let settings: RelaySettings;
    try {
      settings = readSection(parseIni(text, ANSWERS), section, {
        env: this.env,
        inject,
        skip: new Set(["password"]),
        configDir: ctx.configDir,
      }).relay();
    } catch (e) {
      if (e instanceof ConfigError) {
        throw new EscaleError("usage", e.message.replace(/^<answers>(:\d+)?: /, ""));
      }
      throw e;
    }
    if (user !== "" && !keys) settings.password = password;
    return settings;
  }

  async write(w: {
    configFile: string;
    configDir: string;
    section: string;
    ordered: [string, string][];
    remove: string[];
    createLocal: boolean;
    localPath: string;
    user: string;
    password: string | undefined;
    keyPlan: { generate?: string };
  }): Promise<InitResult> {
    const result: InitResult = { file: w.configFile, section: w.section, added: false };
    if (w.createLocal) await makeFolder(w.localPath, 0o777, this.undo);
    await makeFolder(w.configDir, 0o700, this.undo);
    if (w.keyPlan.generate) {
      await generateKeyFile(w.keyPlan.generate);
      const generated = w.keyPlan.generate;
      this.undo.push(() => Deno.remove(generated));
      result.keyFile = generated;
    }
    if (w.user !== "" && w.password !== undefined) {
      const cred = join(w.configDir, `${fileStem(w.section)}.credential`);
      await rememberFile(cred, this.undo);
      await writeFileAtomic(cred, `${w.user}:${w.password}\n`, 0o600);
      result.credentialFile = cred;
    }
    // A symlinked configuration is written through to its target; undo must restore that.
    await rememberFile(await Deno.realPath(w.configFile).catch(() => w.configFile), this.undo);
    const written = await writeConfigSection(w.configFile, w.section, {
      set: w.ordered,
      remove: w.remove,
    });
    result.added = written.added;
    // Read back exactly as `escale run` will, so a section that would not run is never left.
    const loaded = await loadConfig(w.configFile, { sections: [w.section], env: this.env });
    for (const warning of loaded.warnings) {
      if (this.prompter) this.prompter.warn(warning);
      else this.out(`warning: ${warning}`);
    }
    this.guard();
    return result;
  }
}

/** Runs `escale init`; undoes every write when it fails or is cancelled. */
export async function initCommand(opts: InitOptions, deps: InitDeps = {}): Promise<InitResult> {
  const env = deps.env ?? readEnv(CONFIG_ENV);
  const configFile = chooseConfigFile(opts.config, env);
  const prompter = deps.prompter !== undefined
    ? deps.prompter
    : Deno.stdin.isTerminal()
    ? await terminalPrompter()
    : null;
  const stop = new AbortController();
  // On a terminal, clack reads Ctrl-C as a key; this catches it while no prompt is shown.
  const onSignal = () => stop.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  const wizard = new Wizard(
    opts,
    prompter,
    env,
    deps.hostname ?? hostnameOr("localhost"),
    stop.signal,
    deps,
  );
  try {
    const result = await wizard.run(configFile);
    const done = `${result.added ? "Added" : "Updated"} [${result.section}] in ${result.file}.`;
    const keyNote = result.keyFile &&
      `New key in ${result.keyFile}: copy it to every other client of this relay; without it ` +
        "nobody can read the relay.";
    const start = `Start with: escale run -c ${shellWord(result.file)} -r ${
      shellWord(result.section)
    }`;
    if (prompter) {
      if (keyNote) prompter.warn(keyNote);
      prompter.info(start);
      prompter.outro(done);
    } else {
      const print = deps.print ?? ((line: string) => console.log(line));
      for (const line of [done, keyNote, start]) if (line) print(line);
    }
    return result;
  } catch (e) {
    await wizard.undo.run();
    throw e;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
  }
}
