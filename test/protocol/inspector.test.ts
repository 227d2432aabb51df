/**
 * The official MCP Inspector CLI (@modelcontextprotocol/inspector) as a third-party client, over real HTTP with
 * a bearer token, in both protocol eras: the 2025 handshake (`legacy`) and the 2026-07-28 stateless revision
 * (`modern`). The Inspector needs Node 22, so it runs as a child process on the node@22 binary from npx, with
 * HOME pointed at a temp dir and an in-memory secret store so it writes nothing outside that dir.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { startHarness, type Harness } from '../support/harness.js';
import { TOOL_NAMES } from '../support/tool-names.js';

const ROOT = resolve(__dirname, '../..');
const INSPECTOR = join(ROOT, 'node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js');
const RUN_TIMEOUT_MS = 30_000;


interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Tool {
  name: string;
  outputSchema?: { type?: string };
  annotations?: Record<string, unknown>;
}

interface CallResult {
  content: { type: string; text?: string }[];
  structuredContent?: Record<string, any>;
  isError?: boolean;
  _meta?: Record<string, unknown>;
}

let h: Harness;
let mcpUrl: string;
let node22: string;
let home: string;

beforeAll(async () => {
  h = await startHarness();
  mcpUrl = `${(await h.listen()).url}/mcp`;
  home = mkdtempSync(join(tmpdir(), 'ormcp-inspector-home-'));
  // Resolve the node@22 binary once (npx caches it); running it directly saves npx's start-up on every call.
  const { stdout } = await promisify(execFile)('npx', ['-y', '-p', 'node@22', 'node', '-e', 'process.stdout.write(process.execPath)'], { cwd: ROOT, timeout: 120_000 });
  node22 = stdout.trim();
}, 150_000);

afterAll(async () => {
  await h?.close();
  if (home) rmSync(home, { recursive: true, force: true });
});

/** One Inspector CLI invocation against the server (async: the server runs in this process). */
function inspector(args: string[], token: string | undefined = h.alice.token): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), MCP_INSPECTOR_SECRET_STORE: 'memory', NO_COLOR: '1' };
  delete env.MCP_CATALOG_PATH;
  delete env.MCP_CLIENT_CONFIG_PATH;
  const full = [
    INSPECTOR,
    '--cli',
    '--transport', 'http',
    // --header is variadic: the URL goes in --server-url so it is never taken for a header.
    '--server-url', mcpUrl,
    ...(token === undefined ? [] : ['--header', `Authorization: Bearer ${token}`]),
    // Never fall back to an interactive OAuth login.
    '--stored-auth-only',
    '--format', 'json',
    '-q',
    ...args,
  ];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(node22, full, { cwd: home, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** The `result` of a successful run; a failed run throws with the CLI's own error envelope. */
function resultOf<T>(run: Run): T {
  if (run.code !== 0) throw new Error(`inspector exited ${run.code}: ${run.stderr.trim() || run.stdout.trim()}`);
  return (JSON.parse(run.stdout) as { result: T }).result;
}

const textOf = (r: CallResult) => r.content.filter((c) => c.type === 'text').map((c) => c.text ?? '').join('\n');

describe.each(['legacy', 'modern'] as const)('Inspector CLI, --protocol-era %s', (era) => {
  const eraArgs = ['--protocol-era', era];

  test('tools/list shows every tool, each with an output schema and annotations', async () => {
    const { tools } = resultOf<{ tools: Tool[] }>(await inspector([...eraArgs, '--method', 'tools/list']));
    expect(tools.map((t) => t.name).sort()).toEqual([...TOOL_NAMES].sort());
    for (const tool of tools) {
      expect({ name: tool.name, outputSchemaType: tool.outputSchema?.type }).toEqual({ name: tool.name, outputSchemaType: 'object' });
      expect({ name: tool.name, annotations: typeof tool.annotations }).toEqual({ name: tool.name, annotations: 'object' });
      expect(tool.annotations).toHaveProperty('readOnlyHint');
    }
  });

  test('tools/list passes the Inspector\'s schema portability lint (--strict): no warning, no error', async () => {
    const run = await inspector([...eraArgs, '--method', 'tools/list', '--strict']);
    expect(run.stderr).not.toMatch(/(Warning|Error): tool|Schema portability/);
    expect(resultOf<{ tools: Tool[] }>(run).tools).toHaveLength(TOOL_NAMES.length);
  });

  test('tools/call send_chat_completion_request reaches OpenRouter with alice\'s key', async () => {
    const before = h.fake.calls('/chat/completions').length;
    const result = resultOf<CallResult>(
      await inspector([
        ...eraArgs,
        '--method', 'tools/call',
        '--tool-name', 'send_chat_completion_request',
        '--tool-args-json', JSON.stringify({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'hi from inspector' }] }),
      ]),
    );
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toContain('Echo: hi from inspector');
    expect(typeof result.structuredContent?.usage?.cost).toBe('number');
    expect(result.structuredContent).toMatchObject({ model: 'openai/gpt-4o', content: 'Echo: hi from inspector' });
    // The 2026-07-28 revision identifies the server on every result; the 2025 handshake does not: proof of the era.
    if (era === 'modern') expect(result._meta).toHaveProperty(['io.modelcontextprotocol/serverInfo']);
    else expect(result._meta?.['io.modelcontextprotocol/serverInfo']).toBeUndefined();

    const upstream = h.fake.calls('/chat/completions').slice(before);
    expect(upstream).toHaveLength(1);
    expect(upstream[0]!.apiKey).toBe(h.alice.openRouterKey);
    expect(upstream[0]!.body).toMatchObject({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'hi from inspector' }] });
  });

  test('tools/call retrieve_available_models finds the Claude models', async () => {
    const result = resultOf<CallResult>(
      await inspector([...eraArgs, '--method', 'tools/call', '--tool-name', 'retrieve_available_models', '--tool-args-json', JSON.stringify({ query: 'claude' })]),
    );
    expect(result.isError).toBeFalsy();
    const ids = (result.structuredContent?.models as { id: string }[]).map((m) => m.id);
    expect(ids).toContain('anthropic/claude-sonnet-4.5');
    expect(ids.every((id) => id.includes('claude'))).toBe(true);
    expect(textOf(result)).toContain('anthropic/claude-sonnet-4.5');
  });
});

test('a wrong token is refused: non-zero exit, auth_required, no interactive login', async () => {
  const upstreamBefore = h.fake.requests.length;
  const run = await inspector(['--method', 'tools/call', '--tool-name', 'get_key_usage', '--tool-args-json', '{}'], 'ormcp_not_a_real_token');
  expect(run.code).not.toBe(0);
  expect(run.stdout.trim()).toBe('');
  const { error } = JSON.parse(run.stderr) as { error: { code: string; message: string } };
  expect(error.code).toBe('auth_required');
  expect(error.message).toContain('invalid_token');
  expect(h.fake.requests.length).toBe(upstreamBefore);
});

test('no token or OpenRouter key appears in the server logs', () => {
  expect(h.logs.length).toBeGreaterThan(0);
  for (const secret of h.secrets()) expect(h.logs.filter((l) => l.includes(secret))).toEqual([]);
});
