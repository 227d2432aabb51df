/**
 * The deployed bundle under AWS's own Lambda runtime client. lambda/aws/index.ts is built with the construct's
 * esbuild options (ESM, minified, createRequire banner) and run by aws-lambda-ric in a child process, which finds
 * the `awslambda` globals where the managed Node.js runtime puts them, polls a loopback Runtime API
 * (../support/runtime-api.ts) for API Gateway REST proxy events and streams each response back as Lambda does:
 * `Lambda-Runtime-Function-Response-Mode: streaming`, a chunked body opening with the HTTP-integration prelude
 * (JSON, 8 NUL bytes). The function reads its secret from a fake Secrets Manager, its table from dynalite and
 * calls the fake OpenRouter, all on 127.0.0.1 through the standard AWS_ENDPOINT_URL_* overrides.
 *
 * A broken prelude, a missing global, an ESM loading problem or a response that is buffered instead of streamed
 * fails here, where the adapter's unit tests (which use test doubles of the runtime) would stay green.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newSecretString, parseKeyring } from '../../lambda/crypto/keyring.js';
import { startLocalDynamo, type LocalDynamo } from '../../lambda/local/dynalite.js';
import { AccountStore } from '../../lambda/store/account-store.js';
import { FakeOpenRouter } from '../support/fake-openrouter.js';
import { FakeSecretsManager } from '../support/fake-secrets-manager.js';
import { restEvent } from '../support/lambda-runtime.js';
import { buildFunctionBundle, startRicInstance, type RicInstance } from '../support/lambda-ric.js';
import { HTTP_INTEGRATION_CONTENT_TYPE, LambdaRuntimeApi, parseIntegrationResponse, sseMessages, type InvocationResult } from '../support/runtime-api.js';

jest.setTimeout(60_000);

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:OpenRouterMcpSecret-AbCdEf';
const OPENROUTER_KEY = 'sk-or-v1-runtime-0123456789abcdef0123456789abcdef';
const MAX_BODY_BYTES = 8192;

const GATEWAY_HEADERS: [string, string][] = [
  ['Host', 'abc123.execute-api.eu-west-1.amazonaws.com'],
  ['User-Agent', 'runtime-test'],
  ['X-Forwarded-For', '203.0.113.7'],
  ['X-Forwarded-Port', '443'],
  ['X-Forwarded-Proto', 'https'],
  ['X-Amzn-Trace-Id', 'Root=1-67891233-abcdef012345678912345678'],
];
const ERA_2025: [string, string][] = [
  ['Content-Type', 'application/json'],
  ['Accept', 'application/json, text/event-stream'],
  ['MCP-Protocol-Version', '2025-11-25'],
];
const ERA_2026_META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'runtime-test', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

let taskRoot: string;
let dynamo: LocalDynamo;
let openRouter: FakeOpenRouter;
let secrets: FakeSecretsManager;
let runtime: LambdaRuntimeApi;
let runtimeApi: string;
let functionEnv: Record<string, string>;
let token: string;
let secretString: string;
/** The warm instance most tests share; cold-start tests start their own. */
let warm: RicInstance;

beforeAll(async () => {
  taskRoot = mkdtempSync(join(tmpdir(), 'ormcp-ric-'));
  const [, localDynamo] = await Promise.all([buildFunctionBundle(taskRoot), startLocalDynamo()]);
  dynamo = localDynamo;
  secretString = newSecretString();
  const store = new AccountStore({ client: dynamo.client, tableName: dynamo.tableName, keyring: parseKeyring(secretString) });
  const { userId } = await store.createUser('runtime');
  await store.setOpenRouterKey(userId, OPENROUTER_KEY);
  ({ token } = await store.issueToken(userId, { label: 'runtime test' }));
  await store.settle();

  openRouter = new FakeOpenRouter([OPENROUTER_KEY]);
  await openRouter.start();
  secrets = new FakeSecretsManager(secretString, SECRET_ARN, OPENROUTER_KEY);
  const secretsUrl = await secrets.start();
  runtime = new LambdaRuntimeApi();
  runtimeApi = await runtime.start();
  // The construct's environment (infra/constructs/mcp-function.ts), with loopback endpoints for the AWS services.
  functionEnv = {
    ORMCP_TABLE_NAME: dynamo.tableName,
    ORMCP_SECRET_ARN: SECRET_ARN,
    ORMCP_LOG_LEVEL: 'info',
    ORMCP_RATE_LIMIT_PER_MINUTE: '0',
    ORMCP_MAX_CONCURRENT_PER_USER: '4',
    ORMCP_METRICS: 'emf',
    ORMCP_METRICS_SERVICE: 'openrouter-mcp',
    ORMCP_PUBLIC_URL: 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod',
    ORMCP_MAX_BODY_BYTES: String(MAX_BODY_BYTES),
    OPENROUTER_BASE_URL: openRouter.baseUrl,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsUrl,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
  };
  warm = startRicInstance({ taskRoot, runtimeApi, env: functionEnv });
});

