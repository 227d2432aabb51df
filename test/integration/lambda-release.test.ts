/**
 * A generation's concurrency release on the real Lambda path — createLambdaHandler in front of the streaming
 * adapter, createLambdaApp with limits in the table (dynalite), the fake OpenRouter and a Secrets Manager on
 * loopback: the release is not on the caller's path (the response stream ends before the release lands), yet the
 * invocation does not return before it has landed, so a frozen instance never holds a user's slot.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { LambdaHandler } from '../../lambda/aws/lambda-handler.js';
import { keys } from '../../lambda/store/schema.js';
import { chatCallEvent, startLambdaWorld, type LambdaWorld } from '../support/gated-lambda.js';
import { RecordingStream } from '../support/lambda-runtime.js';

let world: LambdaWorld;
let userId: string;
let token: string;

beforeAll(async () => {
  world = await startLambdaWorld('releaser', { ORMCP_RATE_LIMIT_PER_MINUTE: '100', ORMCP_MAX_CONCURRENT_PER_USER: '1' });
  ({ userId, token } = world);
});

afterAll(async () => {
  await world?.close();
});

/** One Lambda instance whose DynamoDB client holds every release write until `gate` opens. */
function instance(events: string[], gate: Promise<void>): LambdaHandler {
  return world.instance(events, gate, (operation, input) => (operation === 'UpdateItem' && (input as { UpdateExpression?: string }).UpdateExpression?.includes('REMOVE #lease') ? 'release' : undefined));
}

const chatEvent = (id: number) => chatCallEvent(token, id);

async function leasesHeld(): Promise<number> {
  const res = await world.dynamo.client.send(new GetCommand({ TableName: world.dynamo.tableName, Key: keys.limits(userId), ConsistentRead: true }));
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
