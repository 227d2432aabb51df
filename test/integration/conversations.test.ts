/**
 * Conversations that continue, through the real handler with real MCP clients in both protocol eras, the
 * conversation store on dynalite and the fake OpenRouter recording every request: the stored turns reach upstream
 * before the new ones (whatever model answers next), another user's, an unknown or an expired id is refused with
 * nothing sent upstream, the table holds no plaintext, items carry a TTL and stay under DynamoDB's item limit, the
 * size bound drops the oldest turns, list/delete work, and a continued chat goes upstream as team control rewrote it.
 */
import type { Client } from '@modelcontextprotocol/client';
import { DEFAULT_PART_CHARS } from '../../lambda/store/conversation-store.js';
import { connectV2, startHarness, textOf, type Harness } from '../support/harness.js';
import { dumpTable, type TableItem } from '../support/table.js';

type ToolResult = { content?: unknown; structuredContent?: Record<string, unknown>; isError?: boolean };

const MAX_BYTES = 900_000;
let h: Harness;
let clients: Record<'modern' | 'legacy', Client>;
let bob: Client;
/** Added to the conversation store's clock, to expire a conversation without waiting a week. */
let skewMs = 0;

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<ToolResult> {
  return (await client.callTool({ name, arguments: args })) as ToolResult;
}

const chat = (client: Client, args: Record<string, unknown>) => call(client, 'send_chat_completion_request', args);
const chatCalls = () => h.fake.calls('/chat/completions');
const lastChatBody = () => chatCalls().at(-1)!.body!;
const itemsOf = (items: TableItem[], id: string) => items.filter((i) => String(i.sk).includes(id));

beforeAll(async () => {
  h = await startHarness({}, { conversations: { maxBytes: MAX_BYTES, now: () => new Date(Date.now() + skewMs) } });
  clients = {
    modern: await connectV2(h.alice.token, { fetch: h.fetch }),
    legacy: await connectV2(h.alice.token, { fetch: h.fetch, mode: 'legacy' }),
  };
  bob = await connectV2(h.bob.token, { fetch: h.fetch });
});

afterAll(async () => {
  await clients.modern.close();
  await clients.legacy.close();
  await bob.close();
  await h.close();
});

afterEach(() => {
  skewMs = 0;
  // Every request sent upstream, prepended turns included, must match the official OpenAPI spec.
  expect(h.fake.violations).toEqual([]);
});

describe.each(['modern', 'legacy'] as const)('%s client', (era) => {
  test('a conversation continues with another model, and upstream receives the earlier turns (tool calls included)', async () => {
    const client = clients[era];
    const first = await chat(client, { model: 'fake/tool-call', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: `Weather in Paris? (${era})` }] });
    expect(first.isError).toBeFalsy();
    const id = first.structuredContent!.conversation_id as string;
    expect(id).toMatch(/^conv_/);
    expect(textOf(first)).toContain(`conversation_id: ${id}`);

    const second = await chat(client, { model: 'openai/gpt-4o', conversation_id: id, messages: [{ role: 'tool', tool_call_id: 'call_abc123', content: '18 C, sunny' }] });
    expect(second.isError).toBeFalsy();
    expect(second.structuredContent!.conversation_id).toBe(id);
    expect(lastChatBody().model).toBe('openai/gpt-4o');
    expect(lastChatBody().messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: `Weather in Paris? (${era})` },
      { role: 'assistant', content: '', tool_calls: [{ id: 'call_abc123', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris","unit":"c"}' } }] },
      { role: 'tool', tool_call_id: 'call_abc123', content: '18 C, sunny' },
    ]);

    const third = await chat(client, { model: 'anthropic/claude-sonnet-4.5', conversation_id: id, messages: [{ role: 'user', content: 'And tomorrow?' }] });
    expect(third.isError).toBeFalsy();
    const sent = lastChatBody().messages as { role: string; content: unknown }[];
    expect(sent).toHaveLength(6);
    expect(sent[4]).toEqual({ role: 'assistant', content: 'Echo: Weather in Paris? (' + era + ')' });
    expect(sent[5]).toEqual({ role: 'user', content: 'And tomorrow?' });

    const listed = await call(client, 'list_conversations', {});
    const row = (listed.structuredContent!.conversations as Record<string, unknown>[]).find((c) => c.id === id)!;
    expect(row).toMatchObject({ title: `Weather in Paris? (${era})`, turns: 7, models: ['fake/tool-call', 'openai/gpt-4o', 'anthropic/claude-sonnet-4.5'] });
    expect(row.cost as number).toBeGreaterThan(0);
  });

  test('another user\'s conversation id is refused, and nothing is sent upstream', async () => {
    const mine = await chat(bob, { model: 'fake/echo', messages: [{ role: 'user', content: 'bob private note' }] });
    const id = mine.structuredContent!.conversation_id as string;
    const before = chatCalls().length;
    const stolen = await chat(clients[era], { model: 'fake/echo', conversation_id: id, messages: [{ role: 'user', content: 'what did bob say?' }] });
    expect(stolen.isError).toBe(true);
    expect(textOf(stolen)).toMatch(/No conversation .* for this account.*Nothing was sent to OpenRouter/);
    expect(textOf(stolen)).not.toContain('bob private note');
    expect(chatCalls()).toHaveLength(before);
    // Nor can it be deleted by the other user.
    expect((await call(clients[era], 'delete_conversation', { conversation_id: id })).structuredContent).toEqual({ conversation_id: id, deleted: false });
    expect(await h.conversations!.load(h.bob.id, id)).toBeDefined();
  });
});

