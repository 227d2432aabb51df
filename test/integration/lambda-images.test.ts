/**
 * generate_image on the AWS path: the Lambda handler (createLambdaHandler → streaming adapter → createLambdaApp,
 * as deployed) with ORMCP_IMAGES_BUCKET set stores the image with a SigV4-signed PutObject and answers with a
 * presigned GET link. S3 is the loopback stand-in (no real S3 can run here), which recomputes both signatures with
 * the function's credentials: the link serves the image's bytes, and the same link tampered with is refused.
 */
import { dynamoClient, secretsClient } from '../../lambda/aws/clients.js';
import { createLambdaApp } from '../../lambda/aws/app.js';
import { createLambdaHandler, type LambdaHandler } from '../../lambda/aws/lambda-handler.js';
import { newSecretString, parseKeyring } from '../../lambda/crypto/keyring.js';
import { startLocalDynamo, type LocalDynamo } from '../../lambda/local/dynalite.js';
import { createLogger } from '../../lambda/observability/logger.js';
import { AccountStore } from '../../lambda/store/account-store.js';
import { FakeOpenRouter, tinyPng } from '../support/fake-openrouter.js';
import { FAKE_S3_CREDENTIALS, FakeS3 } from '../support/fake-s3.js';
import { FakeSecretsManager } from '../support/fake-secrets-manager.js';
import { fakeHttpResponseStream, RecordingStream, restEvent } from '../support/lambda-runtime.js';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:OpenRouterMcpSecret-AbCdEf';
const OPENROUTER_KEY = 'sk-or-v1-images-0123456789abcdef0123456789abcdef';
const SESSION_TOKEN = 'images-test-session-token';

let dynamo: LocalDynamo;
let secrets: FakeSecretsManager;
let openRouter: FakeOpenRouter;
let s3: FakeS3;
let lambda: LambdaHandler;
let token: string;
const logs: string[] = [];

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  const secretString = newSecretString();
  const store = new AccountStore({ client: dynamo.client, tableName: dynamo.tableName, keyring: parseKeyring(secretString) });
  const { userId } = await store.createUser('lambda-images');
  await store.setOpenRouterKey(userId, OPENROUTER_KEY);
  ({ token } = await store.issueToken(userId, { label: 'images' }));
  await store.settle();
  secrets = new FakeSecretsManager(secretString, SECRET_ARN, OPENROUTER_KEY);
  const secretsUrl = await secrets.start();
  openRouter = new FakeOpenRouter([OPENROUTER_KEY]);
  await openRouter.start();
  s3 = new FakeS3('eu-west-1');
  await s3.start();
  const env: NodeJS.ProcessEnv = {
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: FAKE_S3_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: FAKE_S3_CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: SESSION_TOKEN,
    ORMCP_SECRET_ARN: SECRET_ARN,
    ORMCP_TABLE_NAME: dynamo.tableName,
    ORMCP_LOG_LEVEL: 'debug',
    OPENROUTER_BASE_URL: openRouter.baseUrl,
    ORMCP_IMAGES_BUCKET: 'openroutermcp-images-abc123',
    ORMCP_IMAGES_S3_ENDPOINT: s3.endpoint,
  };
  lambda = createLambdaHandler({
    build: () => createLambdaApp(env, { secrets: secretsClient(env, { endpoint: secretsUrl }), dynamo: dynamoClient(env, { endpoint: dynamo.endpoint }) }),
    logger: createLogger({ level: 'debug', write: (line) => logs.push(line) }),
    HttpResponseStream: fakeHttpResponseStream(),
  });
});

afterAll(async () => {
  await s3?.stop();
  await openRouter?.stop();
  await secrets?.stop();
  await dynamo?.close();
});

