import { EscaleError } from "../errors/errors.ts";

/**
 * Splits a configured command line (`on failure = notify-send "escale failed"`) into a program
 * and its arguments the way a POSIX shell would for plain words: whitespace separates words,
 * '…' quotes literally, "…" quotes with `\"` and `\\` escapes, and a backslash outside quotes
 * escapes the next character. Nothing else is interpreted (no variables, globs, pipes or
 * redirections): the command is run without a shell, so nothing in it can be injected.
 */
export function splitCommandLine(text: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new EscaleError("config", `unterminated ' quote in the command`);
      word += text.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === "\\" && (text[i + 1] === '"' || text[i + 1] === "\\")) i++;
        word += text[i++];
      }
      if (i >= text.length) throw new EscaleError("config", `unterminated " quote in the command`);
      inWord = true;
      i++;
    } else if (c === "\\" && i + 1 < text.length) {
      word += text[i + 1];
      inWord = true;
      i += 2;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
      i++;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}
