/**
 * Counts FTP commands on the client-to-server side of a control connection, as the WAN proxy sees
 * it. After `AUTH` the channel is TLS and nothing more can be read: `encrypted` says so, and the
 * commands that follow are not counted.
 */
export class FtpCommandCounter {
  encrypted = false;
  #line = "";
  readonly #onCommand: (verb: string, line: string) => void;

  /** `line` is the whole command, with the argument of PASS replaced by "***" */
  constructor(onCommand: (verb: string, line: string) => void) {
    this.#onCommand = onCommand;
  }

  push(b: Uint8Array): void {
    for (let i = 0; i < b.length && !this.encrypted; i++) {
      if (b[i] !== 0x0a) {
        if (this.#line.length < 1024) this.#line += String.fromCharCode(b[i]);
        continue;
      }
      const line = this.#line.trim();
      const verb = line.split(" ")[0].toUpperCase();
      this.#line = "";
      if (!verb) continue;
      this.#onCommand(verb, verb === "PASS" ? "PASS ***" : line);
      if (verb === "AUTH") this.encrypted = true;
    }
  }
}