afterAll(async () => {
  await warm?.stop();
  await runtime?.stop();
  await secrets?.stop();
  await openRouter?.stop();
  await dynamo?.close();
  rmSync(taskRoot, { recursive: true, force: true });
});

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits (bounded: 10 s) until `condition` holds; fails the test if it never does. */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !condition(); i++) await delay(100);
  expect(condition()).toBe(true);
}

/** A REST proxy event for POST /mcp with the 2025-era headers, the token and `headers` (which replace same-named ones). */
function mcpEvent(body: unknown, headers: [string, string][] = [], auth = true) {
  const own = new Set(headers.map(([name]) => name.toLowerCase()));
  const base = [...GATEWAY_HEADERS, ...ERA_2025, ...(auth ? ([['Authorization', `Bearer ${token}`]] as [string, string][]) : [])];
  return restEvent({
    method: 'POST',
    path: '/mcp',
    headers: [...base.filter(([name]) => !own.has(name.toLowerCase())), ...headers],
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

function chatCall(id: number, model: string, meta: Record<string, unknown> = {}) {
  return { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'send_chat_completion_request', arguments: { model, messages: [{ role: 'user', content: 'hi' }] }, _meta: meta } };
}

/** What reached the Runtime API, read as API Gateway reads it; fails on anything but a clean streamed response. */
function streamed(result: InvocationResult) {
  expect(result.outcome).toBe('response');
  expect(result.responseMode).toBe('streaming');
  expect(result.contentType).toBe(HTTP_INTEGRATION_CONTENT_TYPE);
  expect(result.trailers).toEqual({});
  const parsed = parseIntegrationResponse(result);
  expect(parsed.prelude).toBeDefined();
  return { ...parsed, prelude: parsed.prelude! };
}

/** A generation with progress: the prelude first, then progress events as separate chunks while the upstream writes, then the result. */
function expectStreamedProgress(result: InvocationResult, id: number) {
  const { prelude, bodyChunks } = streamed(result);
  expect(prelude.statusCode).toBe(200);
  expect(prelude.headers['content-type']).toMatch(/^text\/event-stream/);
  const events = sseMessages(bodyChunks);
  const progress = events.filter((e) => e.data.method === 'notifications/progress');
  const final = events.find((e) => e.data.id === id && e.data.result);
  expect(final).toBeDefined();
  const structured = final!.data.result!.structuredContent as { content: string; model: string };
  expect(structured.model).toBe('fake/slow');
  expect(progress.map((p) => (p.data.params as { message?: string }).message ?? '').join('')).toBe(structured.content);
  // Streamed, not buffered: at least 3 progress events reached the Runtime API in separate chunks before the result.
  const early = progress.filter((p) => p.at < final!.at);
  expect(early.length).toBeGreaterThanOrEqual(3);
  expect(new Set(early.map((p) => p.at)).size).toBe(early.length);
  // and the prelude arrived before the first of them
  expect(result.chunks[0]!.at).toBeLessThanOrEqual(progress[0]!.at);
  return progress;
}

test('2025-era tools/call: progress streams through the runtime client as it is generated', async () => {
  const result = await runtime.invoke(mcpEvent(chatCall(7, 'fake/slow', { progressToken: 'p25' })));
  const progress = expectStreamedProgress(result, 7);
  for (const p of progress) expect((p.data.params as { progressToken?: unknown }).progressToken).toBe('p25');
  expect(openRouter.calls('/chat/completions').at(-1)!.apiKey).toBe(OPENROUTER_KEY);
});

test('2026-era tools/call: the same streaming, negotiated per request', async () => {
  const result = await runtime.invoke(
    mcpEvent(chatCall(8, 'fake/slow', { ...ERA_2026_META, progressToken: 'p26' }), [
      ['MCP-Protocol-Version', '2026-07-28'],
      ['Mcp-Method', 'tools/call'],
      ['Mcp-Name', 'send_chat_completion_request'],
    ]),
  );
  const progress = expectStreamedProgress(result, 8);
  for (const p of progress) expect((p.data.params as { progressToken?: unknown }).progressToken).toBe('p26');
});

test('401 without a token: status and the WWW-Authenticate challenge in the prelude', async () => {
  const result = await runtime.invoke(mcpEvent({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }, [], false));
  const { prelude, body } = streamed(result);
  expect(prelude.statusCode).toBe(401);
  expect(prelude.headers['www-authenticate']).toMatch(/^Bearer .*resource_metadata="https:\/\/abc123\.execute-api\.eu-west-1\.amazonaws\.com\/prod\/\.well-known\/oauth-protected-resource/);
  expect(JSON.parse(body)).toMatchObject({ error: 'invalid_token' });
});

test('413 for a body over the limit', async () => {
  const big = JSON.stringify({ ...chatCall(9, 'fake/echo'), padding: 'x'.repeat(MAX_BODY_BYTES) });
  const { prelude, body } = streamed(await runtime.invoke(mcpEvent(big)));
  expect(prelude.statusCode).toBe(413);
  expect(body).toMatch(/too large|exceeds|limit/i);
});

test('an upstream error is a tool error in a 200, streamed whole', async () => {
  const { prelude, body } = streamed(await runtime.invoke(mcpEvent(chatCall(10, 'fake/error-502'))));
  expect(prelude.statusCode).toBe(200);
  const message = prelude.headers['content-type']?.startsWith('text/event-stream')
    ? sseMessages([{ at: 0, text: body }]).find((e) => e.data.id === 10)!.data
    : (JSON.parse(body) as { result?: Record<string, unknown> });
  expect(message.result).toMatchObject({ isError: true });
  expect(JSON.stringify(message.result)).not.toContain(OPENROUTER_KEY);
});

test('a caller that goes away mid-stream: the upstream generation stops, and the next event is served', async () => {
  const abandoned = openRouter.abandonedStreams;
  const cut = await runtime.invoke(mcpEvent(chatCall(11, 'fake/slow', { progressToken: 'gone' })), {
    disconnectAfter: (received) => received.includes('notifications/progress'),
  });
  expect(cut.outcome).toBe('disconnected');
  // The upstream generation stops: its connection is closed before the last chunk, so no more tokens are paid for.
  await until(() => openRouter.abandonedStreams > abandoned);

  // The runtime client does not survive it: aws-lambda-ric 3.3.0 leaves the rejection of its own response request
  // unhandled when the Runtime API drops the connection, and its handler for that posts an invocation error and ends
  // the process (exit 128), usually before the adapter's own abort has run its course (so it is the process's end
  // that closes the upstream connection here). Lambda answers that with a new instance: a cold start. Should a
  // later ric keep the process alive, this fails here, and the instance should then be shown to serve on.
  await until(() => warm.process.exitCode !== null);
  expect(warm.process.exitCode).toBe(128);
  warm = startRicInstance({ taskRoot, runtimeApi, env: functionEnv });
  const { prelude, body } = streamed(await runtime.invoke(mcpEvent({ jsonrpc: '2.0', id: 12, method: 'tools/list', params: {} })));
  expect(prelude.statusCode).toBe(200);
  expect(body).toContain('send_chat_completion_request');
});

test('two invocations on one warm instance: one process, one secret read, the app reused', async () => {
  const reads = secrets.requests;
  const polls = runtime.polls;
  const first = streamed(await runtime.invoke(mcpEvent({ jsonrpc: '2.0', id: 13, method: 'tools/list', params: {} })));
  const second = streamed(await runtime.invoke(mcpEvent({ jsonrpc: '2.0', id: 14, method: 'tools/call', params: { name: 'retrieve_available_models', arguments: { query: 'echo' } } })));
  expect(first.prelude.statusCode).toBe(200);
  expect(second.prelude.statusCode).toBe(200);
  expect(second.body).toContain('fake/echo');
  expect(secrets.requests).toBe(reads);
  expect(runtime.polls).toBeGreaterThanOrEqual(polls + 2);
  expect(warm.process.exitCode).toBeNull();
  expect(runtime.initErrors).toEqual([]);
  // Its log is the runtime's structured lines and our JSON; no secret in it.
  for (const secret of [secretString, token, OPENROUTER_KEY]) expect(warm.output()).not.toContain(secret);
});

test('cold start without the secret: 503 + Retry-After through the runtime, then the same instance recovers', async () => {
  // A new instance, alone: the warm one would take the events too.
  await warm.stop();
  await runtime.idle();
  secrets.mode = 'deny';
  const cold = startRicInstance({ taskRoot, runtimeApi, env: functionEnv });
  try {
    const { prelude, body } = streamed(await runtime.invoke(mcpEvent({ jsonrpc: '2.0', id: 15, method: 'tools/list', params: {} })));
    expect(prelude.statusCode).toBe(503);
    expect(Number(prelude.headers['retry-after'])).toBeGreaterThan(0);
    expect(JSON.parse(body)).toMatchObject({ jsonrpc: '2.0', error: { code: -32000 }, id: null });

    secrets.mode = 'ok';
    const again = streamed(await runtime.invoke(mcpEvent({ jsonrpc: '2.0', id: 16, method: 'tools/list', params: {} })));
    expect(again.prelude.statusCode).toBe(200);
    expect(runtime.initErrors).toEqual([]);
    expect(cold.output()).not.toContain(secretString);
  } finally {
    secrets.mode = 'ok';
    await cold.stop();
  }
});

test('a bundle that cannot start reports an init error to the Runtime API instead of hanging', async () => {
  // The ric's switch that withholds the `awslambda` global: the module throws at load, as it would anywhere but Lambda.
  const broken = startRicInstance({ taskRoot, runtimeApi, env: { ...functionEnv, AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA: 'true' } });
  try {
    const error = await runtime.nextInitError();
    expect(error.type).toBe('Error');
    expect(JSON.parse(error.body)).toMatchObject({ errorType: 'Error', errorMessage: expect.stringMatching(/awslambda global is missing/) });
    expect(await broken.exited).not.toBe(0);
  } finally {
    await broken.stop();
  }
});