test('an unknown or expired conversation id is refused with nothing sent upstream', async () => {
  const client = clients.modern;
  const before = chatCalls().length;
  const unknown = await chat(client, { model: 'fake/echo', conversation_id: 'conv_000000000aaaaaaaaaaaaaaaa', messages: [{ role: 'user', content: 'hi' }] });
  expect(unknown.isError).toBe(true);
  expect(textOf(unknown)).toMatch(/No conversation "conv_000000000aaaaaaaaaaaaaaaa"/);
  const malformed = await chat(client, { model: 'fake/echo', conversation_id: 'USER#x', messages: [{ role: 'user', content: 'hi' }] });
  expect(malformed.isError).toBe(true);
  expect(chatCalls()).toHaveLength(before);

  const started = await chat(client, { model: 'fake/echo', messages: [{ role: 'user', content: 'remember me' }] });
  const id = started.structuredContent!.conversation_id as string;
  const calls = chatCalls().length;
  skewMs = (168 + 1) * 3_600_000;
  const expired = await chat(client, { model: 'fake/echo', conversation_id: id, messages: [{ role: 'user', content: 'still there?' }] });
  expect(expired.isError).toBe(true);
  expect(textOf(expired)).toMatch(/expired/);
  expect(chatCalls()).toHaveLength(calls);
});

test('the table holds no plaintext of a stored turn, and every conversation item has a TTL', async () => {
  const secret = 'the launch code is PLAINTEXT-CANARY-7741';
  const r = await chat(clients.modern, { model: 'fake/echo', messages: [{ role: 'user', content: secret }] });
  const id = r.structuredContent!.conversation_id as string;
  const items = itemsOf(await dumpTable(h), id);
  // A short conversation is its head alone, the turns sealed inside it.
  expect(items).toHaveLength(1);
  expect(typeof items[0]!.data).toBe('string');
  const raw = JSON.stringify(items);
  expect(raw).not.toContain('PLAINTEXT-CANARY');
  expect(raw).not.toContain('launch code');
  expect(raw).not.toContain('fake/echo');
  const nowSec = Date.now() / 1000;
  for (const item of items) {
    expect(typeof item.ttl).toBe('number');
    expect(item.ttl as number).toBeGreaterThan(nowSec + 167 * 3600);
    expect(item.ttl as number).toBeLessThan(nowSec + 169 * 3600);
  }
  // Looked up under another user, it does not exist.
  expect(await h.conversations!.load(h.bob.id, id)).toBeUndefined();
});

