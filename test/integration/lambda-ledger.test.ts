/**
 * A paid call's ledger record on the real Lambda path — createLambdaHandler in front of the streaming adapter,
 * createLambdaApp over dynalite, the fake OpenRouter and a Secrets Manager on loopback, with a daily cap so the call
 * holds a reservation: the record is not on the caller's path (the response stream ends before it lands), yet the
 * invocation does not return before it has landed, so a frozen instance never loses a record or leaves the
 * reservation held.
 */
import type { LambdaHandler } from '../../lambda/aws/lambda-handler.js';
import { LedgerStore } from '../../lambda/store/ledger-store.js';
import { chatCallEvent, startLambdaWorld, type LambdaWorld } from '../support/gated-lambda.js';
import { RecordingStream } from '../support/lambda-runtime.js';

let world: LambdaWorld;
let ledger: LedgerStore;
let userId: string;
let token: string;

beforeAll(async () => {
  world = await startLambdaWorld('recorder', {
    // Limits off: only the ledger record is left running after the response.
    ORMCP_RATE_LIMIT_PER_MINUTE: '0',
    ORMCP_MAX_CONCURRENT_PER_USER: '0',
    // A cap the call stays far below: it reserves its worst case first, and its record settles the reservation.
    ORMCP_BUDGET_DAILY_USD: '100',
  });
  ({ userId, token } = world);
  ledger = new LedgerStore({ client: world.dynamo.client, tableName: world.dynamo.tableName });
});

afterAll(async () => {
  await world?.close();
});

/** One Lambda instance whose DynamoDB client holds the ledger record's put until `gate` opens. */
function instance(events: string[], gate: Promise<void>): LambdaHandler {
  return world.instance(events, gate, (operation, input) => (operation === 'PutItem' && (input as { Item?: { sk?: { S?: string } } }).Item?.sk?.S?.startsWith('LEDGER#') ? 'record' : undefined));
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
