/**
 * The import rules in .dependency-cruiser.cjs hold over lambda/ and infra/: no import cycles, imports run down the
 * floors drawn at the top of that file, the stack shares only contracts with the runtime, and the local-only
 * packages stay out of the Lambda. dependency-cruiser runs as its CLI in a child process: it ships as ES modules
 * only, which the tests' CommonJS transform cannot load.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

const ROOT = resolve(__dirname, '../..');
const CLI = resolve(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');

/** Violations known and being removed; each must still occur (a stale entry fails the test). None today. */
const KNOWN_VIOLATIONS: string[] = [];

interface CruiseResult {
  modules: { source: string }[];
  summary: {
    totalCruised: number;
    violations: { from: string; to: string; rule: { name: string; severity: string }; cycle?: ({ name: string } | string)[] }[];
    ruleSetUsed: { forbidden?: { name: string }[] };
  };
}

let result: CruiseResult;

beforeAll(async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'lambda', 'infra', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], {
    cwd: ROOT,
    maxBuffer: 64 * 1024 * 1024,
  });
  result = JSON.parse(stdout) as CruiseResult;
}, 180_000);

function describeViolation(v: CruiseResult['summary']['violations'][number]): string {
  const cycle = v.cycle?.length ? ` (cycle: ${[v.from, ...v.cycle.map((c) => (typeof c === 'string' ? c : c.name))].join(' → ')})` : '';
  return `${v.rule.name}: ${v.from} → ${v.to}${cycle}`;
}

test('the rules are loaded and both trees are cruised', () => {
  const rules = (result.summary.ruleSetUsed.forbidden ?? []).map((r) => r.name);
  expect(rules).toEqual(expect.arrayContaining(['no-circular', 'layer-app', 'layer-store', 'layer-web', 'infra-only-contracts', 'runtime-not-infra-or-tests', 'local-only-packages']));
  const sources = result.modules.map((m) => m.source);
  // The entry points of the Lambda, npm start, the CLI and the stack: a cruise that missed one would pass vacuously.
  expect(sources).toEqual(expect.arrayContaining(['lambda/aws/index.ts', 'lambda/local/main.ts', 'lambda/cli/main.ts', 'infra/app.ts']));
});

test('no import breaks a rule (besides the known ones listed above)', () => {
  const found = result.summary.violations.map(describeViolation);
  const unexpected = found.filter((v) => !KNOWN_VIOLATIONS.includes(v));
  expect(unexpected).toEqual([]);
});

test('every known violation still occurs (delete an entry once its import is gone)', () => {
  const found = new Set(result.summary.violations.map(describeViolation));
  expect(KNOWN_VIOLATIONS.filter((v) => !found.has(v))).toEqual([]);
});