test('a large conversation is split across items, each under the item limit, and reads back whole', async () => {
  const big = `${'lorem ipsum dolor sit amet '.repeat(11_000)}END`;
  const r = await chat(clients.modern, { model: 'fake/echo', messages: [{ role: 'user', content: big }] });
  expect(r.isError).toBeFalsy();
  const id = r.structuredContent!.conversation_id as string;
  const items = itemsOf(await dumpTable(h), id);
  const parts = items.filter((i) => String(i.sk).startsWith('CONVPART#'));
  expect(parts.length).toBeGreaterThanOrEqual(2);
  for (const item of items) expect(Buffer.byteLength(JSON.stringify(item))).toBeLessThan(DEFAULT_PART_CHARS + 2_000);
  await chat(clients.modern, { model: 'openai/gpt-4o-mini', conversation_id: id, messages: [{ role: 'user', content: 'short' }] });
  const sent = lastChatBody().messages as { content: string }[];
  expect(sent[0]!.content).toBe(big);
  expect(sent[1]!.content).toBe(`Echo: ${big}`);
  // The superseded snapshot's parts are gone: only the head and the current parts remain.
  const after = itemsOf(await dumpTable(h), id);
  const head = after.find((i) => String(i.sk).startsWith('CONV#'))!;
  expect(after).toHaveLength(1 + (head.parts as number));
});

test('the size bound holds: the oldest turns are dropped with a notice', async () => {
  const chunk = (n: number) => `${n} ${'x'.repeat(150_000)}`;
  const first = await chat(clients.modern, { model: 'fake/echo', messages: [{ role: 'user', content: chunk(1) }] });
  const id = first.structuredContent!.conversation_id as string;
  const second = await chat(clients.modern, { model: 'fake/echo', conversation_id: id, messages: [{ role: 'user', content: chunk(2) }] });
  expect(second.structuredContent!.conversation_notice).toBeUndefined();
  const third = await chat(clients.modern, { model: 'fake/echo', conversation_id: id, messages: [{ role: 'user', content: chunk(3) }] });
  expect(third.structuredContent!.conversation_notice).toMatch(/2 oldest turns were dropped/);
  expect(textOf(third)).toMatch(/size limit/);
  const stored = await h.conversations!.load(h.alice.id, id);
  expect(Buffer.byteLength(JSON.stringify(stored!.turns))).toBeLessThanOrEqual(MAX_BYTES);
  expect(stored!.turns.map((t) => String(t.content).slice(0, 2))).toEqual(['2 ', 'Ec', '3 ', 'Ec']);
  // An exchange larger than the bound on its own is answered but not stored; the conversation stays as it was.
  const huge = await chat(clients.modern, { model: 'fake/echo', conversation_id: id, messages: [{ role: 'user', content: 'y'.repeat(500_000) }] });
  expect(huge.isError).toBeFalsy();
  expect(huge.structuredContent!.conversation_notice).toMatch(/not stored.*unchanged/);
  expect((await h.conversations!.load(h.alice.id, id))!.turns).toHaveLength(4);
});

test('concurrent appends to one conversation lose no turn', async () => {
  const store = h.conversations!;
  const id = store.newId();
  await store.append(h.alice.id, id, { turns: [{ role: 'user', content: 'start' }], model: 'fake/echo' }, { create: true });
  await Promise.all(
    Array.from({ length: 4 }, (_, i) => store.append(h.alice.id, id, { turns: [{ role: 'user', content: `turn ${i}` }, { role: 'assistant', content: `answer ${i}` }], model: `m/${i}`, costUsd: 0.5 })),
  );
  const c = (await store.load(h.alice.id, id))!;
  expect(c.turns).toHaveLength(9);
  expect(c.version).toBe(5);
  for (let i = 0; i < 4; i++) expect(c.turns).toContainEqual({ role: 'user', content: `turn ${i}` });
  expect(c.costUsd).toBe(2);
});

