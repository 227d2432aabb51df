/**
 * Secrets Manager fails at cold start. The real Lambda path — createLambdaHandler (init caching) in front of the
 * streaming adapter, createLambdaApp with the production Secrets Manager and DynamoDB client settings — against a
 * fake Secrets Manager on loopback that throttles, denies, hangs, resets, fails or serves a broken secret, and
 * dynalite for the accounts. Each case: the request gets 503 + Retry-After with a JSON body in bounded time (the
 * hang is cut by the read's deadline), the log names the failure without any secret, the failed build is not
 * kept (the next invocation asks Secrets Manager again), and once it answers, the same instance serves.
 */
import { dynamoClient, secretsClient } from '../../lambda/aws/clients.js';
import { createLambdaApp } from '../../lambda/aws/app.js';
import { createLambdaHandler, type LambdaHandler } from '../../lambda/aws/lambda-handler.js';
import { newSecretString, parseKeyring } from '../../lambda/crypto/keyring.js';
import { startLocalDynamo, type LocalDynamo } from '../../lambda/local/dynalite.js';
import { createLogger } from '../../lambda/observability/logger.js';
import { AccountStore } from '../../lambda/store/account-store.js';
import { FakeSecretsManager, type SecretsMode as Mode } from '../support/fake-secrets-manager.js';
import { fakeHttpResponseStream, RecordingStream, restEvent } from '../support/lambda-runtime.js';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:OpenRouterMcpSecret-AbCdEf';
const OPENROUTER_KEY = 'sk-or-v1-fault-0123456789abcdef0123456789abcdef';

let dynamo: LocalDynamo;
let fake: FakeSecretsManager;
let secretsUrl: string;
let token: string;
let secretString: string;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

const env: NodeJS.ProcessEnv = {
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'AKIDFAULTTEST',
  AWS_SECRET_ACCESS_KEY: 'fault-test-secret',
  AWS_SESSION_TOKEN: 'fault-test-session',
  ORMCP_SECRET_ARN: SECRET_ARN,
  // Short, so the hanging case ends quickly; the production default is a few seconds.
  ORMCP_SECRET_TIMEOUT_MS: '600',
  ORMCP_LOG_LEVEL: 'error',
};

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  dynamo = await startLocalDynamo();
  secretString = newSecretString();
  const store = new AccountStore({ client: dynamo.client, tableName: dynamo.tableName, keyring: parseKeyring(secretString) });
  const { userId } = await store.createUser('cold');
  await store.setOpenRouterKey(userId, OPENROUTER_KEY);
  ({ token } = await store.issueToken(userId, { label: 'cold start' }));
  await store.settle();
  env.ORMCP_TABLE_NAME = dynamo.tableName;
  fake = new FakeSecretsManager(secretString, SECRET_ARN, OPENROUTER_KEY);
  secretsUrl = await fake.start();
});

afterAll(async () => {
  await fake?.stop();
  await dynamo?.close();
  process.off('unhandledRejection', onUnhandled);
});

/** One Lambda instance: fresh clients and init cache, the production client settings, loopback endpoints. */
function instance(logs: string[], overrides: NodeJS.ProcessEnv = {}): LambdaHandler {
  const e = { ...env, ...overrides };
  return createLambdaHandler({
    build: () =>
      createLambdaApp(e, {
        secrets: secretsClient(e, { endpoint: secretsUrl }),
        dynamo: dynamoClient(e, { endpoint: dynamo.endpoint }),
      }),
    logger: createLogger({ level: 'debug', write: (line) => logs.push(line) }),
    HttpResponseStream: fakeHttpResponseStream(),
  });
}

async function toolsList(lambda: LambdaHandler, path = '/mcp'): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const stream = new RecordingStream();
  await lambda.handler(
    restEvent({
      method: 'POST',
      path,
      headers: [
        ['Content-Type', 'application/json'],
        ['Accept', 'application/json, text/event-stream'],
        ['MCP-Protocol-Version', '2025-11-25'],
        ['Authorization', `Bearer ${token}`],
      ],
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
    }),
    stream,
  );
  const { prelude, body } = stream.parse();
  return { status: prelude?.statusCode ?? 0, headers: prelude?.headers ?? {}, body };
}

function expectUnavailable(res: { status: number; headers: Record<string, string>; body: string }): void {
  expect(res.status).toBe(503);
  expect(res.headers['content-type']).toBe('application/json');
  expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  const body = JSON.parse(res.body) as { jsonrpc?: string; error?: { code: number; message: string }; id?: unknown };
  expect(body).toMatchObject({ jsonrpc: '2.0', error: { code: -32000 }, id: null });
  expect(body.error!.message).toMatch(/retry/i);
}

