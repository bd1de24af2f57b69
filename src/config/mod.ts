/**
 * The configuration layer's public surface: import from here rather than from the files behind
 * it, so the split between them can change.
 */
export { defaultConfigPath, findConfigFile, type FindConfigOptions } from "./find_config.ts";
export { loadConfig, type LoadConfigOptions } from "./load_config.ts";
export { type CompiledFilters, compileFilters } from "./filters.ts";
export { DEVIATIONS } from "./deviations.ts";
export {
  lookupOption,
  optionDefault,
  OPTIONS,
  type OptionSpec,
  PROTOCOLS,
  RCLONE_ALIASES,
} from "./options.ts";
export { backendFor, backendOf, BACKENDS } from "./backends/registry.ts";
export type { Backend } from "./backends/backend.ts";
export { MODE_HELP, MODES, parseMode } from "./modes.ts";
export { parseDuration, parseShare, parseSize } from "./units.ts";
export type {
  ConflictStrategy,
  FilterSettings,
  GlobalSettings,
  LoadedConfig,
  Mode,
  RelayProtocol,
  RelaySettings,
  SectionSettings,
} from "./settings.ts";
