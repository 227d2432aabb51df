/**
 * compare_models through the real handler and real MCP clients in both protocol eras, against dynalite and the fake
 * OpenRouter: one request per model on the caller's key (each checked by the operator's policy, the budget and the
 * per-user limits like a chat call, and each leaving its own ledger record), every model reported — answered,
 * refused or failed — with the total cost; a judge that reads every labelled answer; progress naming each model as
 * it finishes; the per-user concurrency limit queued behind the call's own generations; and bad input refused.
 */
import { randomBytes } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/client';
import { OPEN_POLICY } from '../../lambda/policy/policy.js';
import { connectV2, startHarness, textOf, type Harness, awayFromMinuteEnd } from '../support/harness.js';
import { dumpTable } from '../support/table.js';

type Generation = { id: string; model: string; provider?: string; finish_reason: string | null; content: string; usage: { prompt_tokens: number; completion_tokens: number; cost: number | null } };
type ModelResult = { model: string; status: string; latency_ms?: number; message?: string; generation?: Generation; conversation_id?: string };
type Compared = { results: ModelResult[]; total_cost: number; judge?: ModelResult };
type ToolResult = { content?: unknown; structuredContent?: Compared; isError?: boolean };
type Era = 'auto' | 'legacy';

const ERAS: [string, Era][] = [['2026-07-28', 'auto'], ['2025-11-25', 'legacy']];
const DENIED = 'openai/gpt-4o';

let h: Harness;
const clients: Client[] = [];

beforeAll(async () => {
  h = await startHarness({ policy: { ...OPEN_POLICY, deniedModels: [DENIED] } });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await h.close();
});

afterEach(() => {
  // Every request that went upstream matched the official OpenAPI spec.
  expect(h.fake.violations).toEqual([]);
});

/** A fresh user with their own key and a client of the given era (each test reads its own ledger and requests). */
async function newUser(mode: Era = 'auto', harness: Harness = h, caps?: { daily?: number }): Promise<{ id: string; key: string; client: Client }> {
  const { id: userId, token, openRouterKey: key } = await harness.newUser(caps ? { caps } : {});
  const client = await connectV2(token, { mode, fetch: harness.fetch });
  if (mode === 'auto') expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
  else expect(client.getNegotiatedProtocolVersion()).toBe('2025-11-25');
  clients.push(client);
  return { id: userId, key, client };
}

async function compare(client: Client, args: Record<string, unknown>, onprogress?: (p: { progress: number; total?: number; message?: string }) => void): Promise<ToolResult> {
  return (await client.callTool({ name: 'compare_models', arguments: args }, onprogress ? { onprogress } : undefined)) as ToolResult;
}

function chatCalls(key: string, harness: Harness = h) {
  return harness.fake.calls('/chat/completions').filter((r) => r.apiKey === key);
}

const question = (tag: string) => [
  { role: 'system', content: 'Answer in one sentence.' },
  { role: 'user', content: `Which is larger, 9.11 or 9.9? (${tag})` },
];