test('list_conversations pages newest first; delete_conversation removes every item', async () => {
  const ids: string[] = [];
  for (const n of [1, 2, 3]) {
    const r = await chat(bob, { model: 'fake/echo', messages: [{ role: 'user', content: `bob topic ${n}` }] });
    ids.push(r.structuredContent!.conversation_id as string);
  }
  const page1 = await call(bob, 'list_conversations', { limit: 2 });
  const rows1 = page1.structuredContent!.conversations as { id: string; title: string }[];
  expect(rows1.map((c) => c.title)).toEqual(['bob topic 3', 'bob topic 2']);
  const cursor = page1.structuredContent!.next_cursor as string;
  expect(cursor).toBe(ids[1]);
  const page2 = await call(bob, 'list_conversations', { limit: 2, cursor });
  expect((page2.structuredContent!.conversations as { title: string }[])[0]!.title).toBe('bob topic 1');

  const big = await chat(bob, { model: 'fake/echo', messages: [{ role: 'user', content: 'z'.repeat(200_000) }] });
  const bigId = big.structuredContent!.conversation_id as string;
  expect(itemsOf(await dumpTable(h), bigId).length).toBeGreaterThanOrEqual(3);
  const deleted = await call(bob, 'delete_conversation', { conversation_id: bigId });
  expect(deleted.structuredContent).toEqual({ conversation_id: bigId, deleted: true });
  expect(itemsOf(await dumpTable(h), bigId)).toEqual([]);
  const again = await chat(bob, { model: 'fake/echo', conversation_id: bigId, messages: [{ role: 'user', content: 'hello?' }] });
  expect(again.isError).toBe(true);
});

describe('storage off (ORMCP_CONVERSATION_TTL_HOURS=0)', () => {
  let off: Harness;
  let client: Client;

  beforeAll(async () => {
    off = await startHarness({ conversationTtlHours: 0 });
    client = await connectV2(off.alice.token, { fetch: off.fetch });
  });

  afterAll(async () => {
    await client.close();
    await off.close();
  });

  test('no conversation_id is returned, nothing is stored, and passing one or listing is an error saying storage is off', async () => {
    const r = await call(client, 'send_chat_completion_request', { model: 'fake/echo', messages: [{ role: 'user', content: 'not kept' }] });
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent!.conversation_id).toBeUndefined();
    expect(textOf(r)).not.toMatch(/conversation_id/);
    expect((await dumpTable(off)).filter((i) => /^CONV/.test(String(i.sk)))).toEqual([]);
    const before = off.fake.calls('/chat/completions').length;
    const refused = await call(client, 'send_chat_completion_request', { model: 'fake/echo', conversation_id: 'conv_000000000aaaaaaaaaaaaaaaa', messages: [{ role: 'user', content: 'x' }] });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(/not stored on this server.*ORMCP_CONVERSATION_TTL_HOURS=0/);
    expect(off.fake.calls('/chat/completions')).toHaveLength(before);
    const listed = await call(client, 'list_conversations', {});
    expect(listed.isError).toBe(true);
    expect(textOf(listed)).toMatch(/not stored on this server/);
  });
});

describe('under team control (the user\'s defaults, the operator policy)', () => {
  let team: Harness;
  let client: Client;

  beforeAll(async () => {
    team = await startHarness({ policy: { allowedModels: [], deniedModels: ['openai/*'], requireZdr: false, dataCollection: 'allow', maxPricePerMillion: {}, allowedPlugins: 'all' } });
    client = await connectV2(team.alice.token, { fetch: team.fetch });
  });

  afterAll(async () => {
    await client.close();
    await team.close();
  });

  test('a continued chat goes upstream as team control rewrote it, stored turns first; a refused one sends nothing and changes nothing', async () => {
    const sent = () => team.fake.calls('/chat/completions');
    const first = await call(client, 'send_chat_completion_request', { model: 'fake/echo', messages: [{ role: 'user', content: 'first' }] });
    expect(first.isError).toBeFalsy();
    const id = first.structuredContent!.conversation_id as string;

    await team.ledger.setDefaults(team.alice.id, { max_tokens: 77 });
    const second = await call(client, 'send_chat_completion_request', { model: 'fake/echo', conversation_id: id, messages: [{ role: 'user', content: 'second' }] });
    expect(second.isError).toBeFalsy();
    const body = sent().at(-1)!.body!;
    expect(body.max_tokens).toBe(77);
    expect(body.messages).toEqual([
      { role: 'user', content: 'first' },
      { role: 'assistant', content: 'Echo: first' },
      { role: 'user', content: 'second' },
    ]);

    const before = sent().length;
    const refused = await call(client, 'send_chat_completion_request', { model: 'openai/gpt-4o', conversation_id: id, messages: [{ role: 'user', content: 'third' }] });
    expect(refused.isError).toBe(true);
    expect(sent()).toHaveLength(before);
    expect((await team.conversations!.load(team.alice.id, id))!.turns).toHaveLength(4);
  });
});
