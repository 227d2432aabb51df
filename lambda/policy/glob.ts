/**
 * Model-id globs for the operator policy (`openai/*`, `*:free`, `anthropic/claude-*-4*`): `*` matches any run of
 * characters (including `/`), every other character matches itself, case-insensitively (a deny list must not be
 * sidestepped by spelling an id in capitals). No `?`, no classes, no regex built from configuration: a match is
 * one left-to-right pass, so it takes time linear in pattern plus id, whatever the pattern.
 *
 * Why that is enough: with only `*`, a pattern is literal pieces separated by stars; the first piece must be a
 * prefix, the last a suffix, and the middle ones must occur in order in between. Taking each middle piece at its
 * leftmost occurrence never loses a match (a later occurrence only leaves less room for the rest), so there is no
 * backtracking; each leftmost occurrence is found with KMP, whose scans never move backwards through the id.
 */

/** What an operator may write in a glob: model-id characters plus `*`. */
export const GLOB_PATTERN = /^[A-Za-z0-9._:/@~*-]{1,200}$/;

/** Counts character comparisons, so a test can show the cost stays linear without timing anything. */
export interface MatchCounter {
  steps: number;
}

export interface Glob {
  readonly source: string;
  test(id: string, counter?: MatchCounter): boolean;
}

interface Piece {
  text: string;
  /** KMP failure function: fail[i] = length of the longest proper border of text[0..i]. */
  fail: number[];
}

export function compileGlob(source: string): Glob {
  const parts = source.toLowerCase().split('*');
  if (parts.length === 1) {
    const exact = parts[0]!;
    return { source, test: (id) => id.toLowerCase() === exact };
  }
  const head = parts[0]!;
  const tail = parts[parts.length - 1]!;
  const middle = parts.slice(1, -1).filter((p) => p.length > 0).map(piece);
  return { source, test: (id, counter) => matchStars(head, middle, tail, id.toLowerCase(), counter) };
}

/** One-off match; compile once with compileGlob when matching many ids (the catalog). */
export function globMatch(pattern: string, id: string, counter?: MatchCounter): boolean {
  return compileGlob(pattern).test(id, counter);
}

function matchStars(head: string, middle: Piece[], tail: string, id: string, counter?: MatchCounter): boolean {
  if (head.length + tail.length > id.length) return false;
  if (!id.startsWith(head) || !id.endsWith(tail)) return false;
  if (counter) counter.steps += head.length + tail.length;
  let at = head.length;
  const end = id.length - tail.length;
  for (const p of middle) {
    const found = indexOfKmp(id, p, at, end, counter);
    if (found < 0) return false;
    at = found + p.text.length;
  }
  return true;
}

function piece(text: string): Piece {
  const fail = new Array<number>(text.length).fill(0);
  let k = 0;
  for (let i = 1; i < text.length; i++) {
    while (k > 0 && text[i] !== text[k]) k = fail[k - 1]!;
    if (text[i] === text[k]) k++;
    fail[i] = k;
  }
  return { text, fail };
}

/** Leftmost start of `p` inside id[from, end), or -1. Each id character is examined a bounded number of times. */
function indexOfKmp(id: string, p: Piece, from: number, end: number, counter?: MatchCounter): number {
  const { text, fail } = p;
  let k = 0;
  for (let i = from; i < end; i++) {
    while (k > 0 && id[i] !== text[k]) {
      k = fail[k - 1]!;
      if (counter) counter.steps++;
    }
    if (counter) counter.steps++;
    if (id[i] === text[k]) k++;
    if (k === text.length) return i - text.length + 1;
  }
  return -1;
}