describe.each(ERAS)('compare_models, %s client', (_era, mode) => {
  test('one request per model on the caller\'s key; each reported: answered, refused by policy, failed upstream; total cost', async () => {
    const u = await newUser(mode);
    const tag = randomBytes(4).toString('hex');
    const models = ['fake/echo', DENIED, 'fake/error-502', 'fake/length'];
    const progress: { progress: number; total?: number; message?: string }[] = [];
    const result = await compare(u.client, { models, messages: question(tag), temperature: 0.2, max_tokens: 64, seed: 7 }, (p) => progress.push(p));

    expect(result.isError).toBeFalsy();
    // Upstream saw exactly one request per admitted model, each with the shared parameters and no fan-out fields.
    const sent = chatCalls(u.key);
    expect(sent.map((r) => r.body!.model).sort()).toEqual(['fake/echo', 'fake/error-502', 'fake/length']);
    for (const r of sent) {
      expect(r.body).toMatchObject({ messages: question(tag), temperature: 0.2, max_tokens: 64, seed: 7 });
      expect(r.body).not.toHaveProperty('models');
      expect(r.body).not.toHaveProperty('judge_model');
    }

    const out = result.structuredContent!;
    expect(out.results.map((r) => [r.model, r.status])).toEqual([
      ['fake/echo', 'ok'],
      [DENIED, 'refused'],
      ['fake/error-502', 'error'],
      ['fake/length', 'ok'],
    ]);
    const [echo, denied, failed, length] = out.results as [ModelResult, ModelResult, ModelResult, ModelResult];
    expect(echo.generation).toMatchObject({ model: 'fake/echo', provider: 'FakeProvider', finish_reason: 'stop', content: expect.stringContaining(`Echo: Which is larger, 9.11 or 9.9? (${tag})`) });
    expect(echo.generation!.id).toMatch(/^gen-/);
    expect(echo.generation!.usage.cost).toBeGreaterThan(0);
    expect(echo.latency_ms).toEqual(expect.any(Number));
    expect(length.generation).toMatchObject({ model: 'fake/length', finish_reason: 'length' });
    expect(denied.message).toMatch(/"openai\/gpt-4o" matches the denied pattern/);
    expect(denied.generation).toBeUndefined();
    expect(failed.message).toMatch(/provider returned an error/);
    expect(failed.generation).toBeUndefined();
    expect(out.total_cost).toBeCloseTo(echo.generation!.usage.cost! + length.generation!.usage.cost!, 12);

    const text = textOf(result);
    for (const [i, m] of models.entries()) expect(text).toContain(`Answer ${i + 1} (${m})`);
    expect(text).toContain(`Echo: Which is larger, 9.11 or 9.9? (${tag})`);
    expect(text).toMatch(/Compared 4 models: 2 answered, 1 failed, 1 refused · total cost \$/);

    // One ledger record per model: the refused one too, with the policy rule; nothing of the prompt.
    const records = await h.records(u.id);
    expect(records.map((r) => [r.tool, r.requestedModel, r.outcome, r.reason]).sort()).toEqual(
      [
        ['compare_models', 'fake/echo', 'ok', undefined],
        ['compare_models', DENIED, 'refused', 'policy:model_denied'],
        ['compare_models', 'fake/error-502', 'error', 'upstream:502'],
        ['compare_models', 'fake/length', 'ok', undefined],
      ].sort(),
    );
    expect(records.find((r) => r.requestedModel === 'fake/echo')).toMatchObject({ costUsd: echo.generation!.usage.cost, generationId: echo.generation!.id, servedModel: 'fake/echo' });
    expect(JSON.stringify(records)).not.toContain(tag);

    // Progress named every model once as it finished, counting up to the total.
    expect(progress.map((p) => p.progress)).toEqual([1, 2, 3, 4]);
    expect(progress.every((p) => p.total === 4)).toBe(true);
    expect(progress.map((p) => p.message).sort()).toEqual([`${DENIED}: refused`, 'fake/echo: ok', 'fake/error-502: error', 'fake/length: ok'].sort());
  });

  test('the judge gets the question and every labelled answer, and its comparison is a section of its own', async () => {
    const u = await newUser(mode);
    const tag = randomBytes(4).toString('hex');
    const progress: string[] = [];
    const result = await compare(
      u.client,
      { models: ['fake/echo', 'fake/slow', 'fake/error-503'], messages: question(tag), judge_model: 'fake/echo', judge_instructions: `Prefer correctness ${tag}.` },
      (p) => progress.push(p.message ?? ''),
    );
    expect(result.isError).toBeFalsy();
    const out = result.structuredContent!;
    const [echo, slow] = out.results as [ModelResult, ModelResult];

    // The last request is the judge's: after every model's, on the same key.
    const sent = chatCalls(u.key);
    expect(sent).toHaveLength(4);
    const judgeBody = sent.at(-1)!.body as { model: string; messages: { role: string; content: string }[] };
    expect(judgeBody.model).toBe('fake/echo');
    const judgeText = judgeBody.messages.map((m) => m.content).join('\n');
    expect(judgeText).toContain(`Which is larger, 9.11 or 9.9? (${tag})`);
    expect(judgeText).toContain(`Answer 1 (fake/echo):\n<<<\n${echo.generation!.content}\n>>>`);
    expect(judgeText).toContain(`Answer 2 (fake/slow):\n<<<\n${slow.generation!.content}\n>>>`);
    // The failed model has no answer to judge.
    expect(judgeText).not.toContain('Answer 3');
    expect(judgeBody.messages[0]).toMatchObject({ role: 'system', content: expect.stringContaining(`Prefer correctness ${tag}.`) });

    expect(out.judge).toMatchObject({ model: 'fake/echo', status: 'ok', generation: { model: 'fake/echo' } });
    // The fake echoes the judge's prompt back: the comparison it returns is that model's answer to it.
    expect(out.judge!.generation!.content).toContain('Answer 2 (fake/slow)');
    const costs = [echo, slow, out.judge!].map((r) => r.generation!.usage.cost!);
    expect(out.total_cost).toBeCloseTo(costs.reduce((a, b) => a + b, 0), 12);
    expect(textOf(result)).toContain('## Judge (fake/echo) — ok');

    // One record per model call plus one for the judge.
    const records = await h.records(u.id);
    expect(records).toHaveLength(4);
    expect(records.map((r) => [r.requestedModel, r.outcome]).sort()).toEqual([['fake/echo', 'ok'], ['fake/echo', 'ok'], ['fake/error-503', 'error'], ['fake/slow', 'ok']]);
    expect(records.every((r) => r.tool === 'compare_models')).toBe(true);

    // The judge's step comes last.
    expect(progress).toHaveLength(4);
    expect(progress.at(-1)).toBe('judge fake/echo: ok');
  });
});