async function callTool(name: string, args: Record<string, unknown>): Promise<{ content: { type: string; data?: string; mimeType?: string; text?: string }[]; structuredContent: Record<string, any>; isError?: boolean }> {
  const stream = new RecordingStream();
  await lambda.handler(
    restEvent({
      method: 'POST',
      headers: [
        ['Host', 'abc123.execute-api.eu-west-1.amazonaws.com'],
        ['X-Forwarded-Proto', 'https'],
        ['Content-Type', 'application/json'],
        ['Accept', 'application/json, text/event-stream'],
        ['MCP-Protocol-Version', '2025-11-25'],
        ['Authorization', `Bearer ${token}`],
      ],
      body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name, arguments: args } }),
    }),
    stream,
  );
  const answer = stream.sseEvents().find((e) => e.data.id === 3);
  if (!answer?.data.result) throw new Error(`no result: ${stream.parse().body.slice(0, 500)}`);
  return answer.data.result as never;
}

test('the image is put in the bucket and linked with a presigned GET that serves its bytes', async () => {
  const result = await callTool('generate_image', { model: 'google/gemini-2.5-flash-image', prompt: 'a lighthouse' });
  expect(result.isError).toBeFalsy();
  expect(result.content.filter((b) => b.type === 'image')).toEqual([{ type: 'image', data: tinyPng().toString('base64'), mimeType: 'image/png' }]);
  const link = result.structuredContent.images[0];
  expect(link).toMatchObject({ mime_type: 'image/png', bytes: tinyPng().length, inline: true });
  // About an hour, not the bucket's one-day lifecycle.
  const lifetime = Date.parse(link.expires_at) - Date.now();
  expect(lifetime).toBeGreaterThan(3500_000);
  expect(lifetime).toBeLessThanOrEqual(3600_000);

  expect(s3.objects.size).toBe(1);
  const [key, object] = [...s3.objects.entries()][0]!;
  expect(key).toMatch(/^openroutermcp-images-abc123\/images\/[0-9a-f]{16}\/[A-Za-z0-9_-]{43}\.png$/);
  expect(object.contentType).toBe('image/png');
  expect(object.body.equals(tinyPng())).toBe(true);

  const url = new URL(link.url);
  expect(url.origin).toBe(s3.endpoint);
  expect(url.searchParams.get('X-Amz-Expires')).toBe('3600');
  expect(url.searchParams.get('X-Amz-Security-Token')).toBe(SESSION_TOKEN);
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('image/png');
  expect(Buffer.from(await res.arrayBuffer()).equals(tinyPng())).toBe(true);

  url.searchParams.set('X-Amz-Expires', '86400');
  expect((await fetch(url)).status).toBe(403);
  expect(openRouter.violations).toEqual([]);
  // The function's AWS secret never reaches a response or a log line.
  const everything = JSON.stringify(result) + logs.join('\n');
  expect(everything).not.toContain(FAKE_S3_CREDENTIALS.secretAccessKey);
});

test('chat image output goes to the bucket too', async () => {
  const before = s3.objects.size;
  const result = await callTool('send_chat_completion_request', { model: 'google/gemini-2.5-flash-image', modalities: ['image', 'text'], messages: [{ role: 'user', content: 'a boat' }] });
  expect(result.isError).toBeFalsy();
  expect(s3.objects.size).toBe(before + 1);
  expect((await fetch(result.structuredContent.images[0].url)).status).toBe(200);
});

test('S3 refusing the PutObject costs the link, not the answer: the image stays inline, with a notice', async () => {
  const put = s3.objects.size;
  // As if the function's role had lost access: every signature now fails S3's check.
  s3.credentials = { ...FAKE_S3_CREDENTIALS, secretAccessKey: 'rotated-elsewhere' };
  try {
    const result = await callTool('generate_image', { model: 'google/gemini-2.5-flash-image', prompt: 'x' });
    expect(result.isError).toBeFalsy();
    expect(result.content.filter((b) => b.type === 'image')).toHaveLength(1);
    expect(result.structuredContent.images).toEqual([]);
    expect(result.structuredContent.notice).toContain('could not be stored');
    expect(s3.objects.size).toBe(put);
  } finally {
    s3.credentials = FAKE_S3_CREDENTIALS;
  }
});