function expectNoSecrets(text: string): void {
  for (const secret of [secretString, token, OPENROUTER_KEY, SECRET_ARN, env.AWS_SECRET_ACCESS_KEY!, env.AWS_SESSION_TOKEN!]) expect(text).not.toContain(secret);
}

// The reason logged for each failure; throttling gets a deadline long enough for the SDK's backoff to run out.
const FAILURES: [Mode, string, NodeJS.ProcessEnv][] = [
  ['throttle', 'ThrottlingException', { ORMCP_SECRET_TIMEOUT_MS: '8000' }],
  ['deny', 'AccessDeniedException', {}],
  ['hang', 'DeadlineExceeded', {}],
  // (the error's name differs between the SDK's builds — TimeoutError/ECONNRESET, or a wrapper under jest — the
  // attempts do not: a reset is retried up to the client's bound)
  ['reset', '"attempts":3', {}],
  ['error500', 'InternalServiceError', {}],
  ['empty', 'EmptySecretString', {}],
  ['malformed', 'MalformedSecret', {}],
];

test.each(FAILURES)('Secrets Manager %s: 503 + Retry-After, logged without secrets, not cached, then recovers', async (mode, logged, overrides) => {
  const logs: string[] = [];
  const lambda = instance(logs, overrides);
  fake.mode = mode;
  fake.requests = 0;

  const first = await toolsList(lambda);
  expectUnavailable(first);
  expect(fake.requests).toBeGreaterThan(0);
  const line = logs.find((l) => l.includes('cold start failed'));
  expect(line).toBeDefined();
  expect(line).toContain(logged);
  expect(JSON.parse(line!)).toMatchObject({ level: 'error', error: 'ServerSecretUnavailable' });

  // Still failing: the next invocation asks again instead of replaying the cached failure.
  const before = fake.requests;
  expectUnavailable(await toolsList(lambda));
  expect(fake.requests).toBeGreaterThan(before);

  // Recovered: the same instance serves, and keeps its app (no further reads).
  fake.mode = 'ok';
  const served = await toolsList(lambda);
  expect(served.status).toBe(200);
  expect(served.body).toContain('"name":"send_chat_completion_request"');
  const reads = fake.requests;
  expect((await toolsList(lambda)).status).toBe(200);
  expect(fake.requests).toBe(reads);

  expectNoSecrets(JSON.stringify([first, logs]));
});

test('pages and OAuth endpoints get the same 503 as a plain JSON error', async () => {
  fake.mode = 'deny';
  const res = await toolsList(instance([]), '/oauth/token');
  expect(res.status).toBe(503);
  expect(res.headers['retry-after']).toBeDefined();
  expect(JSON.parse(res.body)).toMatchObject({ error: 'temporarily_unavailable' });
});

test('a build started at module load that fails is retried by the first request, and never goes unhandled', async () => {
  const logs: string[] = [];
  const lambda = instance(logs);
  fake.mode = 'deny';
  fake.requests = 0;
  lambda.prewarm();
  // The event arrives once Secrets Manager works again: this request builds anew and is served.
  await new Promise((resolve) => setTimeout(resolve, 50));
  fake.mode = 'ok';
  const res = await toolsList(lambda);
  expect(res.status).toBe(200);
  expect(logs.some((l) => l.includes('AccessDeniedException'))).toBe(true);

  // A prewarm that is still failing when the event arrives: the request waits for it, then tries once itself.
  const again = instance([]);
  fake.mode = 'hang';
  again.prewarm();
  setTimeout(() => (fake.mode = 'ok'), 100);
  expect((await toolsList(again)).status).toBe(200);

  await new Promise((resolve) => setImmediate(resolve));
  expect(unhandled).toEqual([]);
});

test('paths with a million slashes are classified in linear time while the app is unavailable', async () => {
  // Attack: /\/+$/ tried from every slash of a run that is followed by another character, failing each time —
  // quadratic, ~70-190 ms of CPU for 15,000 slashes, minutes for a million; the trim is one backwards scan now.
  fake.mode = 'deny';
  const res = await toolsList(instance([]), `/${'/'.repeat(1_000_000)}x`);
  expect(res.status).toBe(503);
  expect(JSON.parse(res.body)).toMatchObject({ error: 'temporarily_unavailable' });
  expectUnavailable(await toolsList(instance([]), `/mcp${'/'.repeat(1_000_000)}`));
});
