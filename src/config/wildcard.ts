/**
 * Matches a whole name against an Escale wildcard, where only `*` is special (any run of
 * characters, possibly empty) and every other character stands for itself.
 *
 * A RegExp such as `^a.*a.*b$` backtracks: `*a*a*a*a*a*a*b` against a 60-character name took
 * seconds, 25 stars took minutes, and nothing interrupts a running RegExp. Literal segments
 * between stars can instead be placed greedily, each at its leftmost occurrence after the
 * previous one: if a segment fits anywhere, its leftmost place leaves the most room to the
 * rest, so no choice is ever revisited. Each search starts where the previous one ended, so the
 * name is read about once per call, whatever the number of stars.
 */
export function compileWildcard(pattern: string): (name: string) => boolean {
  const segments = pattern.split("*");
  if (segments.length === 1) return (name) => name === pattern;
  const head = segments[0];
  const tail = segments[segments.length - 1];
  const middle = segments.slice(1, -1).filter((s) => s !== "");
  const fixed = head.length + tail.length;
  return (name) => {
    if (name.length < fixed || !name.startsWith(head) || !name.endsWith(tail)) return false;
    // Middle segments must fit between the head and the tail, without overlapping either.
    const end = name.length - tail.length;
    let pos = head.length;
    for (const seg of middle) {
      const at = name.indexOf(seg, pos);
      if (at < 0 || at + seg.length > end) return false;
      pos = at + seg.length;
    }
    return true;
  };
}
