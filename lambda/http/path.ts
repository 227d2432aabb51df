/**
 * Path helpers for request input. A trailing-slash regex such as /\/+$/ backtracks from every slash (quadratic:
 * 15,000 slashes cost ~190 ms of CPU), so trailing characters are trimmed with one backwards scan instead.
 */

/** `value` without its trailing slashes, in one pass from the end. */
export function trimTrailingSlashes(value: string): string {
  let end = value.length;
  while (end > 0 && value.charCodeAt(end - 1) === 0x2f) end--;
  return end === value.length ? value : value.slice(0, end);
}
