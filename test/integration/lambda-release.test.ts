/**
 * A generation's concurrency release on the real Lambda path — createLambdaHandler in front of the streaming
 * adapter, createLambdaApp with limits in the table (dynalite), the fake OpenRouter and a Secrets Manager on
 * loopback: the release is not on the caller's path (the response stream ends before the release lands), yet the
 * invocation does not return before it has landed, so a frozen instance never holds a user's slot.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { LambdaHandler } from '../../lambda/aws/lambda-handler.js';
import { newSecretString, parseKeyring } from '../../lambda/crypto/keyring.js';
import { startLocalDynamo, type LocalDynamo } from '../../lambda/local/dynalite.js';
import { AccountStore } from '../../lambda/store/account-store.js';
import { keys } from '../../lambda/store/schema.js';
import { FakeOpenRouter } from '../support/fake-openrouter.js';
import { chatCallEvent, gatedLambda } from '../support/gated-lambda.js';
import { RecordingStream } from '../support/lambda-runtime.js';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:OpenRouterMcpSecret-AbCdEf';
const OPENROUTER_KEY = 'sk-or-v1-release-0123456789abcdef0123456789abcdef';

let dynamo: LocalDynamo;
let fake: FakeOpenRouter;
let secrets: Server;
let userId: string;
let token: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  const secretString = newSecretString();
  const store = new AccountStore({ client: dynamo.client, tableName: dynamo.tableName, keyring: parseKeyring(secretString) });
  ({ userId } = await store.createUser('releaser'));
  await store.setOpenRouterKey(userId, OPENROUTER_KEY);
  ({ token } = await store.issueToken(userId, { label: 'release' }));
  await store.settle();
  fake = new FakeOpenRouter([OPENROUTER_KEY]);
  await fake.start();
  // Secrets Manager's JSON protocol, answering GetSecretValue with the server secret.
  secrets = createServer((req, res) => {
    req.resume().on('end', () => {
      res.writeHead(200, { 'Content-Type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify({ ARN: SECRET_ARN, Name: 'OpenRouterMcpSecret', VersionId: 'v1', SecretString: secretString }));
    });
  });
  await new Promise<void>((resolve) => secrets.listen(0, '127.0.0.1', resolve));
  env = {
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIDRELEASETEST',
    AWS_SECRET_ACCESS_KEY: 'release-test-secret',
    ORMCP_SECRET_ARN: SECRET_ARN,
    ORMCP_TABLE_NAME: dynamo.tableName,
    ORMCP_LOG_LEVEL: 'error',
    OPENROUTER_BASE_URL: fake.baseUrl,
    ORMCP_RATE_LIMIT_PER_MINUTE: '100',
    ORMCP_MAX_CONCURRENT_PER_USER: '1',
  };
});

afterAll(async () => {
  secrets?.closeAllConnections();
  await new Promise<void>((resolve) => secrets?.close(() => resolve()) ?? resolve());
  await fake?.stop();
  await dynamo?.close();
});

/** One Lambda instance whose DynamoDB client holds every release write until `gate` opens. */
function instance(events: string[], gate: Promise<void>): LambdaHandler {
  const secretsUrl = `http://127.0.0.1:${(secrets.address() as AddressInfo).port}`;
  return gatedLambda(env, { dynamo: dynamo.endpoint, secrets: secretsUrl }, { events, gate, which: (operation, input) => (operation === 'UpdateItem' && (input as { UpdateExpression?: string }).UpdateExpression?.includes('REMOVE #lease') ? 'release' : undefined) });
}

const chatEvent = (id: number) => chatCallEvent(token, id);

async function leasesHeld(): Promise<number> {
  const res = await dynamo.client.send(new GetCommand({ TableName: dynamo.tableName, Key: keys.limits(userId), ConsistentRead: true }));
  return Number(res.Item?.c ?? 0);
}

test('the response ends before the release lands, and the invocation returns only after it has landed', async () => {
  const events: string[] = [];
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const lambda = instance(events, gate);
  const stream = new RecordingStream();
  stream.on('finish', () => {
    events.push('response ended');
    // The client has its whole answer while the slot is still being given back.
    open();
  });
  let returned = false;
  const invocation = lambda.handler(chatEvent(1), stream).then(() => {
    returned = true;
    events.push('invocation returned');
  });
  await invocation;
  expect(returned).toBe(true);
  const { prelude, body } = stream.parse();
  expect(prelude?.statusCode).toBe(200);
  expect(body).toContain('"result"');
  expect(body).not.toContain('"isError":true');
  expect(events).toEqual(['release sent', 'response ended', 'release landed', 'invocation returned']);
  // Nothing left for a freeze to interrupt: the slot is free when the invocation ends.
  expect(await leasesHeld()).toBe(0);

  // So the next invocation (limit 1) is served, not refused.
  const again = new RecordingStream();
  await lambda.handler(chatEvent(2), again);
  expect(again.parse().body).not.toContain('"isError":true');
  expect(await leasesHeld()).toBe(0);
});
