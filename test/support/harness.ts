/**
 * Test harness: the real handler with the local account store in a temp dir, two users with their own
 * OpenRouter keys, the fake OpenRouter on loopback, and every log line captured for leak checks.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { loadConfig, type AppConfig } from '../../lambda/app/config.js';
import { createApp, type App } from '../../lambda/app/handler.js';
import { FileStore, loadOrCreateServerSecret } from '../../lambda/auth/file-store.js';
import { listen, type LocalServer } from '../../lambda/local/node-adapter.js';
import { createLogger } from '../../lambda/observability/logger.js';
import { FakeOpenRouter } from './fake-openrouter.js';

export interface TestUser {
  id: string;
  token: string;
  tokenId: string;
  openRouterKey: string;
}

export interface Harness {
  fake: FakeOpenRouter;
  app: App;
  store: FileStore;
  dataDir: string;
  alice: TestUser;
  bob: TestUser;
  logs: string[];
  /** fetch into the handler in-process (no sockets). */
  fetch: typeof fetch;
  /** Every secret the harness created, for leak checks. */
  secrets(): string[];
  /** Serve the handler over real HTTP on 127.0.0.1 (closed with the harness). */
  listen(): Promise<LocalServer>;
  close(): Promise<void>;
}

export async function startHarness(overrides: Partial<AppConfig> = {}): Promise<Harness> {
  const fake = new FakeOpenRouter();
  await fake.start();
  const dataDir = mkdtempSync(join(tmpdir(), 'ormcp-test-'));
  const store = new FileStore(dataDir, loadOrCreateServerSecret(dataDir));
  const makeUser = (name: string): TestUser => {
    const openRouterKey = `sk-or-v1-${name}-${randomBytes(16).toString('hex')}`;
    fake.addKey(openRouterKey);
    const id = store.setUserKey(name, openRouterKey);
    const { token, tokenId } = store.issueToken(id, `${name}'s token`);
    return { id, token, tokenId, openRouterKey };
  };
  const alice = makeUser('alice');
  const bob = makeUser('bob');
  const logs: string[] = [];
  const config = loadConfig({ OPENROUTER_BASE_URL: fake.baseUrl, ORMCP_PROGRESS_INTERVAL_MS: '0' }, overrides);
  const app = createApp({ config, authenticator: store, logger: createLogger({ level: 'debug', write: (l) => logs.push(l) }) });
  const servers: LocalServer[] = [];
  const inProcessFetch = ((input: RequestInfo | URL, init?: RequestInit) => app.fetch(new Request(input, init))) as typeof fetch;
  return {
    fake,
    app,
    store,
    dataDir,
    alice,
    bob,
    logs,
    fetch: inProcessFetch,
    secrets: () => [alice.token, bob.token, alice.openRouterKey, bob.openRouterKey],
    async listen() {
      const s = await listen(app.fetch);
      servers.push(s);
      return s;
    },
    async close() {
      await Promise.all(servers.map((s) => s.close()));
      await app.close();
      await fake.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const IN_PROCESS_URL = 'http://127.0.0.1/mcp';

/** A v2 SDK client; `auto` negotiates the 2026-07-28 revision, `legacy` speaks the 2025 handshake. */
export async function connectV2(
  token: string,
  options: { mode?: 'auto' | 'legacy'; url?: string; fetch?: typeof fetch } = {},
): Promise<Client> {
  const client = new Client({ name: 'test-client-v2', version: '1.0.0' }, { versionNegotiation: { mode: options.mode ?? 'auto' } });
  const transport = new StreamableHTTPClientTransport(new URL(options.url ?? IN_PROCESS_URL), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  await client.connect(transport);
  return client;
}

/** Text of every text block of a tool result. */
export function textOf(result: { content?: unknown }): string {
  const content = (result.content ?? []) as { type: string; text?: string }[];
  return content.filter((c) => c.type === 'text').map((c) => c.text ?? '').join('\n');
}
