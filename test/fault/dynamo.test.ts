/**
 * Fault injection, storage side: the real handler and account store, with DynamoDB (dynalite) behind a TCP
 * proxy that can stop it (connections refused, open ones cut) or slow it down. A request whose token cannot
 * be checked must get a clear 503 + Retry-After in bounded time — never hang, never read as "bad token" —
 * and the next request after recovery must work. Across the file: no unhandled rejection, and the table is
 * byte-for-byte what it was (read directly from dynalite, not through the proxy), per-user limit counters aside.
 */
import type { Client } from '@modelcontextprotocol/client';
import { loadConfig } from '../../lambda/app/config.js';
import { createApp, type App } from '../../lambda/app/app.js';
import { CachedAuthenticator } from '../../lambda/auth/cached-authenticator.js';
import { tableLimiter } from '../../lambda/limits/index.js';
import { newSecretString, parseKeyring } from '../../lambda/crypto/keyring.js';
import { startLocalDynamo, type LocalDynamo } from '../../lambda/local/dynalite.js';
import { createLogger } from '../../lambda/observability/logger.js';
import { AccountStore } from '../../lambda/store/account-store.js';
import { documentClient, dynamoClient, type DynamoTimeouts } from '../../lambda/store/dynamo.js';
import { asDocumentClient, documentClientOverRpc, dynamoRpc } from '../../lambda/store/dynamo-rpc.js';
import { FakeOpenRouter } from '../support/fake-openrouter.js';
import { dumpTable, isCallAccounting, settlesWithin, watchUnhandledRejections, type RejectionWatch } from '../support/faults.js';
import { connectV2, textOf } from '../support/harness.js';
import { TcpProxy } from '../support/tcp-proxy.js';

/** Short limits for most cases, so the suite stays quick; one case runs the production defaults. */
const SHORT: Partial<DynamoTimeouts> = { connectionTimeoutMs: 300, requestTimeoutMs: 300, maxAttempts: 2 };
const HANG_GUARD_MS = 15_000;

interface Server {
  app: App;
  store: AccountStore;
  fetch: typeof fetch;
  close(): Promise<void>;
}

let dynamo: LocalDynamo;
let fake: FakeOpenRouter;
let proxy: TcpProxy;
let rejections: RejectionWatch;
let storedBefore: string;
const logs: string[] = [];
const tokens: { alice: string; bob: string } = { alice: '', bob: '' };
const servers: Server[] = [];
const clients: Client[] = [];

/**
 * The real handler whose account store reaches DynamoDB through the proxy, with the given client limits;
 * `lambda` builds it as the Lambda does: verified tokens cached, per-user limits counted in the same table.
 * `rpc` uses the Lambda's SDK-free client (store/dynamo-rpc.ts) instead of the AWS SDK's.
 */
function serverOverProxy(timeouts: Partial<DynamoTimeouts>, options: { lambda?: { maxConcurrent: number }; rpc?: boolean } = {}): Server {
  const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
  const raw = options.rpc ? dynamoRpc({ endpoint: proxy.endpoint, region: 'local', credentials, timeouts }) : dynamoClient({ endpoint: proxy.endpoint, region: 'local', credentials }, timeouts);
  const client = 'call' in raw ? asDocumentClient(documentClientOverRpc(raw)) : documentClient(raw);
  const store = new AccountStore({ client, tableName: dynamo.tableName, keyring });
  const logger = createLogger({ level: 'debug', write: (l) => logs.push(l) });
  const config = loadConfig({ OPENROUTER_BASE_URL: fake.baseUrl, ORMCP_PROGRESS_INTERVAL_MS: '0' });
  const app = options.lambda
    ? createApp({
        config,
        logger,
        authenticator: new CachedAuthenticator(store, 60_000),
        limiter: tableLimiter({ ratePerMinute: 1_000, maxConcurrent: options.lambda.maxConcurrent }, { client, tableName: dynamo.tableName, logger }),
      })
    : createApp({ config, logger, authenticator: store });
  const server: Server = {
    app,
    store,
    fetch: ((input: RequestInfo | URL, init?: RequestInit) => app.fetch(new Request(input, init))) as typeof fetch,
    close: async () => {
      await app.close();
      await store.settle();
      raw.destroy();
    },
  };
  servers.push(server);
  return server;
}

