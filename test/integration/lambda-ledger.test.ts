/**
 * A paid call's ledger record on the real Lambda path — createLambdaHandler in front of the streaming adapter,
 * createLambdaApp over dynalite, the fake OpenRouter and a Secrets Manager on loopback, with a daily cap so the call
 * holds a reservation: the record is not on the caller's path (the response stream ends before it lands), yet the
 * invocation does not return before it has landed, so a frozen instance never loses a record or leaves the
 * reservation held.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LambdaHandler } from '../../lambda/aws/lambda-handler.js';
import { newSecretString, parseKeyring } from '../../lambda/crypto/keyring.js';
import { startLocalDynamo, type LocalDynamo } from '../../lambda/local/dynalite.js';
import { AccountStore } from '../../lambda/store/account-store.js';
import { LedgerStore } from '../../lambda/store/ledger-store.js';
import { FakeOpenRouter } from '../support/fake-openrouter.js';
import { chatCallEvent, gatedLambda } from '../support/gated-lambda.js';
import { RecordingStream } from '../support/lambda-runtime.js';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:OpenRouterMcpSecret-AbCdEf';
const OPENROUTER_KEY = 'sk-or-v1-ledger-0123456789abcdef0123456789abcdef';

let dynamo: LocalDynamo;
let fake: FakeOpenRouter;
let secrets: Server;
let ledger: LedgerStore;
let userId: string;
let token: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  const secretString = newSecretString();
  const store = new AccountStore({ client: dynamo.client, tableName: dynamo.tableName, keyring: parseKeyring(secretString) });
  ({ userId } = await store.createUser('recorder'));
  await store.setOpenRouterKey(userId, OPENROUTER_KEY);
  ({ token } = await store.issueToken(userId, { label: 'ledger' }));
  await store.settle();
  ledger = new LedgerStore({ client: dynamo.client, tableName: dynamo.tableName });
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
    AWS_ACCESS_KEY_ID: 'AKIDLEDGERTEST',
    AWS_SECRET_ACCESS_KEY: 'ledger-test-secret',
    ORMCP_SECRET_ARN: SECRET_ARN,
    ORMCP_TABLE_NAME: dynamo.tableName,
    ORMCP_LOG_LEVEL: 'error',
    OPENROUTER_BASE_URL: fake.baseUrl,
    // Limits off: only the ledger record is left running after the response.
    ORMCP_RATE_LIMIT_PER_MINUTE: '0',
    ORMCP_MAX_CONCURRENT_PER_USER: '0',
    // A cap the call stays far below: it reserves its worst case first, and its record settles the reservation.
    ORMCP_BUDGET_DAILY_USD: '100',
  };
});

afterAll(async () => {
  secrets?.closeAllConnections();
  await new Promise<void>((resolve) => secrets?.close(() => resolve()) ?? resolve());
  await fake?.stop();
  await dynamo?.close();
});

/** One Lambda instance whose DynamoDB client holds the ledger record's put until `gate` opens. */
function instance(events: string[], gate: Promise<void>): LambdaHandler {
  const secretsUrl = `http://127.0.0.1:${(secrets.address() as AddressInfo).port}`;
  return gatedLambda(env, { dynamo: dynamo.endpoint, secrets: secretsUrl }, { events, gate, which: (operation, input) => (operation === 'PutItem' && (input as { Item?: { sk?: { S?: string } } }).Item?.sk?.S?.startsWith('LEDGER#') ? 'record' : undefined) });
}

const chatEvent = (id: number) => chatCallEvent(token, id);

test('the response ends before the ledger record lands, and the invocation returns only after it has landed', async () => {
  const events: string[] = [];
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const lambda = instance(events, gate);
  const stream = new RecordingStream();
  stream.on('finish', () => {
    events.push('response ended');
    // The client has its whole answer while the record is still being written.
    open();
  });
  await lambda.handler(chatEvent(1), stream).then(() => events.push('invocation returned'));
  const { prelude, body } = stream.parse();
  expect(prelude?.statusCode).toBe(200);
  expect(body).toContain('"result"');
  expect(body).not.toContain('"isError":true');
  expect(events).toEqual(['record sent', 'response ended', 'record landed', 'invocation returned']);

  // Nothing left for a freeze to interrupt: the record is there and the reservation became the real cost.
  const records = await ledger.listRecords(userId);
  expect(records).toHaveLength(1);
  expect(records[0]).toMatchObject({ tool: 'send_chat_completion_request', outcome: 'ok', costSource: 'reported' });
  const usage = await ledger.readUsage(userId);
  expect(usage.usage.daily.reservedUsd).toBe(0);
  expect(usage.usage.daily.spentUsd).toBeCloseTo(records[0]!.costUsd!, 12);
});
