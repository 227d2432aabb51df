/**
 * Nesting depth of parsed JSON input. JSON.parse accepts any depth, but JSON.stringify, zod and most other
 * consumers recurse and throw RangeError on very deep values; input is refused above a bound instead. The walk is
 * iterative and visits each value at most once, so it cannot overflow the stack itself.
 */

/** Deepest nesting accepted in free-form JSON arguments (JSON Schemas nest far less than this in practice). */
export const MAX_JSON_DEPTH = 64;

/** Whether `value` nests objects/arrays at most `maxDepth` levels deep (a scalar is depth 0). */
export function jsonDepthWithin(value: unknown, maxDepth = MAX_JSON_DEPTH): boolean {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const { value: current, depth } = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth + 1 > maxDepth) return false;
    const children = Array.isArray(current) ? current : Object.values(current);
    for (const child of children) if (child !== null && typeof child === 'object') stack.push({ value: child, depth: depth + 1 });
  }
  return true;
}