async function connect(server: Server, token = tokens.alice): Promise<Client> {
  const client = await connectV2(token, { fetch: server.fetch });
  clients.push(client);
  return client;
}

const hello = { name: 'send_chat_completion_request', arguments: { model: 'fake/echo', messages: [{ role: 'user', content: 'still there?' }] } };

/** One tools/call as plain HTTP, to see the status and headers the client gets. */
function rawCall(server: Server, token = tokens.alice): Promise<Response> {
  return server.fetch('http://127.0.0.1/mcp', {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'MCP-Protocol-Version': '2025-11-25' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: hello }),
  });
}

/** The store could not be asked: 503 with Retry-After and a JSON-RPC error saying so; the MCP client sees it too. */
async function expectUnavailable(server: Server, client: Client): Promise<void> {
  const response = await settlesWithin(HANG_GUARD_MS, 'a request while DynamoDB is down', rawCall(server));
  expect(response.status).toBe(503);
  expect(response.headers.get('retry-after')).toBe('5');
  const body = (await response.json()) as { error: { code: number; message: string } };
  expect(body.error).toEqual({ code: -32000, message: expect.stringMatching(/account store is unavailable/) });
  const failed = await settlesWithin(HANG_GUARD_MS, 'an MCP call while DynamoDB is down', client.callTool(hello).then(() => undefined, (err: unknown) => err));
  expect(failed).toBeInstanceOf(Error);
  expect((failed as Error).message).toMatch(/503|account store is unavailable/);
}

async function expectServes(client: Client): Promise<void> {
  const result = await settlesWithin(HANG_GUARD_MS, 'an MCP call after recovery', client.callTool(hello));
  expect(result.isError).toBeFalsy();
  expect(textOf(result)).toContain('Echo: still there?');
}

const keyring = parseKeyring(newSecretString());

beforeAll(async () => {
  rejections = watchUnhandledRejections();
  fake = new FakeOpenRouter();
  await fake.start();
  dynamo = await startLocalDynamo();
  const direct = new AccountStore({ client: dynamo.client, tableName: dynamo.tableName, keyring });
  for (const name of ['alice', 'bob'] as const) {
    const key = `sk-or-v1-${name}-fault-test-key-0000000000`;
    fake.addKey(key);
    const { userId } = await direct.createUser(name);
    await direct.setOpenRouterKey(userId, key);
    tokens[name] = (await direct.issueToken(userId)).token;
  }
  proxy = new TcpProxy(Number(new URL(dynamo.endpoint).port));
  await proxy.start();
  // Every token has been used once (its last-use stamp written), so from here on nothing should write.
  const warm = serverOverProxy(SHORT);
  await connect(warm, tokens.alice);
  await connect(warm, tokens.bob);
  await warm.store.settle();
  storedBefore = await dumpTable(dynamo.endpoint, dynamo.tableName, { skip: isCallAccounting });
});

afterAll(async () => {
  rejections.stop();
  await Promise.all(clients.map((c) => c.close()));
  await proxy?.stop();
  await Promise.all(servers.map((s) => s.close()));
  await fake?.stop();
  await dynamo?.close();
});

test('DynamoDB stopped: 503 + Retry-After at once, and service resumes when it is back', async () => {
  const server = serverOverProxy(SHORT);
  const client = await connect(server);
  await proxy.stop();
  await expectUnavailable(server, client);
  // An operator must be able to tell a broken store from bad tokens.
  expect(logs.some((l) => /authentication backend failed/.test(l))).toBe(true);
  await proxy.start();
  await expectServes(client);
});

