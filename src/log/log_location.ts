/**
 * The default `log file` of a configuration, after Escale: the configuration's path with its
 * extension replaced by `.log` (`~/.config/escale/escale.conf` → `~/.config/escale/escale.log`).
 * Escale replaced a path under `/etc` by `./log`, relative to whatever folder the process
 * started in; a configuration in `/etc` logs to `/var/log/escale/<name>.log` instead, the usual
 * place for a system service.
 */
export function defaultLogFile(configFile: string): string {
  const slash = configFile.lastIndexOf("/");
  const dir = slash >= 0 ? configFile.slice(0, slash) : ".";
  const base = configFile.slice(slash + 1);
  const dot = base.lastIndexOf(".");
  const stem = dot > 0 ? base.slice(0, dot) : base;
  if (dir === "/etc" || dir.startsWith("/etc/")) return `/var/log/escale/${stem}.log`;
  return `${dir || "/"}/${stem}.log`.replace(/^\/\//, "/");
}
