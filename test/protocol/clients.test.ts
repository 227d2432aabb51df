/**
 * Real MCP clients over real HTTP on loopback: the 2025-era SDK 1.x client and the v2 client negotiating
 * 2026-07-28, against the same endpoint; and `npm start` itself as a child process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { FakeOpenRouter } from '../support/fake-openrouter.js';
import { connectV2, npmStartNodeArgs, startHarness, textOf, type Harness } from '../support/harness.js';
import { TOOL_NAMES } from '../support/tool-names.js';

async function connectV1(url: string, token: string): Promise<ClientV1> {
  const client = new ClientV1({ name: 'test-client-v1', version: '1.0.0' });
  await client.connect(new TransportV1(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  return client;
}

describe('SDK clients over HTTP', () => {
  let h: Harness;
  let url: string;
  beforeAll(async () => {
    h = await startHarness();
    url = `${(await h.listen()).url}/mcp`;
  });
  afterAll(async () => {
    await h.close();
  });

  test('2025-era client (@modelcontextprotocol/sdk 1.x): initialize, list, call with progress', async () => {
    const client = await connectV1(url, h.alice.token);
    expect(client.getServerVersion()).toMatchObject({ name: 'openrouter-mcp' });
    const { tools } = await client.listTools();
    expect(tools).toHaveLength(TOOL_NAMES.length);
    const progress: string[] = [];
    const result = await client.callTool(
      { name: 'send_chat_completion_request', arguments: { model: 'fake/slow', messages: [{ role: 'user', content: 'hi' }] } },
      undefined,
      { onprogress: (p) => progress.push(p.message ?? '') },
    );
    expect(result.isError).toBeFalsy();
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress.join('')).toBe((result.structuredContent as { content: string }).content);
    await client.close();
  });

  test('2026-era client (v2, auto negotiation) on the same endpoint', async () => {
    const client = await connectV2(h.bob.token, { url });
    expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
    const result = await client.callTool({ name: 'retrieve_available_models', arguments: { query: 'sonnet' } });
    expect(textOf(result)).toContain('anthropic/claude-sonnet-4.5');
    const chat = await client.callTool({ name: 'send_chat_completion_request', arguments: { model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'over http' }] } });
    expect(textOf(chat)).toContain('Echo: over http');
    expect(h.fake.calls('/chat/completions').at(-1)!.apiKey).toBe(h.bob.openRouterKey);
    await client.close();
  });

  test('both eras refuse a bad token before any MCP work', async () => {
    await expect(connectV1(url, 'ormcp_nope')).rejects.toThrow();
    await expect(connectV2('ormcp_nope', { url })).rejects.toThrow();
  });

  test('a foreign Host header is refused (DNS rebinding protection)', async () => {
    // fetch() may not set Host, so speak node:http directly.
    const target = new URL(url);
    const status = await new Promise<number>((resolveStatus, reject) => {
      const req = request(
        { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers: { Host: 'evil.example', Authorization: `Bearer ${h.alice.token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' } },
        (res) => {
          res.resume();
          resolveStatus(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }));
    });
    const res = { status };
    expect(res.status).toBe(403);
  });
});

describe('npm start', () => {
  let fake: FakeOpenRouter;
  let dataDir: string;
  let child: ChildProcess | undefined;
  const key = 'sk-or-v1-npmstart-0123456789abcdef';

  beforeAll(async () => {
    fake = new FakeOpenRouter([key]);
    await fake.start();
    dataDir = mkdtempSync(join(tmpdir(), 'ormcp-start-'));
  });
  afterAll(async () => {
    child?.kill('SIGTERM');
    await fake.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Starts the local server on a free port and resolves with its stdout once it prints the URL (and token). */
  function start(port: number, expectToken: boolean): Promise<{ stdout: string; proc: ChildProcess }> {
    const proc = spawn(process.execPath, npmStartNodeArgs(), {
      env: { ...process.env, PORT: String(port), ORMCP_DATA_DIR: dataDir, OPENROUTER_BASE_URL: fake.baseUrl, OPENROUTER_API_KEY: key },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    return new Promise((resolveStart, reject) => {
      let stdout = '';
      const timer = setTimeout(() => reject(new Error(`npm start did not come up: ${stdout}`)), 20_000);
      proc.stdout!.on('data', (d: Buffer) => {
        stdout += d.toString();
        const ready = expectToken ? stdout.includes('Try it') : stdout.includes('listening on');
        if (ready) {
          clearTimeout(timer);
          resolveStart({ stdout, proc });
        }
      });
      proc.once('exit', (code) => reject(new Error(`exited ${code}: ${stdout}`)));
    });
  }

  test('first run creates a user and prints a token once; it works, and keeps working after a restart', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const first = await start(port, true);
    expect(first.stdout).toContain(`http://127.0.0.1:${port}/mcp`);
    const token = /ormcp_\S+/.exec(first.stdout)![0];
    const client = await connectV2(token, { url: `http://127.0.0.1:${port}/mcp` });
    const result = await client.callTool({ name: 'send_chat_completion_request', arguments: { model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'local' }] } });
    expect(textOf(result)).toContain('Echo: local');
    expect(fake.calls('/chat/completions').at(-1)!.apiKey).toBe(key);
    await client.close();
    first.proc.kill('SIGTERM');
    await new Promise((r) => first.proc.once('exit', r));

    // Restart on the same data dir: no new token is printed and the old one still works.
    const second = await start(port, false);
    await new Promise((r) => setTimeout(r, 200));
    expect(second.stdout).not.toMatch(/ormcp_/);
    const again = await connectV2(token, { url: `http://127.0.0.1:${port}/mcp` });
    expect((await again.listTools()).tools).toHaveLength(TOOL_NAMES.length);
    await again.close();
  }, 60_000);
});
