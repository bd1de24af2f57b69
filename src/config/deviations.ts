/**
 * Where escale's configuration deliberately differs from Python Escale 0.7, one line each with
 * the reason, for the README. Everything not listed reads as Escale reads it.
 */
export const DEVIATIONS: string[] = [
  "`username` is an alias of `user`: Escale documents it but ignores it, so logins silently failed.",
  "`preservative` is an alias of `conservative` mode: Escale documents it but rejects it.",
  "`refresh` is a number of seconds (float allowed, units s/m/h/d/w): Escale read it as a boolean first, so `refresh = 1` meant 30 s and `0`/`no` crashed; `0` is refused with 'must be > 0' and `no` (or `never`) means one round, then exit, as Escale's documentation says.",
  "`lock timeout` is a number of seconds (`yes` = 72 h, `0`/`no` = never): Escale read `1` as 'true', i.e. 72 hours.",
  "`%` in values: `%%` is `%` and `%(key)s` expands as before, but any other `%` is literal, so a password like `50%off` works as written (Escale crashed at start-up).",
  "`max pending transfers`, `min split size`, `retry on error` and `priority` are accepted with a warning that they have no effect: in Escale the first crashed every round and the others were never read; escale has `transfers`, `chunk size` and `max retries` instead.",
  "`index`/`compact` has no effect on a native relay (escale always packs small files and chunks big ones in its own format); on a relay shared with Python clients (`relay format = escale-0.7`, or a relay already holding Escale's pages) it selects Escale's index layout as the Python clients have it. `allow page deletion` and `pull overwrite` are accepted and ignored with a warning: escale never empties a page, and compares versions instead of trusting a page blindly.",
  "`checksum`/`hash algorithm` are accepted but content is always hashed with sha256 (a warning is given for any other algorithm); on an Escale 0.7 relay placeholders carry sha512, as Escale's default, and other digests Python clients wrote are checked when they are md5, sha1, sha256 or sha384.",
  "Filter wildcards escape every regex metacharacter except `*`: `a+b.txt` means that literal name (Escale passed `+`, `?`, `(` … through to the regex).",
  "Filter wildcards must match the whole name: `*.txt` no longer matches `notes.txt.bak` (Escale anchored only at the start); `/regex/` patterns keep Escale's start-anchored matching.",
  "`/regex/` filters are RE2 expressions, matched in time linear in the name: Python's `re` could take hours on a pattern like `/^(a+)+b$/`; backreferences and lookaround, which RE2 lacks, are refused when the configuration is loaded.",
  "A folder filter matches a folder when it matches the folder or one of its parents, in both directions: with whole-name wildcards, subfolders of an included folder would otherwise be dropped; Escale also rejected root files on download but accepted them on upload.",
  "An absolute `host directory` stays absolute for `file` relays: Escale made it relative to the working folder, which broke the configuration its own wizard wrote for a local disk.",
  "Relative paths in the configuration are relative to the configuration file's folder, not to the process's working folder, so a daemon finds them wherever it was started.",
  "Looking for a configuration never creates a file: Escale created an empty /etc/escale.conf when run as root; `$ESCALE_CONFIG` is consulted after `-c`.",
  "Setting one option twice in a section through two aliases (`user` and `username`) is an error instead of one value silently winning.",
  "Section names are trimmed and runs of spaces inside keys count as one space.",
  "A section may be named `error` (Escale reserved the name for its own bookkeeping).",
  "`ftp://` means plain FTP and `ftps` means TLS is required: Escale silently fell back from TLS to plain FTP. TLS certificates are verified unless `verify ssl = no` (Escale did not verify by default).",
  "`encryption` offers one authenticated cipher: yes/true/on/1/fernet/aes/aead all select it, blowfish and native are refused with a message; a passphrase alone turns encryption on. The native relay format is escale's own, so Escale 0.7 peers cannot read it; to share a relay with them, `relay format = escale-0.7` (chosen by itself when the relay already holds Escale 0.7 files) writes Escale's placeholder layout, and `encryption = fernet` with Escale's key file (`passphrase = FILE`) reads and writes its Fernet files.",
  "`google`, `googledrive` and the other cloud protocol names go through rclone with the remote named by `host address`; `drive binary` has no effect.",
  "In a multi-user secret file the user name must be followed by a separator (`:`, space, tab, `=`, `,`, `;` or `|`), so user `bob` does not take the line of `bob2`.",
  "`keep alive` is a number of seconds (`yes` = 60 s, `0`/`no` = off); `port` given both in `host address` and as an option must agree (Escale crashed).",
  "Sizes also accept `B` and `KiB`; unknown units are an error at the option's line instead of a logged message and no quota.",
  "Unknown options give a warning with the closest known name, and options of the global part set inside a section give a warning, instead of being ignored silently.",
];