describe('compare_models', () => {
  test('with fewer than two answers the judge is skipped: nothing is sent for it and nothing recorded', async () => {
    const u = await newUser();
    const result = await compare(u.client, { models: ['fake/echo', DENIED], messages: question('x'), judge_model: 'fake/echo' });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent!.judge).toMatchObject({ model: 'fake/echo', status: 'skipped', message: expect.stringMatching(/only one model answered/) });
    expect(chatCalls(u.key)).toHaveLength(1);
    expect(await h.records(u.id)).toHaveLength(2);
  });

  test('under a budget cap each model is priced and reserved on its own: one with no listed price is refused, the other runs', async () => {
    const u = await newUser('legacy', h, { daily: 5 });
    const result = await compare(u.client, { models: ['fake/echo', 'fake/unlisted'], messages: question('budget'), max_tokens: 100 });
    expect(result.structuredContent!.results.map((r) => [r.model, r.status])).toEqual([['fake/echo', 'ok'], ['fake/unlisted', 'refused']]);
    expect(chatCalls(u.key).map((r) => r.body!.model)).toEqual(['fake/echo']);
    const records = await h.records(u.id);
    expect(records.map((r) => [r.requestedModel, r.outcome, r.reason]).sort()).toEqual([['fake/echo', 'ok', undefined], ['fake/unlisted', 'refused', 'budget:unknown_price']]);
    // The reservation settled to the real cost: what is spent is what the answer cost, nothing is left reserved.
    const usage = (await h.usage(u.id)).usage.daily;
    expect(usage.spentUsd).toBeCloseTo(result.structuredContent!.total_cost, 12);
    expect(usage.reservedUsd).toBe(0);
  });

  test('a user without a key is told to connect one, and nothing is sent', async () => {
    const before = h.fake.calls('/chat/completions').length;
    const { userId } = await h.store.createUser(`nokey${randomBytes(4).toString('hex')}`);
    const { token } = await h.store.issueToken(userId, { label: 'test' });
    const client = await connectV2(token, { fetch: h.fetch });
    clients.push(client);
    const result = await compare(client, { models: ['fake/echo', 'fake/slow'], messages: question('x') });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/No OpenRouter API key is connected/);
    expect(h.fake.calls('/chat/completions')).toHaveLength(before);
  });

  test('when no model answers the result is an error that still reports each one', async () => {
    const u = await newUser();
    const result = await compare(u.client, { models: [DENIED, 'fake/error-402'], messages: question('x') });
    expect(result.isError).toBe(true);
    expect(result.structuredContent!.results.map((r) => r.status)).toEqual(['refused', 'error']);
    expect(textOf(result)).toMatch(/Insufficient credits|credit/i);
  });

  test('an answer longer than the text cap is cut in the text, with its generation id; structuredContent has all of it', async () => {
    const u = await newUser();
    const long = `start ${'lorem ipsum '.repeat(400)} end-${randomBytes(3).toString('hex')}`;
    const result = await compare(u.client, { models: ['fake/echo', 'fake/length'], messages: [{ role: 'user', content: long }] });
    const echo = result.structuredContent!.results[0]!;
    expect(echo.generation!.content).toBe(`Echo: ${long}`);
    const text = textOf(result);
    expect(text).not.toContain(long.slice(-20));
    expect(text).toContain(`generation ${echo.generation!.id}`);
    expect(text).toMatch(/cut at 2000 of \d+ characters: the whole answer is in structuredContent\.results\[0\]\.generation\.content/);
  });

  test.each([
    ['one model', { models: ['fake/echo'] }, /models: name at least 2 models to compare/],
    ['nine models', { models: Array.from({ length: 9 }, (_, i) => `fake/m${i}`) }, /models: at most 8 models per call/],
    ['a duplicate model', { models: ['fake/echo', 'fake/slow', 'fake/echo'] }, /models: each model may be listed once/],
    ['an invalid model id', { models: ['fake/echo', 'bad model'] }, /models\.1: a model id looks like/],
    ['model beside models', { model: 'fake/echo', models: ['fake/echo', 'fake/slow'] }, /Unrecognized key: "model"/],
    ['stream', { models: ['fake/echo', 'fake/slow'], stream: true }, /Unrecognized key: "stream"/],
    ['judge_instructions without judge_model', { models: ['fake/echo', 'fake/slow'], judge_instructions: 'be fair' }, /judge_instructions needs judge_model/],
    ['judge_instructions over 2,000 characters', { models: ['fake/echo', 'fake/slow'], judge_model: 'fake/echo', judge_instructions: 'x'.repeat(2001) }, /judge_instructions: Too big/],
  ])('%s is invalid input: an error result, nothing sent, nothing recorded', async (_name, args, message) => {
    const u = await newUser();
    const result = await compare(u.client, { messages: question('x'), ...args });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/^Input validation error: Invalid arguments for tool compare_models/);
    expect(textOf(result)).toMatch(message);
    expect(chatCalls(u.key)).toHaveLength(0);
    expect(await h.records(u.id)).toHaveLength(0);
  });

  test('eight models, the most allowed, each get their own request', async () => {
    const u = await newUser('legacy');
    const models = Array.from({ length: 8 }, (_, i) => `fake/model-${i}`);
    const result = await compare(u.client, { models, messages: question('eight') });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent!.results.map((r) => r.status)).toEqual(Array(8).fill('ok'));
    expect(chatCalls(u.key).map((r) => r.body!.model).sort()).toEqual([...models].sort());
    expect(await h.records(u.id)).toHaveLength(8);
  });
});

