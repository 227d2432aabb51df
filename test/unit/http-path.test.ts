import { trimTrailingSlashes } from '../../lambda/http/path.js';

describe('trimTrailingSlashes', () => {
  test.each([
    ['/mcp/', '/mcp'],
    ['/mcp///', '/mcp'],
    ['/mcp', '/mcp'],
    ['/', ''],
    ['', ''],
    ['///', ''],
    ['/a//b/', '/a//b'],
    ['https://example.com/base/', 'https://example.com/base'],
  ])('%j → %j', (input, expected) => {
    expect(trimTrailingSlashes(input)).toBe(expected);
  });

  test('a million slashes after a path are trimmed (a backtracking regex would take hours here)', () => {
    expect(trimTrailingSlashes(`/mcp${'/'.repeat(1_000_000)}`)).toBe('/mcp');
    expect(trimTrailingSlashes(`${'/'.repeat(1_000_000)}x`)).toBe(`${'/'.repeat(1_000_000)}x`);
    expect(trimTrailingSlashes(`${'/'.repeat(1_000_000)}x${'/'.repeat(1_000_000)}`)).toBe(`${'/'.repeat(1_000_000)}x`);
  });
});

test('no source under lambda/ trims with the backtracking /\\/+$/ regex', () => {
  const { readdirSync, readFileSync } = require('node:fs') as typeof import('node:fs');
  const { join } = require('node:path') as typeof import('node:path');
  const root = join(__dirname, '../../lambda');
  const offenders = (readdirSync(root, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.ts'))
    .filter((f) => /\.replace\(\/\\\/\+\$\//.test(readFileSync(join(root, f), 'utf8')));
  expect(offenders).toEqual([]);
});
