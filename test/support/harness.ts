/**
 * Test harness: the real handler with the account store on dynalite (in memory), two users with their own
 * OpenRouter keys, the fake OpenRouter on loopback, and every log line captured for leak checks.
 */
import { randomBytes } from 'node:crypto';
import { createServer as createNetServer } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { loadConfig, type AppConfig } from '../../lambda/app/config.js';
import type { App } from '../../lambda/app/app.js';
import { composeApp, type ComposedApp, type SignInParts } from '../../lambda/app/compose.js';
import { openStores } from '../../lambda/app/stores.js';
import type { OAuthStore } from '../../lambda/store/oauth-store.js';
import { newSecretString, parseKeyring, type Keyring } from '../../lambda/crypto/keyring.js';
import { listen, type LocalServer } from '../../lambda/local/node-adapter.js';
import { createLogger } from '../../lambda/observability/logger.js';
import { emfMetrics } from '../../lambda/observability/metrics.js';
import type { AccountStore } from '../../lambda/store/account-store.js';
import type { ConversationStore, ConversationStoreOptions } from '../../lambda/store/conversation-store.js';
import type { LedgerStore } from '../../lambda/store/ledger-store.js';
import { startLocalDynamo, type LocalDynamo } from '../../lambda/local/dynalite.js';
import { LocalImageStore } from '../../lambda/images/local-image-store.js';
import { FakeOpenRouter } from './fake-openrouter.js';

export interface TestUser {
  id: string;
  token: string;
  tokenId: string;
  openRouterKey: string;
}

export interface Harness {
  fake: FakeOpenRouter;
  app: ComposedApp;
  store: AccountStore;
  oauth: OAuthStore;
  dynamo: LocalDynamo;
  keyring: Keyring;
  /** The usage ledger the app writes (budgets, records). */
  ledger: LedgerStore;
  /** A user's ledger records once every call so far has written its record (they land after the result). */
  records(userId: string, options?: Parameters<LedgerStore['listRecords']>[1]): ReturnType<LedgerStore['listRecords']>;
  /** Another user with their own OpenRouter key (known to the fake) and a token; with caps, the operator's budget override. */
  newUser(options?: { caps?: { daily?: number; weekly?: number; monthly?: number } }): Promise<TestUser>;
  /** A user's usage once every call so far has written its record. */
  usage(userId: string): ReturnType<LedgerStore['readUsage']>;
  /** Absent when the config turned conversation storage off. */
  conversations: ConversationStore | undefined;
  alice: TestUser;
  bob: TestUser;
  logs: string[];
  /** Generated images, as `npm start` keeps them (a temporary directory; links on http://127.0.0.1/files/…). */
  images: LocalImageStore;
  /** Moves the image store's clock (to expire links without waiting). */
  imageClock: { skewMs: number };
  /** Every EMF metrics document the app wrote (tool calls and HTTP responses), parsed. */
  metrics: Record<string, unknown>[];
  /** fetch into the handler in-process (no sockets). */
  fetch: typeof fetch;
  /** Every secret the harness created, for leak checks. */
  secrets(): string[];
  /** Serve the handler over real HTTP on 127.0.0.1 (closed with the harness). */
  listen(): Promise<LocalServer>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** Serve sign-in, OAuth and the pages (with this identity provider and client-metadata fetcher, if given). */
  signIn?: SignInParts;
  /** Conversation store settings beyond the config's TTL (size bound, part size, clock). */
  conversations?: Pick<ConversationStoreOptions, 'maxBytes' | 'partChars' | 'now'>;
}

