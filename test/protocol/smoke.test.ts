/**
 * `npm run smoke` against the server started as `npm start` starts it (child process, fake OpenRouter): every step
 * passes with the printed token, a wrong token fails it, a missing token or a plain-http remote URL is refused.
 * The script runs as the operator runs it: `tsx scripts/smoke.ts`, from the package.json script line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FakeOpenRouter } from '../support/fake-openrouter.js';
import { freePort, npmStartNodeArgs } from '../support/harness.js';

jest.setTimeout(60_000);

const ROOT = resolve(__dirname, '../..');
const KEY = 'sk-or-v1-smoke-0123456789abcdef0123456789abcdef';

let fake: FakeOpenRouter;
let dataDir: string;
let server: ChildProcess;
let mcpUrl: string;
let token: string;

/** The command `npm run smoke --` runs, read from package.json so the test follows it. */
function smokeCommand(): string[] {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { smoke?: string } };
  const [cmd, ...args] = (pkg.scripts.smoke ?? '').split(/\s+/);
  expect(cmd).toBe('tsx');
  return [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), ...args];
}

function smoke(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { ORMCP_TOKEN: _ignored, ...inherited } = process.env;
  const child = spawn(process.execPath, [...smokeCommand(), ...args], { cwd: ROOT, env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolveRun) => child.once('close', (code) => resolveRun({ code, stdout, stderr })));
}

function lines(stdout: string, status: string): string[] {
  return stdout.split('\n').filter((l) => l.startsWith(status));
}

beforeAll(async () => {
  fake = new FakeOpenRouter([KEY]);
  await fake.start();
  dataDir = mkdtempSync(join(tmpdir(), 'ormcp-smoke-'));
  const port = await freePort();
  server = spawn(process.execPath, npmStartNodeArgs(), {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), ORMCP_DATA_DIR: dataDir, OPENROUTER_BASE_URL: fake.baseUrl, OPENROUTER_API_KEY: KEY },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout = await new Promise<string>((resolveStart, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`npm start did not come up: ${out}`)), 30_000);
    server.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Try it')) {
        clearTimeout(timer);
        resolveStart(out);
      }
    });
    server.once('exit', (code) => reject(new Error(`npm start exited ${code}: ${out}`)));
  });
  mcpUrl = `http://127.0.0.1:${port}/mcp`;
  token = /ormcp_\S+/.exec(stdout)![0];
});

afterAll(async () => {
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
  await fake?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test('with the token every step passes, --spend runs a streamed generation on a free model, exit 0', async () => {
  const run = await smoke([mcpUrl, '--token', token, '--spend']);
  expect(run.stderr).not.toMatch(/FAIL|Error/);
  expect(run.code).toBe(0);
  expect(lines(run.stdout, 'FAIL')).toEqual([]);
  const passed = lines(run.stdout, 'PASS');
  expect(passed).toHaveLength(6);
  expect(passed.join('\n')).toMatch(/discovery/);
  expect(passed.join('\n')).toMatch(/401 without a token/);
  expect(passed.join('\n')).toMatch(/2025-era client/);
  expect(passed.join('\n')).toMatch(/2026-07-28 client/);
  expect(passed.join('\n')).toMatch(/retrieve_available_models/);
  expect(passed.join('\n')).toMatch(/meta-llama\/llama-3\.1-8b-instruct:free: \d+ progress notification\(s\), the first \d+ ms before the result/);
  expect(run.stdout).toContain('smoke: all 6 step(s) passed');
  // The generation went upstream, streamed, on the free model and the user's key.
  const call = fake.calls('/chat/completions').at(-1)!;
  expect(call.body).toMatchObject({ model: 'meta-llama/llama-3.1-8b-instruct:free', stream: true });
  expect(call.apiKey).toBe(KEY);
  expect(fake.violations).toEqual([]);
  expect(run.stdout + run.stderr).not.toContain(token);
});

test('without --spend nothing is generated: the generation is reported as skipped, exit 0 (token from ORMCP_TOKEN)', async () => {
  const before = fake.calls('/chat/completions').length;
  const run = await smoke([mcpUrl], { ORMCP_TOKEN: token });
  expect(run.code).toBe(0);
  expect(lines(run.stdout, 'PASS')).toHaveLength(5);
  expect(lines(run.stdout, 'SKIP')).toHaveLength(1);
  expect(fake.calls('/chat/completions').length).toBe(before);
});

test('a wrong token fails the token steps and the run, exit 1, without printing the token', async () => {
  const wrong = `ormcp_${'x'.repeat(40)}`;
  const run = await smoke([mcpUrl, '--token', wrong]);
  expect(run.code).toBe(1);
  // discovery and the 401 need no token; the three steps that use it fail
  expect(lines(run.stdout, 'PASS')).toHaveLength(2);
  expect(lines(run.stdout, 'FAIL')).toHaveLength(3);
  expect(run.stdout).toContain('smoke: 3 of 5 step(s) failed');
  expect(run.stdout + run.stderr).not.toContain(wrong);
});

test('no token, or a remote URL over plain http: refused before anything is sent, exit 2', async () => {
  const none = await smoke([mcpUrl]);
  expect(none.code).toBe(2);
  expect(none.stderr).toMatch(/no token/);
  const plain = await smoke(['http://example.com/prod/mcp', '--token', token]);
  expect(plain.code).toBe(2);
  expect(plain.stderr).toMatch(/https/);
  expect(plain.stdout + plain.stderr).not.toContain(token);
});
