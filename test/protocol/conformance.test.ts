/**
 * The official MCP conformance suite (@modelcontextprotocol/conformance) against the real handler over real
 * HTTP, once per spec revision. The runner cannot send headers, so it talks to an authenticating loopback
 * proxy that adds alice's bearer token and passes Host/Origin through untouched.
 *
 * Pass criterion (not the runner's exit code): the set of failed scenarios (any check with status FAILURE;
 * WARNING-only is not a failure) must equal the scenarios listed for that revision in
 * conformance-baseline.yml. A failure missing from the baseline is a regression; a baseline entry that
 * passed (or did not run) is stale and must be removed. An entry may narrow itself to a list of check ids.
 *
 * The suite needs Node 22, so it runs as a child process through `npx -p node@22`. Results go to a temp dir
 * that is removed afterwards (set CONFORMANCE_KEEP_RESULTS=1 to keep it for inspection).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { startAuthProxy } from '../support/auth-proxy.js';
import { startHarness } from '../support/harness.js';

const ROOT = resolve(__dirname, '../..');
const CONFORMANCE_BIN = join(ROOT, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
const BASELINE_PATH = join(__dirname, 'conformance-baseline.yml');
const VERSIONS = ['2025-11-25', '2026-07-28'] as const;
const RUN_TIMEOUT_MS = 180_000;
const SCENARIO_TIMEOUT_MS = 30_000;

interface Check {
  id: string;
  name?: string;
  status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | string;
  errorMessage?: string;
}

interface BaselineEntry {
  scenario: string;
  reason: string;
  /**
   * Optional: the ids of the checks allowed to fail. For a scenario that mixes fixture-dependent and generic
   * checks (server-stateless), so a regression in one of its generic checks is still caught.
   */
  checks?: string[];
}

interface ScenarioResult {
  scenario: string;
  checks: Check[];
  /** Set when the scenario left a result directory without a readable checks.json. */
  broken?: string;
}

function loadBaseline(): Record<string, BaselineEntry[]> {
  const doc = parse(readFileSync(BASELINE_PATH, 'utf8')) as Record<string, unknown>;
  const out: Record<string, BaselineEntry[]> = {};
  for (const [version, entries] of Object.entries(doc ?? {})) {
    if (!Array.isArray(entries)) throw new Error(`baseline ${version}: expected a list of {scenario, reason}`);
    out[version] = entries.map((e, i) => {
      const { scenario, reason, checks, ...rest } = (e ?? {}) as Partial<BaselineEntry>;
      if (typeof scenario !== 'string' || !scenario.trim()) throw new Error(`baseline ${version}[${i}]: missing scenario`);
      if (typeof reason !== 'string' || !reason.trim() || /[\r\n]/.test(reason.trim())) {
        throw new Error(`baseline ${version} ${scenario}: every entry needs a one-line reason`);
      }
      if (checks !== undefined && (!Array.isArray(checks) || !checks.length || checks.some((c) => typeof c !== 'string'))) {
        throw new Error(`baseline ${version} ${scenario}: checks must be a non-empty list of check ids`);
      }
      if (Object.keys(rest).length) throw new Error(`baseline ${version} ${scenario}: unknown keys ${Object.keys(rest).join(', ')}`);
      return { scenario: scenario.trim(), reason: reason.trim(), ...(checks ? { checks } : {}) };
    });
    const names = out[version]!.map((e) => e.scenario);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup) throw new Error(`baseline ${version}: ${dup} is listed twice`);
  }
  return out;
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; signal: string | null; output: string; timedOut: boolean }> {
  return new Promise((resolvePromise, reject) => {
    // Own process group, so a timeout can stop npx and the node@22 child it started (and nothing else).
    const child = spawn(cmd, args, { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, output, timedOut });
    });
  });
}

/** Result directories are named `server-<scenario>-<ISO timestamp with - for : and .>`. */
const RESULT_DIR = /^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/;

function readResults(dir: string): ScenarioResult[] {
  const results: ScenarioResult[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const scenario = RESULT_DIR.exec(entry.name)?.[1];
    if (!scenario) continue;
    const file = join(dir, entry.name, 'checks.json');
    if (!existsSync(file)) {
      results.push({ scenario, checks: [], broken: 'no checks.json' });
      continue;
    }
    try {
      const checks = JSON.parse(readFileSync(file, 'utf8')) as Check[];
      if (!Array.isArray(checks)) throw new Error('not an array');
      results.push({ scenario, checks });
    } catch (err) {
      results.push({ scenario, checks: [], broken: `unreadable checks.json (${(err as Error).message})` });
    }
  }
  return results.sort((a, b) => a.scenario.localeCompare(b.scenario));
}

const baseline = loadBaseline();

