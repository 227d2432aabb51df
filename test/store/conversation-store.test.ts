/**
 * The conversation store against dynalite: items copied to another user, conversation or snapshot do not read (the
 * ciphertexts are bound to where they were written), a rotated server secret still reads older conversations, the
 * TTL moves with each use, parts stay under the item limit, and the size bound drops whole exchanges only.
 */
import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { parseKeyring } from '../../lambda/crypto/keyring.js';
import { startLocalDynamo, type LocalDynamo } from '../../lambda/local/dynalite.js';
import { ConversationStore, boundExchanges, stringLength, titleOf } from '../../lambda/store/conversation-store.js';
import { keys } from '../../lambda/store/schema.js';

const V1 = 'a'.repeat(48);
const V2 = 'b'.repeat(48);
let dynamo: LocalDynamo;
let clock = new Date('2026-03-01T12:00:00Z');

function store(secret = JSON.stringify({ current: 'v1', v1: V1 }), options: { partChars?: number; maxBytes?: number; inlineChars?: number } = {}): ConversationStore {
  return new ConversationStore({ client: dynamo.client, tableName: dynamo.tableName, keyring: parseKeyring(secret), ttlHours: 24, now: () => clock, ...options });
}

async function items(userId: string, prefix: string): Promise<Record<string, unknown>[]> {
  const res = await dynamo.client.send(new QueryCommand({ TableName: dynamo.tableName, KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)', ExpressionAttributeValues: { ':pk': `USER#${userId}`, ':p': prefix } }));
  return (res.Items ?? []) as Record<string, unknown>[];
}

const exchange = (text: string) => ({ turns: [{ role: 'user', content: text }, { role: 'assistant', content: `re: ${text}` }], model: 'openai/gpt-4o', costUsd: 0.01 });

beforeAll(async () => {
  dynamo = await startLocalDynamo();
});

afterAll(async () => {
  await dynamo.close();
});

test('a head and parts copied under another user, or parts under another conversation, do not read', async () => {
  const s = store(undefined, { inlineChars: 0 });
  const a = s.newId();
  const b = s.newId();
  await s.append('u-alice', a, exchange('alice secret plan'), { create: true });
  await s.append('u-alice', b, exchange('another one'), { create: true });
  // The whole conversation copied item by item under mallory's partition.
  for (const item of [...(await items('u-alice', `CONV#${a}`)), ...(await items('u-alice', `CONVPART#${a}#`))]) {
    await dynamo.client.send(new PutCommand({ TableName: dynamo.tableName, Item: { ...item, pk: 'USER#u-mallory' } }));
  }
  expect(await s.load('u-mallory', a)).toBeUndefined();
  expect((await s.list('u-mallory')).conversations).toEqual([]);
  // Conversation a's parts put in place of b's current snapshot (same user): b no longer reads, a is untouched.
  const headB = (await dynamo.client.send(new GetCommand({ TableName: dynamo.tableName, Key: keys.conversation('u-alice', b) }))).Item!;
  const [partA] = await items('u-alice', `CONVPART#${a}#`);
  await dynamo.client.send(new PutCommand({ TableName: dynamo.tableName, Item: { ...partA, ...keys.conversationPart('u-alice', b, String(headB.snapshot), 0) } }));
  expect(await s.load('u-alice', b)).toBeUndefined();
  expect((await s.load('u-alice', a))!.turns[0]).toEqual({ role: 'user', content: 'alice secret plan' });
});

test("inline turns copied under another user, or into another conversation's head, do not read", async () => {
  const s = store();
  const a = s.newId();
  const b = s.newId();
  await s.append('u-alice', a, exchange('alice inline plan'), { create: true });
  await s.append('u-alice', b, exchange('another one'), { create: true });
  const headA = (await dynamo.client.send(new GetCommand({ TableName: dynamo.tableName, Key: keys.conversation('u-alice', a) }))).Item!;
  expect(typeof headA.data).toBe('string');
  await dynamo.client.send(new PutCommand({ TableName: dynamo.tableName, Item: { ...headA, pk: 'USER#u-mallory' } }));
  expect(await s.load('u-mallory', a)).toBeUndefined();
  // a's sealed turns in b's head (same user, b's own snapshot id): b no longer reads, a is untouched.
  const headB = (await dynamo.client.send(new GetCommand({ TableName: dynamo.tableName, Key: keys.conversation('u-alice', b) }))).Item!;
  await dynamo.client.send(new PutCommand({ TableName: dynamo.tableName, Item: { ...headB, data: headA.data } }));
  expect(await s.load('u-alice', b)).toBeUndefined();
  expect((await s.load('u-alice', a))!.turns[0]).toEqual({ role: 'user', content: 'alice inline plan' });
});

test('a short conversation is its head alone; one that outgrows inlineChars moves to parts', async () => {
  const s = store(undefined, { inlineChars: 2_000 });
  const id = s.newId();
  await s.append('u-inline', id, exchange('short'), { create: true });
  expect(await items('u-inline', `CONVPART#${id}#`)).toEqual([]);
  await s.append('u-inline', id, exchange('still short'));
  expect(await items('u-inline', `CONVPART#${id}#`)).toEqual([]);
  await s.append('u-inline', id, exchange('x'.repeat(3_000)));
  const head = (await dynamo.client.send(new GetCommand({ TableName: dynamo.tableName, Key: keys.conversation('u-inline', id) }))).Item!;
  expect(head.data).toBeUndefined();
  expect((await items('u-inline', `CONVPART#${id}#`)).length).toBe(head.parts);
  expect((await s.load('u-inline', id))!.turns.map((t) => String(t.content).slice(0, 5))).toEqual(['short', 're: s', 'still', 're: s', 'xxxxx', 're: x']);
  // The summary list never carries the inline turns.
  expect(JSON.stringify(await s.list('u-inline'))).not.toContain('still short');
});

test('creating an id that exists is refused as busy and leaves the stored conversation as it was', async () => {
  const s = store();
  const id = s.newId();
  await s.append('u-dup', id, exchange('first'), { create: true });
  await expect(s.append('u-dup', id, exchange('second'), { create: true })).rejects.toMatchObject({ code: 'busy' });
  expect((await s.load('u-dup', id))!.turns.map((t) => t.content)).toEqual(['first', 're: first']);
  expect(await items('u-dup', `CONVPART#${id}#`)).toEqual([]);
});

test('after the server secret is rotated, older conversations still read and continue under the new version', async () => {
  const id = store().newId();
  await store().append('u-rot', id, exchange('before rotation'), { create: true });
  const rotated = store(JSON.stringify({ current: 'v2', v1: V1, v2: V2 }));
  await rotated.append('u-rot', id, exchange('after rotation'));
  const head = (await dynamo.client.send(new GetCommand({ TableName: dynamo.tableName, Key: keys.conversation('u-rot', id) }))).Item!;
  expect(head.kv).toBe('v2');
  expect((await rotated.load('u-rot', id))!.turns.map((t) => t.content)).toEqual(['before rotation', 're: before rotation', 'after rotation', 're: after rotation']);
});

test('each use moves the expiry of every item; after it the conversation is gone', async () => {
  const s = store();
  const id = s.newId();
  await s.append('u-ttl', id, exchange('one'), { create: true });
  clock = new Date(clock.getTime() + 20 * 3_600_000);
  await s.append('u-ttl', id, exchange('two'));
  const expected = Math.floor(clock.getTime() / 1000) + 24 * 3600;
  for (const item of [...(await items('u-ttl', `CONV#${id}`)), ...(await items('u-ttl', `CONVPART#${id}#`))]) expect(item.ttl).toBe(expected);
  clock = new Date(clock.getTime() + 24 * 3_600_000 + 1000);
  expect(await s.load('u-ttl', id)).toBeUndefined();
  await expect(s.append('u-ttl', id, exchange('three'))).rejects.toMatchObject({ code: 'not_found' });
});

test('parts are cut at partChars; the size bound drops whole exchanges, oldest first, and refuses one too large alone', async () => {
  const s = store(undefined, { partChars: 1000, maxBytes: 5000 });
  const id = s.newId();
  await s.append('u-size', id, exchange('x'.repeat(1500)), { create: true });
  const parts = await items('u-size', `CONVPART#${id}#`);
  expect(parts.length).toBeGreaterThanOrEqual(3);
  for (const p of parts) expect(String(p.data).length).toBeLessThanOrEqual(1000);
  const second = await s.append('u-size', id, exchange('y'.repeat(1500)));
  expect(second.droppedTurns).toBe(2);
  expect((await s.load('u-size', id))!.turns.map((t) => String(t.content).slice(-3))).toEqual(['yyy', 'yyy']);
  await expect(s.append('u-size', id, exchange('z'.repeat(3000)))).rejects.toMatchObject({ code: 'too_large' });
  expect((await s.load('u-size', id))!.turnCount).toBe(2);
});

test('stringLength: the strings of a value, keys included, a lower bound of its JSON size; it stops once past the bound', () => {
  const turns = [{ role: 'user', content: [{ type: 'text', text: 'héllo' }] }];
  expect(stringLength(turns, Infinity)).toBe('role'.length + 'user'.length + 'content'.length + 'type'.length + 'text'.length + 'text'.length + 'héllo'.length);
  expect(stringLength(turns, Infinity)).toBeLessThanOrEqual(Buffer.byteLength(JSON.stringify(turns)));
  expect(stringLength(Array.from({ length: 1000 }, () => 'x'.repeat(100)), 250)).toBeLessThan(400);
});

test('boundExchanges and titleOf', () => {
  const e = (n: number) => [{ role: 'user', content: 'a'.repeat(n) }];
  expect(boundExchanges([e(10), e(10), e(10)], 1000)).toEqual({ kept: [e(10), e(10), e(10)], dropped: 0 });
  expect(boundExchanges([e(500), e(400), e(300)], 800).dropped).toBe(1);
  expect(titleOf([{ role: 'system', content: 'x' }, { role: 'user', content: [{ type: 'text', text: '  Hello\n\nworld ' }, { type: 'image_url', image_url: { url: 'u' } }] }])).toBe('Hello world');
  expect(titleOf([{ role: 'user', content: 'w'.repeat(200) }])).toHaveLength(80);
  expect(titleOf([{ role: 'tool', content: 'x' }])).toBe('(untitled)');
});