export async function startHarness(overrides: Partial<AppConfig> = {}, options: HarnessOptions = {}): Promise<Harness> {
  const fake = new FakeOpenRouter();
  await fake.start();
  // A real DynamoDB API (dynalite, in memory) behind the real account store.
  const dynamo = await startLocalDynamo();
  const keyring = parseKeyring(newSecretString());
  const table = { client: dynamo.client, tableName: dynamo.tableName };
  // Per-user limits are off unless a test turns them on (overrides.limits): most tests make many calls as alice.
  const config = loadConfig({ OPENROUTER_BASE_URL: fake.baseUrl, ORMCP_OPENROUTER_AUTH_URL: fake.authUrl, ORMCP_PROGRESS_INTERVAL_MS: '0', ORMCP_RATE_LIMIT_PER_MINUTE: '0', ORMCP_MAX_CONCURRENT_PER_USER: '0' }, overrides);
  const stores = openStores(table, keyring, undefined, { conversationTtlHours: config.conversationTtlHours, ...(options.conversations ? { conversations: options.conversations } : {}) });
  const { accounts: store, oauth, ledger, conversations } = stores;
  const makeUser = async (name: string): Promise<TestUser> => {
    const openRouterKey = `sk-or-v1-${name}-${randomBytes(16).toString('hex')}`;
    fake.addKey(openRouterKey);
    const { userId: id } = await store.createUser(name);
    await store.setOpenRouterKey(id, openRouterKey);
    const { token, info } = await store.issueToken(id, { label: `${name}'s token` });
    return { id, token, tokenId: info.tokenId, openRouterKey };
  };
  const alice = await makeUser('alice');
  const bob = await makeUser('bob');
  const logs: string[] = [];
  const logger = createLogger({ level: 'debug', write: (l) => logs.push(l) });
  const metricDocs: Record<string, unknown>[] = [];
  const metrics = emfMetrics({ service: 'test', write: (l) => metricDocs.push(JSON.parse(l) as Record<string, unknown>) });
  const imagesDir = mkdtempSync(join(tmpdir(), 'ormcp-harness-images-'));
  const imageClock = { skewMs: 0 };
  const images = new LocalImageStore({ dir: imagesDir, baseUrl: config.publicUrl ?? 'http://127.0.0.1', now: () => Date.now() + imageClock.skewMs });
  const app = await composeApp({
    config,
    logger,
    metrics,
    stores,
    // A generous budget: dynalite's first update parses its expression grammar, which takes seconds on a busy machine.
    limiter: { kind: 'table', table, timeoutMs: 15_000 },
    images: { store: images, files: images },
    ...(options.signIn ? { signIn: options.signIn } : {}),
  });
  const servers: LocalServer[] = [];
  const inProcessFetch = ((input: RequestInfo | URL, init?: RequestInit) => app.fetch(new Request(input, init))) as typeof fetch;
  return {
    fake,
    app,
    store,
    oauth,
    dynamo,
    keyring,
    ledger,
    async newUser(options = {}) {
      const user = await makeUser(`u${randomBytes(4).toString('hex')}`);
      if (options.caps) await ledger.setBudgetOverride(user.id, options.caps);
      return user;
    },
    async records(userId, options) {
      await app.settle();
      return ledger.listRecords(userId, options);
    },
    async usage(userId) {
      await app.settle();
      return ledger.readUsage(userId);
    },
    conversations,
    alice,
    bob,
    logs,
    images,
    imageClock,
    metrics: metricDocs,
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
      await app.settle();
      await dynamo.close();
      rmSync(imagesDir, { recursive: true, force: true });
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

/** The node arguments of package.json's `start` script, so tests start the server exactly as `npm start` does. */
export function npmStartNodeArgs(): string[] {
  const pkg = JSON.parse(readFileSync(resolve(__dirname, '../../package.json'), 'utf8')) as { scripts: { start: string } };
  const [cmd, ...args] = pkg.scripts.start.split(/\s+/);
  if (cmd !== 'node') throw new Error(`the start script does not run node directly: ${pkg.scripts.start}`);
  return args;
}

/** A TCP port free on 127.0.0.1 right now (for servers that must know their port before they start). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolvePort(port));
    });
  });
}

/**
 * The per-user rate limit counts in fixed one-minute windows: a test whose calls must share one window starts them
 * only when at least `marginMs` of the current minute is left.
 */
export async function awayFromMinuteEnd(marginMs = 5_000): Promise<void> {
  const intoMinute = Date.now() % 60_000;
  if (intoMinute > 60_000 - marginMs) await new Promise((r) => setTimeout(r, 60_000 - intoMinute + 50));
}