test('DynamoDB slower than the client allows: 503 in bounded time, then served again', async () => {
  const server = serverOverProxy(SHORT);
  const client = await connect(server);
  proxy.delayMs = 5_000;
  const before = proxy.accepted;
  await expectUnavailable(server, client);
  expect(proxy.accepted).toBeGreaterThan(before);
  proxy.delayMs = 0;
  await expectServes(client);
});

test('DynamoDB slow but within the limits: still served', async () => {
  const server = serverOverProxy(SHORT);
  const client = await connect(server);
  proxy.delayMs = 30;
  try {
    await expectServes(client);
  } finally {
    proxy.delayMs = 0;
  }
});

test('with the production defaults, a stalled DynamoDB still ends in 503 within a few seconds', async () => {
  const server = serverOverProxy({});
  const client = await connect(server);
  proxy.delayMs = 60_000;
  try {
    await expectUnavailable(server, client);
  } finally {
    proxy.delayMs = 0;
  }
  await expectServes(client);
});

describe('built as the Lambda builds it (token cache, limits in the table)', () => {
  test('DynamoDB down: a token verified moments ago still works (the limits fail open); an unverified one gets 503', async () => {
    const server = serverOverProxy(SHORT, { lambda: { maxConcurrent: 2 } });
    const alice = await connect(server);
    await proxy.stop();
    try {
      await expectServes(alice);
      expect(logs.some((l) => /limit check failed; call allowed/.test(l))).toBe(true);
      const response = await settlesWithin(HANG_GUARD_MS, 'an uncached token while DynamoDB is down', rawCall(server, tokens.bob));
      expect(response.status).toBe(503);
    } finally {
      await proxy.start();
    }
  });

  test('DynamoDB stalled: the limit checks give up in bounded time and the call is served; no slot is leaked', async () => {
    const server = serverOverProxy(SHORT, { lambda: { maxConcurrent: 2 } });
    const alice = await connect(server);
    proxy.delayMs = 60_000;
    try {
      await expectServes(alice);
    } finally {
      proxy.delayMs = 0;
    }
    // Both slots free again: two slow generations at once (they overlap) are both served, not refused.
    const slow = { name: 'send_chat_completion_request', arguments: { model: 'fake/slow', messages: [{ role: 'user', content: 'take your time' }] } };
    const results = await settlesWithin(HANG_GUARD_MS, 'two generations at once', Promise.all([alice.callTool(slow), alice.callTool(slow)]));
    for (const r of results) expect(textOf(r)).toContain('one two three');
  });
});

describe("the Lambda's SDK-free DynamoDB client keeps the same bounds", () => {
  test('DynamoDB stopped: 503 + Retry-After at once, and service resumes when it is back', async () => {
    const server = serverOverProxy(SHORT, { rpc: true });
    const client = await connect(server);
    await proxy.stop();
    await expectUnavailable(server, client);
    await proxy.start();
    await expectServes(client);
  });

  test('with the production defaults, a stalled DynamoDB still ends in 503 within a few seconds', async () => {
    const server = serverOverProxy({}, { rpc: true });
    const client = await connect(server);
    proxy.delayMs = 60_000;
    try {
      await expectUnavailable(server, client);
    } finally {
      proxy.delayMs = 0;
    }
    await expectServes(client);
  });

  test('built as the Lambda builds it: DynamoDB stalled, the limit checks give up in bounded time and the call is served', async () => {
    const server = serverOverProxy(SHORT, { lambda: { maxConcurrent: 2 }, rpc: true });
    const alice = await connect(server);
    proxy.delayMs = 60_000;
    try {
      await expectServes(alice);
    } finally {
      proxy.delayMs = 0;
    }
  });
});

describe('afterwards (runs last)', () => {
  test('no unhandled rejection, and nothing stored changed', async () => {
    await Promise.all(servers.map((s) => s.store.settle()));
    expect(await dumpTable(dynamo.endpoint, dynamo.tableName, { skip: isCallAccounting })).toBe(storedBefore);
    expect(rejections.seen).toEqual([]);
  });
});