test('the baseline names only known revisions', () => {
  expect(Object.keys(baseline).filter((v) => !(VERSIONS as readonly string[]).includes(v))).toEqual([]);
});

describe.each(VERSIONS)('MCP conformance suite, requirements %s', (version) => {
  test(
    'fails exactly the baselined (fixture-dependent) scenarios',
    async () => {
      const h = await startHarness();
      const outDir = mkdtempSync(join(tmpdir(), `ormcp-conformance-${version}-`));
      try {
        const server = await h.listen();
        const proxy = await startAuthProxy(server.url, h.alice.token);
        let exec: Awaited<ReturnType<typeof run>>;
        try {
          exec = await run(
            'npx',
            ['-y', '-p', 'node@22', 'node', CONFORMANCE_BIN, 'server', '--url', `${proxy.url}/mcp`, '--requirements', version, '-o', outDir, '--timeout', String(SCENARIO_TIMEOUT_MS)],
            RUN_TIMEOUT_MS,
          );
        } finally {
          await proxy.close();
        }
        const tail = exec.output.split('\n').slice(-40).join('\n');
        if (exec.timedOut) throw new Error(`conformance ${version} did not finish within ${RUN_TIMEOUT_MS / 1000}s:\n${tail}`);

        const results = readResults(outDir);
        // A crash before any scenario ran is a failure whatever the exit code says.
        if (!results.some((r) => r.checks.length > 0)) {
          throw new Error(`conformance ${version} produced no checks.json (exit ${exec.code ?? exec.signal}):\n${tail}`);
        }

        const failed = results.filter((r) => r.broken || r.checks.some((c) => c.status === 'FAILURE'));
        const failedNames = new Set(failed.map((r) => r.scenario));
        const ran = new Set(results.map((r) => r.scenario));
        const expected = baseline[version] ?? [];

        const all = results.flatMap((r) => r.checks);
        const count = (s: string) => all.filter((c) => c.status === s).length;
        const passedScenarios = results.length - failed.length;
        const failedChecks = (r: ScenarioResult) => r.checks.filter((c) => c.status === 'FAILURE');
        const entryFor = (name: string) => expected.find((e) => e.scenario === name);
        // A baselined scenario with a check list may fail only those checks, and each of them must still fail.
        const unexpected = failed.filter((r) => {
          const entry = entryFor(r.scenario);
          return !entry || (entry.checks && failedChecks(r).some((c) => !entry.checks!.includes(c.id)));
        });
        const stale = expected.filter((e) => {
          if (!failedNames.has(e.scenario)) return true;
          const ids = failedChecks(results.find((r) => r.scenario === e.scenario)!).map((c) => c.id);
          return e.checks ? e.checks.some((id) => !ids.includes(id)) : false;
        });
        process.stdout.write(
          `conformance ${version}: ${passedScenarios} scenarios passed, ${failed.length} failed` +
            `${unexpected.length ? ` (${unexpected.length} NOT in baseline)` : ' (all in baseline)'}` +
            `${stale.length ? `, ${stale.length} stale baseline entr${stale.length === 1 ? 'y' : 'ies'}` : ''}` +
            `; checks: ${count('SUCCESS')} passed, ${count('FAILURE')} failed, ${count('WARNING')} warnings\n`,
        );

        const describeFailure = (r: ScenarioResult) => {
          const allowed = entryFor(r.scenario)?.checks ?? [];
          const shown = failedChecks(r).filter((c) => !allowed.includes(c.id));
          return `${r.scenario}: ${r.broken ?? shown.map((c) => `[${c.id}] ${c.errorMessage ?? c.name ?? ''}`.trim()).join('; ')}`;
        };
        const describeStale = (e: BaselineEntry) => {
          if (!ran.has(e.scenario)) return `${e.scenario}: did not run (remove it from conformance-baseline.yml)`;
          if (!failedNames.has(e.scenario)) return `${e.scenario}: passed (remove it from conformance-baseline.yml)`;
          const ids = failedChecks(results.find((r) => r.scenario === e.scenario)!).map((c) => c.id);
          return `${e.scenario}: checks no longer failing: ${e.checks!.filter((id) => !ids.includes(id)).join(', ')} (remove them from conformance-baseline.yml)`;
        };
        expect({
          unexpectedFailures: unexpected.map(describeFailure),
          staleBaselineEntries: stale.map(describeStale),
        }).toEqual({ unexpectedFailures: [], staleBaselineEntries: [] });
      } finally {
        if (process.env.CONFORMANCE_KEEP_RESULTS) process.stdout.write(`conformance ${version}: results kept in ${outDir}\n`);
        else rmSync(outDir, { recursive: true, force: true });
        await h.close();
      }
    },
    RUN_TIMEOUT_MS + 30_000,
  );
});