describe('per-user limits', () => {
  let limited: Harness;
  beforeAll(async () => {
    limited = await startHarness({ limits: { ratePerMinute: 0, maxConcurrent: 2 } });
  });
  afterAll(async () => {
    await limited.close();
  });

  test('under a concurrency limit of 2, four models queue behind each other: all answer, at most 2 at once upstream', async () => {
    const u = await newUser('auto', limited);
    const models = ['fake/slow', 'fake/slow-2', 'fake/slow-3', 'fake/slow-4'];
    const result = await compare(u.client, { models, messages: question('queue') });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent!.results.map((r) => r.status)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(chatCalls(u.key, limited)).toHaveLength(4);
    expect(limited.fake.peakInFlight.get(u.key)).toBeLessThanOrEqual(2);
    const records = await limited.records(u.id);
    expect(records.map((r) => r.outcome)).toEqual(['ok', 'ok', 'ok', 'ok']);
  });

  test('every model counts against the rate limit like a chat call: past it, the rest are refused and recorded', async () => {
    const rated = await startHarness({ limits: { ratePerMinute: 3, maxConcurrent: 0 } });
    try {
      const u = await newUser('auto', rated);
      await awayFromMinuteEnd();
      // The compare call itself is one tool call; its first two models use up the minute's other two.
      const result = await compare(u.client, { models: ['fake/echo', 'fake/length', 'fake/slow', 'fake/model-x'], messages: question('rate') });
      const statuses = result.structuredContent!.results.map((r) => r.status);
      expect(statuses.filter((s) => s === 'ok')).toHaveLength(2);
      expect(statuses.filter((s) => s === 'refused')).toHaveLength(2);
      for (const r of result.structuredContent!.results.filter((x) => x.status === 'refused')) expect(r.message).toMatch(/Rate limit reached/);
      expect(chatCalls(u.key, rated)).toHaveLength(2);
      const records = await rated.records(u.id);
      expect(records.map((r) => r.reason ?? r.outcome).sort()).toEqual(['limit:rate', 'limit:rate', 'ok', 'ok']);
    } finally {
      await rated.close();
    }
  });
});

