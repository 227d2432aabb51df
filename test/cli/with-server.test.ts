/**
 * The design's done-when: with `npm start` running (no OPENROUTER_API_KEY, so it creates no user), the CLI
 * issues a token for a new user on the same data dir; a real MCP client uses it against the fake OpenRouter
 * with that user's key; after `ormcp token revoke`, the next request with the token is a 401.
 * While the server runs it owns the LevelDB and the CLI goes through the dynalite it advertises, so CLI runs
 * may overlap.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FakeOpenRouter } from '../support/fake-openrouter.js';
import { connectV2, freePort, npmStartNodeArgs, textOf } from '../support/harness.js';
import { childEnv, spawnCli, TOKEN_LINE } from './support.js';
import { LOCAL_AUTH_CACHE_MS } from '../../lambda/auth/cached-authenticator.js';

describe('ormcp while npm start is running', () => {
  const aliceKey = 'sk-or-v1-alice-with-server-0123456789';
  let fake: FakeOpenRouter;
  let dataDir: string;
  let server: ChildProcess | undefined;
  let serverOut = '';
  let url: string;

  beforeAll(async () => {
    fake = new FakeOpenRouter([aliceKey]);
    await fake.start();
    dataDir = mkdtempSync(join(tmpdir(), 'ormcp-cli-server-'));
    const port = await freePort();
    const proc = spawn(process.execPath, npmStartNodeArgs(), {
      env: childEnv({ PORT: String(port), ORMCP_DATA_DIR: dataDir, OPENROUTER_BASE_URL: fake.baseUrl }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server = proc;
    await new Promise<void>((resolveStart, reject) => {
      const timer = setTimeout(() => reject(new Error(`npm start did not come up: ${serverOut}`)), 20_000);
      proc.stdout!.on('data', (d: Buffer) => {
        serverOut += d.toString();
        if (serverOut.includes('No users yet')) {
          clearTimeout(timer);
          resolveStart();
        }
      });
      proc.once('exit', (code) => reject(new Error(`npm start exited ${code}: ${serverOut}`)));
    });
    url = `http://127.0.0.1:${port}/mcp`;
    expect(serverOut).toContain(`listening on ${url}`);
  }, 30_000);

  afterAll(async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server!.once('exit', r));
      server.kill('SIGTERM');
      await exited;
    }
    await fake.stop();
    // A stopped server no longer advertises its URL.
    expect(existsSync(join(dataDir, 'server-url'))).toBe(false);
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('client-config prints the URL the server really listens on (its PORT, not the default), from the data dir', async () => {
    expect(statSync(join(dataDir, 'server-url')).mode & 0o777).toBe(0o600);
    const r = await spawnCli(['client-config', 'claude-code', '--data-dir', dataDir]);
    expect(r).toMatchObject({ code: 0, stdout: `claude mcp add --transport http openrouter ${url} --header "Authorization: Bearer <your-token>"\n` });
  }, 30_000);

  test('issue a token with the CLI, use it from an MCP client, revoke it: the next request is a 401', async () => {
    const issued = await spawnCli(['token', 'issue', '--user', 'alice', '--label', 'e2e', '--data-dir', dataDir], { env: { OPENROUTER_API_KEY: aliceKey } });
    expect(issued.code).toBe(0);
    expect(issued.stdout).toMatch(/\n$/);
    const token = issued.stdout.trim();
    expect(token).toMatch(TOKEN_LINE);
    const tokenId = token.slice(6, 22);

    const client = await connectV2(token, { url });
    const chat = await client.callTool({
      name: 'send_chat_completion_request',
      arguments: { model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'issued by ormcp' }] },
    });
    expect(chat.isError).toBeFalsy();
    expect(textOf(chat)).toContain('Echo: issued by ormcp');
    expect(fake.calls('/chat/completions').at(-1)!.apiKey).toBe(aliceKey);
    await client.close();

    // Overlapping CLI runs are fine while the server owns the data dir.
    const [list, users] = await Promise.all([
      spawnCli(['token', 'list', '--json', '--data-dir', dataDir]),
      spawnCli(['user', 'list', '--json', '--data-dir', dataDir]),
    ]);
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ tokenId, user: 'alice', label: 'e2e', status: 'active', lastUsedAt: expect.any(String) })]);
    expect(JSON.parse(users.stdout)).toEqual([expect.objectContaining({ name: 'alice', hasKey: true, tokens: 1, activeTokens: 1 })]);

    const revoked = await spawnCli(['token', 'revoke', tokenId, '--data-dir', dataDir]);
    expect(revoked).toMatchObject({ code: 0, stdout: `Revoked token ${tokenId} (user "alice", "e2e").\n` });

    // npm start remembers a verified token for LOCAL_AUTH_CACHE_MS: the revocation holds once that has passed.
    await new Promise((r) => setTimeout(r, LOCAL_AUTH_CACHE_MS + 200));
    const res = await fetch(url, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
    await expect(connectV2(token, { url })).rejects.toThrow();
    expect(serverOut).not.toContain(token);
  }, 60_000);

  test('a new conversation continues at once, and its calls reach `ormcp usage` within the write-behind bound', async () => {
    const issued = await spawnCli(['token', 'issue', '--user', 'carol', '--data-dir', dataDir], { env: { OPENROUTER_API_KEY: aliceKey } });
    expect(issued.code).toBe(0);
    const client = await connectV2(issued.stdout.trim(), { url });
    try {
      const first = await client.callTool({ name: 'send_chat_completion_request', arguments: { model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'remember the word heron' }] } });
      const conversationId = (first.structuredContent as { conversation_id: string }).conversation_id;
      // Written after the answer (write-behind): the very next call, on the same server, still finds it.
      const next = await client.callTool({ name: 'send_chat_completion_request', arguments: { model: 'openai/gpt-4o', conversation_id: conversationId, messages: [{ role: 'user', content: 'which word?' }] } });
      expect(next.isError).toBeFalsy();
      const sent = fake.calls('/chat/completions').at(-1)!.body as { messages: { content: string }[] };
      expect(sent.messages.map((m) => m.content)).toEqual(['remember the word heron', 'Echo: remember the word heron', 'which word?']);
    } finally {
      await client.close();
    }
    // The ledger records wait up to 500 ms in the server before they are written; the CLI then reads them.
    let calls = 0;
    for (let attempt = 0; attempt < 10 && calls < 2; attempt++) {
      const usage = await spawnCli(['usage', '--user', 'carol', '--json', '--data-dir', dataDir]);
      calls = (JSON.parse(usage.stdout) as { total: { calls: number } }).total.calls;
    }
    expect(calls).toBe(2);
  }, 60_000);

  test('a stop writes the ledger records still waiting: a call just before SIGTERM is in `ormcp usage` afterwards', async () => {
    const issued = await spawnCli(['token', 'issue', '--user', 'dave', '--data-dir', dataDir], { env: { OPENROUTER_API_KEY: aliceKey } });
    const client = await connectV2(issued.stdout.trim(), { url });
    const r = await client.callTool({ name: 'send_chat_completion_request', arguments: { model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'last call' }] } });
    expect(r.isError).toBeFalsy();
    await client.close();
    const exited = new Promise((resolveExit) => server!.once('exit', resolveExit));
    server!.kill('SIGTERM');
    await exited;
    // No server now: the CLI opens the data dir itself.
    const usage = await spawnCli(['usage', '--user', 'dave', '--json', '--data-dir', dataDir]);
    expect((JSON.parse(usage.stdout) as { total: { calls: number } }).total.calls).toBe(1);
  }, 60_000);
});