describe('conversations', () => {
  const chat = async (client: Client, args: Record<string, unknown>) =>
    (await client.callTool({ name: 'send_chat_completion_request', arguments: args })) as { structuredContent?: Record<string, unknown>; isError?: boolean };

  test('each answer starts its own conversation; continuing one sends the question, that model\'s answer and the new message', async () => {
    const u = await newUser();
    const tag = randomBytes(4).toString('hex');
    const result = await compare(u.client, { models: ['fake/echo', DENIED, 'fake/error-502', 'fake/length'], messages: question(tag) });
    const [echo, denied, failed, length] = (result.structuredContent as Compared).results;
    expect(echo!.conversation_id).toMatch(/^conv_/);
    expect(length!.conversation_id).toMatch(/^conv_/);
    expect(length!.conversation_id).not.toBe(echo!.conversation_id);
    // Refused and failed models answered nothing: nothing to continue.
    expect(denied!.conversation_id).toBeUndefined();
    expect(failed!.conversation_id).toBeUndefined();
    expect(textOf(result)).toContain(`conversation_id: ${echo!.conversation_id} (continue with send_chat_completion_request)`);

    // Each stored conversation is the question and that model's answer only.
    const stored = await h.conversations!.load(u.id, length!.conversation_id!);
    expect(stored!.turns).toEqual([...question(tag), { role: 'assistant', content: length!.generation!.content }]);
    expect(stored!.models).toEqual(['fake/length']);
    const listed = await u.client.callTool({ name: 'list_conversations', arguments: {} });
    expect((listed.structuredContent as { conversations: { id: string }[] }).conversations.map((c) => c.id).sort()).toEqual([echo!.conversation_id, length!.conversation_id].sort());

    const next = await chat(u.client, { model: 'fake/echo', conversation_id: length!.conversation_id, messages: [{ role: 'user', content: `Why? (${tag})` }] });
    expect(next.isError).toBeFalsy();
    expect(next.structuredContent!.conversation_id).toBe(length!.conversation_id);
    expect(chatCalls(u.key).at(-1)!.body!.messages).toEqual([
      ...question(tag),
      { role: 'assistant', content: length!.generation!.content },
      { role: 'user', content: `Why? (${tag})` },
    ]);
  });

  test('a follow-up on a stored conversation: every model is sent its turns first, and each answer branches into a new conversation', async () => {
    const u = await newUser('legacy');
    const tag = randomBytes(4).toString('hex');
    const first = await chat(u.client, { model: 'fake/echo', messages: question(tag) });
    const base = first.structuredContent!.conversation_id as string;
    const earlier = [...question(tag), { role: 'assistant', content: first.structuredContent!.content }];
    const followUp = [{ role: 'user', content: `Are you sure? (${tag})` }];

    const result = await compare(u.client, { models: ['fake/echo', 'fake/length'], conversation_id: base, messages: followUp, judge_model: 'fake/echo' });
    expect(result.isError).toBeFalsy();
    const out = result.structuredContent!;
    // What each model was sent is what its team control admitted: the stored turns, then the new message.
    const sent = chatCalls(u.key).slice(1, 3);
    expect(sent.map((r) => r.body!.model).sort()).toEqual(['fake/echo', 'fake/length']);
    for (const r of sent) expect(r.body!.messages).toEqual([...earlier, ...followUp]);
    // The judge reads the whole conversation the models answered.
    expect(JSON.stringify(chatCalls(u.key).at(-1)!.body!.messages)).toContain(`Which is larger, 9.11 or 9.9? (${tag})`);

    const ids = out.results.map((r) => r.conversation_id!);
    expect(new Set([base, ...ids]).size).toBe(3);
    for (const [i, r] of out.results.entries()) {
      const branch = await h.conversations!.load(u.id, ids[i]!);
      expect(branch!.turns).toEqual([...earlier, ...followUp, { role: 'assistant', content: r.generation!.content }]);
    }
    // The judge's answer starts no conversation, and the conversation branched from is unchanged.
    expect(out.judge).not.toHaveProperty('conversation_id');
    expect((await h.conversations!.load(u.id, base))!.turns).toEqual(earlier);
  });

  test('an unknown conversation id is refused before any model is asked: nothing sent, nothing recorded', async () => {
    const u = await newUser();
    const result = await compare(u.client, { models: ['fake/echo', 'fake/length'], conversation_id: 'conv_000000000aaaaaaaaaaaaaaaa', messages: question('x') });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/No conversation "conv_000000000aaaaaaaaaaaaaaaa" for this account/);
    expect(chatCalls(u.key)).toHaveLength(0);
    expect(await h.records(u.id)).toHaveLength(0);
  });

  test('an answer that cannot be stored is still reported, with a notice and no conversation id', async () => {
    // A conversation may hold 4,000 bytes: the echo of a 3,000-character question is refused by the store.
    const small = await startHarness({}, { conversations: { maxBytes: 4_000 } });
    try {
      const u = await newUser('auto', small);
      const long = `long ${'z'.repeat(3_000)}`;
      const result = await compare(u.client, { models: ['fake/echo', 'fake/length'], messages: [{ role: 'user', content: long }] });
      expect(result.isError).toBeFalsy();
      const [echo] = result.structuredContent!.results as [ModelResult & { conversation_notice?: string }];
      expect(echo).toMatchObject({ status: 'ok', generation: { content: `Echo: ${long}` } });
      expect(echo.conversation_id).toBeUndefined();
      expect(echo.conversation_notice).toMatch(/This turn was not stored \(this exchange .* is larger than a conversation may hold .*\); no conversation was started/);
      expect(textOf(result)).toContain(`⚠ ${echo.conversation_notice}`);
      expect((await small.conversations!.list(u.id)).conversations.map((c) => c.models)).not.toContainEqual(['fake/echo']);
    } finally {
      await small.close();
    }
  });

  test('with conversation storage off no ids are returned and nothing is stored; a conversation_id is refused', async () => {
    const off = await startHarness({ conversationTtlHours: 0 });
    try {
      const u = await newUser('auto', off);
      const result = await compare(u.client, { models: ['fake/echo', 'fake/length'], messages: question('off') });
      expect(result.isError).toBeFalsy();
      const out = result.structuredContent!;
      expect(out.results.map((r) => r.status)).toEqual(['ok', 'ok']);
      for (const r of out.results) expect(r).not.toHaveProperty('conversation_id');
      expect(textOf(result)).not.toMatch(/conversation_id/);
      expect((await dumpTable(off)).filter((i) => /^CONV/.test(String(i.sk)))).toEqual([]);

      const refused = await compare(u.client, { models: ['fake/echo', 'fake/length'], conversation_id: 'conv_000000000aaaaaaaaaaaaaaaa', messages: question('off') });
      expect(refused.isError).toBe(true);
      expect(textOf(refused)).toMatch(/not stored on this server.*ORMCP_CONVERSATION_TTL_HOURS=0/);
      expect(chatCalls(u.key, off)).toHaveLength(2);
    } finally {
      await off.close();
    }
  });
});
