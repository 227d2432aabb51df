/**
 * Team control through the real handler and real MCP clients, against dynalite and the fake OpenRouter: every
 * paid call leaves one ledger record (the fake's cost, none of the prompt), budgets refuse before anything is sent
 * and clamp max_tokens to what is left, concurrent calls overspend by no more than the prompt-estimate error, and
 * the operator's policy refuses or rewrites requests and filters the catalog.
 */
import { randomBytes } from 'node:crypto';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { Client } from '@modelcontextprotocol/client';
import { InMemoryTransport, type CallToolResult } from '@modelcontextprotocol/server';
import { estimatePromptTokens } from '../../lambda/budget/estimate.js';
import { CatalogCache } from '../../lambda/catalog/catalog.js';
import { startLocalDynamo } from '../../lambda/local/dynalite.js';
import { createMcpServer } from '../../lambda/mcp/server.js';
import { createLogger } from '../../lambda/observability/logger.js';
import { emfMetrics } from '../../lambda/observability/metrics.js';
import { OpenRouterClient } from '../../lambda/openrouter/client.js';
import { OPEN_POLICY } from '../../lambda/policy/policy.js';
import { LedgerStore } from '../../lambda/store/ledger-store.js';
import type { Model } from '../../lambda/openrouter/schemas.js';
import { TeamControl } from '../../lambda/team/guard.js';
import { IN_PROCESS_URL, connectV2, startHarness, textOf, type Harness } from '../support/harness.js';

type ToolResult = { content?: unknown; structuredContent?: Record<string, unknown>; isError?: boolean };

let h: Harness;
const clients: Client[] = [];

/** fake/echo's catalog prices, USD per token (the fake bills 12 prompt tokens at these). */
const P_IN = 0.000001;
const P_OUT = 0.000002;
const FAKE_PROMPT_TOKENS = 12;

beforeAll(async () => {
  h = await startHarness({
    policy: {
      ...OPEN_POLICY,
      deniedModels: ['openai/gpt-4o', 'deepseek/*'],
      requireZdr: true,
      dataCollection: 'deny',
      maxPricePerMillion: { prompt: '5', completion: '20' },
    },
  });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await h.close();
});

afterEach(() => {
  // Every request that did go upstream matched the official OpenAPI spec.
  expect(h.fake.violations).toEqual([]);
});

/** A fresh user with their own key, optionally with budget caps set by the operator, and a connected client. */
async function newUser(caps?: { daily?: number; weekly?: number; monthly?: number }): Promise<{ id: string; client: Client; key: string; token: string }> {
  const u = await h.newUser(caps ? { caps } : {});
  const client = await connectV2(u.token, { fetch: h.fetch });
  clients.push(client);
  return { id: u.id, client, key: u.openRouterKey, token: u.token };
}

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<ToolResult> {
  return (await client.callTool({ name, arguments: args })) as ToolResult;
}

function chatCalls(key: string) {
  return h.fake.calls('/chat/completions').filter((r) => r.apiKey === key);
}

function metricSum(name: string): number {
  return h.metrics.reduce((sum, d) => sum + (typeof d[name] === 'number' && d.Tool !== undefined ? (d[name] as number) : 0), 0);
}

describe('usage ledger', () => {
  test('one record per call with the cost the fake returned, and nothing of the prompt in the table', async () => {
    const u = await newUser();
    const secret = `zebra-marmalade-${randomBytes(6).toString('hex')}`;
    const result = await call(u.client, 'send_chat_completion_request', { model: 'fake/echo', messages: [{ role: 'user', content: `tell me about ${secret}` }] });
    expect(result.isError).toBeFalsy();
    const usage = result.structuredContent!.usage as { cost: number; prompt_tokens: number; completion_tokens: number };
    expect(usage.cost).toBeGreaterThan(0);

    // The record is written after the result (not on the caller's path); the app settles it.
    await h.app.settle();
    const records = await h.ledger.listRecords(u.id);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      tool: 'send_chat_completion_request',
      outcome: 'ok',
      requestedModel: 'fake/echo',
      servedModel: 'fake/echo',
      costUsd: usage.cost,
      costSource: 'reported',
      tokensIn: usage.prompt_tokens,
      tokensOut: usage.completion_tokens,
    });
    expect(records[0]!.generationId).toMatch(/^gen-/);
    // A personal token: the record names the token, and no OAuth client.
    expect(records[0]!.tokenId).toMatch(/\S/);
    expect(records[0]!.clientId).toBeUndefined();
    const snapshot = await h.ledger.readUsage(u.id);
    expect(snapshot.usage.daily.spentUsd).toBeCloseTo(usage.cost, 12);

    // Spend per call is a metric without any user dimension.
    const doc = h.metrics.find((d) => d.Tool === 'send_chat_completion_request' && d.Cost === usage.cost)!;
    expect(doc).toBeDefined();
    expect(JSON.stringify((doc._aws as { CloudWatchMetrics: unknown }).CloudWatchMetrics)).not.toMatch(/user/i);

    // A lookup is not a generation: no record.
    await call(u.client, 'retrieve_available_models', { limit: 1 });
    await h.app.settle();
    expect(await h.ledger.listRecords(u.id)).toHaveLength(1);

    const scan = await h.dynamo.client.send(new ScanCommand({ TableName: h.dynamo.tableName }));
    const raw = JSON.stringify(scan.Items);
    expect(raw).not.toContain(secret);
    expect(raw).not.toContain('Echo:');
    expect(raw).not.toContain(u.key);
    expect(raw).not.toContain(u.token);
  });

  test('a cost OpenRouter did not report is filled once from get_generation, for that user only', async () => {
    const u = await newUser();
    const chat = await call(u.client, 'send_chat_completion_request', { model: 'fake/unpriced', messages: [{ role: 'user', content: 'hi' }] });
    expect(chat.isError).toBeFalsy();
    const id = chat.structuredContent!.id as string;
    expect((chat.structuredContent!.usage as { cost?: number | null }).cost ?? null).toBeNull();
    expect((await h.records(u.id))[0]).toMatchObject({ generationId: id, costSource: 'unknown', countedUsd: 0 });

    // Another user looking the generation up (the fake shows it to any key) fills nothing of u's, nor of theirs.
    const other = await newUser();
    expect((await call(other.client, 'get_generation', { id })).isError).toBeFalsy();
    expect((await h.records(u.id))[0]).toMatchObject({ costSource: 'unknown' });

    const stats = await call(u.client, 'get_generation', { id });
    const cost = stats.structuredContent!.total_cost as number;
    expect(cost).toBeGreaterThan(0);
    expect((await h.records(u.id))[0]).toMatchObject({ costUsd: cost, costSource: 'reported', countedUsd: cost });
    expect((await h.usage(u.id)).usage.daily.spentUsd).toBeCloseTo(cost, 12);
    // Once only: a second lookup changes nothing.
    await call(u.client, 'get_generation', { id });
    expect((await h.usage(u.id)).usage.daily.spentUsd).toBeCloseTo(cost, 12);
    expect(await h.records(other.id)).toEqual([]);
  });

  test('a call with an OAuth access token names the OAuth client and the token on its record', async () => {
    const u = await newUser();
    // The client a metadata document identifies (its URL is its id), as the token endpoint would have granted.
    const clientId = 'https://client.example/.well-known/oauth-client/ledger-test.json';
    const grant = await h.store.createGrant(u.id, { clientId, clientName: 'Ledger test client', audience: IN_PROCESS_URL, scope: 'mcp' });
    const { token, info } = await h.store.issueToken(u.id, { grant, expiresAt: new Date(Date.now() + 600_000) });
    const client = await connectV2(token, { fetch: h.fetch });
    clients.push(client);
    const result = await call(client, 'send_chat_completion_request', { model: 'fake/echo', messages: [{ role: 'user', content: 'hi' }] });
    expect(result.isError).toBeFalsy();

    await h.app.settle();
    const records = await h.ledger.listRecords(u.id);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ outcome: 'ok', tokenId: info.tokenId, clientId });
    // The token itself never reaches the ledger.
    expect(JSON.stringify(records)).not.toContain(token);
  });
});

describe('a record still being written', () => {
  test("under a cap, holds back its user's next usage read on the instance (re-read once it lands), not another user's", async () => {
    const events: string[] = [];
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    /** The table's ledger, with every record held until the gate opens and every usage read noted. */
    class GatedLedger extends LedgerStore {
      override async record(...args: Parameters<LedgerStore['record']>): ReturnType<LedgerStore['record']> {
        events.push('record sent');
        await gate;
        const written = await super.record(...args);
        events.push('record landed');
        return written;
      }
      override readUsage(userId: string, at?: Date): ReturnType<LedgerStore['readUsage']> {
        events.push(`usage read ${userId}`);
        return super.readUsage(userId, at);
      }
    }
    const logger = createLogger({ write: () => undefined });
    const team = TeamControl.fromConfig({ policy: OPEN_POLICY, budgetDefaults: { daily: 10 } }, new GatedLedger({ client: h.dynamo.client, tableName: h.dynamo.tableName, logger }), logger);
    const catalog = async () => ((await (await fetch(`${h.fake.baseUrl}/models`)).json()) as { data: Model[] }).data;
    const userId = `u-gated-${randomBytes(4).toString('hex')}`;
    const otherId = `u-other-${randomBytes(4).toString('hex')}`;
    const args = { model: 'fake/echo', messages: [{ role: 'user', content: 'hi' }] };
    const first = team.begin({ userId, tokenId: 't-gated' }, 'send_chat_completion_request', args);
    expect((await first.admit(args, catalog)).ok).toBe(true);
    const recording = first.record({
      tool: 'send_chat_completion_request',
      paid: true,
      outcome: 'ok',
      usage: { model: 'fake/echo', promptTokens: 12, completionTokens: 3, costUsd: 0.25 },
      latencyMs: 5,
      upstreamError: false,
      userId,
      tokenId: 't-gated',
    });

    // Started while the record is held: the same user's budget view and next call wait for it.
    const view = team.budgetView(userId);
    const next = team.begin({ userId, tokenId: 't-gated' }, 'send_chat_completion_request', args).readUsage();
    // Another user's read is not held back (it completes with the gate still closed).
    await team.budgetView(otherId);
    // The first call's read, then the view's and the next call's: each ran once, saw a cap and a record in flight,
    // and waits to read again.
    // (the record starts a microtask after record() returns, so its place among the others is not fixed)
    await new Promise((r) => setImmediate(r));
    expect([...events].sort()).toEqual(['record sent', `usage read ${otherId}`, ...Array(3).fill(`usage read ${userId}`)].sort());

    open();
    await recording;
    expect((await view).daily.spent_usd).toBe(0.25);
    expect((await next).usage.daily.spentUsd).toBe(0.25);
    expect(events.slice(5)).toEqual(['record landed', `usage read ${userId}`, `usage read ${userId}`]);
    await team.settle();
  });
});

describe('refusals are recorded too', () => {
  test('a user without a key: one refused record with the model asked for, and no cost', async () => {
    const name = `nokey${randomBytes(4).toString('hex')}`;
    const { userId } = await h.store.createUser(name);
    const { token } = await h.store.issueToken(userId, { label: 'test' });
    const client = await connectV2(token, { fetch: h.fetch });
    clients.push(client);
    const result = await call(client, 'send_chat_completion_request', { model: 'fake/echo', messages: [{ role: 'user', content: 'hi' }] });
    expect(result.isError).toBe(true);
    await h.app.settle();
    const records = await h.ledger.listRecords(userId);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ outcome: 'refused', reason: 'no_key', requestedModel: 'fake/echo', countedUsd: 0 });
    expect(records[0]!.costUsd).toBeUndefined();
  });
});

describe('budgets', () => {
  test('a user at their cap is refused, with the window, cap, spend and reset, and nothing goes upstream', async () => {
    const u = await newUser({ daily: 0.5 });
    await h.ledger.record({ time: new Date(), userId: u.id, tool: 'send_chat_completion_request', requestedModel: 'fake/echo', outcome: 'ok', costUsd: 0.5 });
    const refusalsBefore = metricSum('BudgetRefusals');

    const result = await call(u.client, 'send_chat_completion_request', { model: 'fake/echo', messages: [{ role: 'user', content: 'hi' }] });
    expect(result.isError).toBe(true);
    const text = textOf(result);
    expect(text).toMatch(/daily cap is \$0\.50/);
    expect(text).toMatch(/spent \$0\.50/);
    expect(text).toMatch(/resets at \d{4}-\d{2}-\d{2}T00:00:00\.000Z/);
    expect(chatCalls(u.key)).toHaveLength(0);
    expect(metricSum('BudgetRefusals')).toBe(refusalsBefore + 1);

    await h.app.settle();
    const [refused] = await h.ledger.listRecords(u.id, { limit: 1 });
    expect(refused).toMatchObject({ outcome: 'refused', reason: 'budget:daily', countedUsd: 0 });
    expect(refused!.costUsd).toBeUndefined();
  });

  test('max_tokens is clamped to what the remaining budget pays for', async () => {
    const cap = 0.001;
    const u = await newUser({ daily: cap });
    const messages = [{ role: 'user', content: 'hello there' }];
    const estimate = estimatePromptTokens({ messages });
    const affordable = Math.floor((cap - estimate * P_IN) / P_OUT);
    expect(affordable).toBeLessThan(5000);

    const clamped = await call(u.client, 'send_chat_completion_request', { model: 'fake/echo', messages, max_tokens: 5000 });
    expect(clamped.isError).toBeFalsy();
    const small = await call(u.client, 'send_chat_completion_request', { model: 'fake/echo', messages, max_tokens: 10 });
    expect(small.isError).toBeFalsy();

    const bodies = chatCalls(u.key).map((r) => r.body as { max_tokens?: number });
    expect(bodies[0]!.max_tokens).toBe(affordable);
    // Within the budget: left as asked.
    expect(bodies[1]!.max_tokens).toBe(10);
    // Without max_tokens, the model's own limit is the worst case, which this cap cannot cover: clamped too.
    await call(u.client, 'send_chat_completion_request', { model: 'fake/echo', messages });
    expect((chatCalls(u.key)[2]!.body as { max_tokens?: number }).max_tokens).toBeGreaterThan(0);
    expect((chatCalls(u.key)[2]!.body as { max_tokens?: number }).max_tokens).toBeLessThan(affordable);
  });

  test('a continued conversation is judged with its stored turns: the clamp counts the history as prompt', async () => {
    const cap = 0.01;
    const u = await newUser({ daily: cap });
    const first = await call(u.client, 'send_chat_completion_request', { model: 'fake/echo', messages: [{ role: 'user', content: 'lorem ipsum '.repeat(400) }], max_tokens: 4 });
    expect(first.isError).toBeFalsy();
    const conversationId = first.structuredContent!.conversation_id as string;
    const short = [{ role: 'user', content: 'and then?' }];
    const next = await call(u.client, 'send_chat_completion_request', { model: 'fake/echo', conversation_id: conversationId, messages: short, max_tokens: 100_000 });
    expect(next.isError).toBeFalsy();

    const sent = chatCalls(u.key)[1]!.body as { max_tokens: number; messages: unknown[] };
    expect(sent.messages.length).toBe(3); // the stored question and answer, then the new message
    const spent = (await h.ledger.readUsage(u.id)).usage.daily.spentUsd;
    const affordable = (prompt: unknown[]) => Math.floor((cap - spent - estimatePromptTokens({ messages: prompt as never }) * P_IN) / P_OUT);
    // Clamped for the whole request that went upstream, not for the new message alone (which would allow more).
    // (within a few tokens: the guard estimates the turns as stored, before the client's serialisation)
    expect(Math.abs(sent.max_tokens - affordable(sent.messages))).toBeLessThanOrEqual(20);
    expect(affordable(short) - sent.max_tokens).toBeGreaterThan(500);
  });

  test('a model with no listed price is refused under a cap', async () => {
    const u = await newUser({ monthly: 5 });
    const result = await call(u.client, 'send_chat_completion_request', { model: 'openrouter/auto', messages: [{ role: 'user', content: 'hi' }] });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/price is unknown or variable/);
    expect(chatCalls(u.key)).toHaveLength(0);
    await h.app.settle();
    const [record] = await h.ledger.listRecords(u.id, { limit: 1 });
    expect(record).toMatchObject({ outcome: 'refused', reason: 'budget:unknown_price' });
  });

  test('20 concurrent calls against a small budget overspend by no more than the prompt-estimate error', async () => {
    const cap = 0.0002;
    const u = await newUser({ daily: cap });
    const messages = [{ role: 'user', content: 'hi' }];
    const results = await Promise.all(Array.from({ length: 20 }, () => call(u.client, 'send_chat_completion_request', { model: 'fake/echo', messages, max_tokens: 4 })));

    const admitted = chatCalls(u.key).length;
    const refused = results.filter((r) => r.isError).length;
    expect(admitted + refused).toBe(20);
    expect(refused).toBeGreaterThan(0);
    expect(admitted).toBeGreaterThan(0);

    await h.app.settle();
    const snapshot = await h.ledger.readUsage(u.id);
    const records = await h.ledger.listRecords(u.id);
    expect(records).toHaveLength(20);
    const reported = records.reduce((sum, r) => sum + (r.costUsd ?? 0), 0);
    // The counters hold exactly the costs the fake reported, and every reservation was settled.
    expect(snapshot.usage.daily.spentUsd).toBeCloseTo(reported, 12);
    expect(snapshot.usage.daily.reservedUsd).toBe(0);
    // README's bound: per admitted call, (real prompt tokens - estimate) at the prompt price.
    const estimate = estimatePromptTokens({ messages });
    const bound = admitted * (FAKE_PROMPT_TOKENS - estimate) * P_IN;
    expect(snapshot.usage.daily.spentUsd).toBeLessThanOrEqual(cap + bound + 1e-12);
    // The refusals name the budget.
    for (const r of results.filter((x) => x.isError)) expect(textOf(r)).toMatch(/budget/i);
  });

  test('get_key_usage reports spend against each cap', async () => {
    const u = await newUser({ daily: 1, monthly: 20 });
    await call(u.client, 'send_chat_completion_request', { model: 'fake/echo', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });
    const result = await call(u.client, 'get_key_usage', {});
    expect(result.isError).toBeFalsy();
    const budget = result.structuredContent!.budget as Record<string, { spent_usd: number; cap_usd?: number; resets_at: string }>;
    expect(budget.daily!.cap_usd).toBe(1);
    expect(budget.weekly!.cap_usd).toBeUndefined();
    expect(budget.monthly!.cap_usd).toBe(20);
    expect(budget.daily!.spent_usd).toBeGreaterThan(0);
    expect(textOf(result)).toMatch(/Budget on this server: today \$0\.\d{4} of \$1\.00/);
  });
});

describe('operator policy', () => {
  const hi = [{ role: 'user', content: 'hi' }];

  test.each([
    ['a denied model', { model: 'openai/gpt-4o', messages: hi }, 'policy:model_denied', /"openai\/gpt-4o" matches the denied pattern "openai\/gpt-4o"/],
    ['a denied variant', { model: 'deepseek/deepseek-r1:nitro', messages: hi }, 'policy:model_denied', /denied pattern "deepseek\/\*"/],
    ['a denied fallback', { model: 'fake/echo', models: ['fake/echo', 'openai/gpt-4o'], messages: hi }, 'policy:model_denied', /fallback model models\[1\]/],
    ['a looser data policy', { model: 'fake/echo', messages: hi, provider: { data_collection: 'allow' } }, 'policy:data_collection', /data_collection to "allow"/],
    ['zdr switched off', { model: 'fake/echo', messages: hi, provider: { zdr: false } }, 'policy:zdr', /provider\.zdr to false/],
  ])('%s is refused with the rule and nothing goes upstream', async (_name, args, reason, message) => {
    const u = await newUser();
    const before = metricSum('PolicyRefusals');
    const result = await call(u.client, 'send_chat_completion_request', args);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(message);
    expect(textOf(result)).toMatch(/Nothing was sent to OpenRouter/);
    expect(chatCalls(u.key)).toHaveLength(0);
    expect(metricSum('PolicyRefusals')).toBe(before + 1);
    await h.app.settle();
    const [record] = await h.ledger.listRecords(u.id);
    expect(record).toMatchObject({ outcome: 'refused', reason });
  });

  test('an allowed request reaches upstream with the forced provider fields', async () => {
    const u = await newUser();
    const result = await call(u.client, 'send_chat_completion_request', { model: 'fake/echo', messages: hi, provider: { sort: 'price', max_price: { prompt: 2 } } });
    expect(result.isError).toBeFalsy();
    const [sent] = chatCalls(u.key);
    expect((sent!.body as { provider: unknown }).provider).toEqual({ sort: 'price', zdr: true, data_collection: 'deny', max_price: { prompt: '2', completion: '20' } });
  });

  test('text completions are under the same policy', async () => {
    const u = await newUser();
    const refused = await call(u.client, 'send_completion_request', { model: 'openai/gpt-4o', prompt: 'Once upon a time' });
    expect(refused.isError).toBe(true);
    const allowed = await call(u.client, 'send_completion_request', { model: 'openai/gpt-4o-mini', prompt: 'Once upon a time' });
    expect(allowed.isError).toBeFalsy();
    const sent = h.fake.calls('/completions').filter((r) => r.apiKey === u.key);
    expect(sent).toHaveLength(1);
    expect((sent[0]!.body as { provider: { zdr: boolean } }).provider.zdr).toBe(true);
  });

  test('the user\'s defaults apply inside the policy', async () => {
    const u = await newUser();
    await h.ledger.setDefaults(u.id, { model: 'openai/gpt-4o', max_tokens: 7 });
    const refused = await call(u.client, 'send_chat_completion_request', { messages: hi });
    expect(textOf(refused)).toMatch(/denied pattern/);
    await h.ledger.setDefaults(u.id, { model: 'fake/echo', max_tokens: 7 });
    const ok = await call(u.client, 'send_chat_completion_request', { messages: hi });
    expect(ok.isError).toBeFalsy();
    const [sent] = chatCalls(u.key);
    expect(sent!.body).toMatchObject({ model: 'fake/echo', max_tokens: 7 });
  });

  test('the catalog shows only what the policy allows', async () => {
    const u = await newUser();
    const page = await call(u.client, 'retrieve_available_models', { limit: 100 });
    const ids = (page.structuredContent!.models as { id: string }[]).map((m) => m.id);
    expect(ids).toContain('openai/gpt-4o-mini');
    expect(ids).not.toContain('openai/gpt-4o');
    expect(ids).not.toContain('deepseek/deepseek-r1');
    expect(page.structuredContent!.total).toBe(ids.length);

    const details = await call(u.client, 'get_model_details', { model: 'openai/gpt-4o' });
    expect(details.isError).toBe(true);
    expect(textOf(details)).toMatch(/policy does not permit/);
    expect(h.fake.calls('/models/openai/gpt-4o/endpoints')).toHaveLength(0);
    const allowed = await call(u.client, 'get_model_details', { model: 'openai/gpt-4o-mini' });
    expect(allowed.isError).toBeFalsy();
  });
});

describe('a failed ledger write never fails the call', () => {
  test('the table disappears while a generation runs: the answer arrives, the failure is logged and counted', async () => {
    const dynamo = await startLocalDynamo();
    const logs: string[] = [];
    const metrics: Record<string, unknown>[] = [];
    const logger = createLogger({ write: (l) => logs.push(l) });
    const sink = emfMetrics({ service: 'test', write: (l) => metrics.push(JSON.parse(l) as Record<string, unknown>) });
    const key = `sk-or-v1-ledger-${randomBytes(16).toString('hex')}`;
    h.fake.addKey(key);
    const ledger = new LedgerStore({ client: dynamo.client, tableName: dynamo.tableName, logger });
    const team = TeamControl.fromConfig({ policy: OPEN_POLICY, budgetDefaults: {} }, ledger, logger, sink);
    const server = createMcpServer({
      principal: { userId: 'u-ledger', tokenId: 't-ledger', openRouterKey: key },
      openRouter: new OpenRouterClient({ baseUrl: h.fake.baseUrl, apiKey: key, title: 'test' }),
      catalog: new CatalogCache(60_000),
      logger,
      metrics: sink,
      progressIntervalMs: 0,
      team,
    });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    const client = new Client({ name: 'ledger-failure', version: '1.0.0' }, { versionNegotiation: { mode: 'legacy' } });
    await client.connect(clientSide);
    try {
      const pending = client.callTool({ name: 'send_chat_completion_request', arguments: { model: 'fake/slow', messages: [{ role: 'user', content: 'hi' }] } }) as Promise<CallToolResult>;
      // Once the request is upstream (the usage read is done), the table goes away before the record is written.
      while (!h.fake.calls('/chat/completions').some((r) => r.apiKey === key)) await new Promise((r) => setTimeout(r, 10));
      await dynamo.client.send(new DeleteTableCommand({ TableName: dynamo.tableName }));
      const result = await pending;
      expect(result.isError).toBeFalsy();
      expect(textOf(result)).toMatch(/one two three/);
      // The record is written after the answer; settle() resolves (never rejects) once it has failed.
      await team.settle();
      expect(logs.some((l) => l.includes('ledger write failed'))).toBe(true);
      expect(metrics.filter((d) => d.LedgerWriteFailures === 1)).toHaveLength(1);
    } finally {
      await client.close();
      await server.close();
      await dynamo.close();
    }
  });
});

describe('a call refused by the per-user limits', () => {
  test('is recorded with the limit that refused it, and nothing goes upstream', async () => {
    const limited = await startHarness({ limits: { ratePerMinute: 1, maxConcurrent: 4 } });
    const client = await connectV2(limited.alice.token, { fetch: limited.fetch });
    try {
      const args = { model: 'fake/echo', messages: [{ role: 'user', content: 'hi' }] };
      const send = async () => (await client.callTool({ name: 'send_chat_completion_request', arguments: args })) as ToolResult;
      expect((await send()).isError).toBeFalsy();
      // The rate window is a fixed minute: a second call that lands in the next minute is allowed, and then the
      // third (in that same minute) is refused. Either way exactly one call is refused and nothing of it goes upstream.
      let refused = await send();
      if (!refused.isError) refused = await send();
      expect(refused.isError).toBe(true);
      const allowed = limited.fake.calls('/chat/completions').length;
      expect(allowed).toBeGreaterThanOrEqual(1);
      expect(allowed).toBeLessThanOrEqual(2);
      await limited.app.settle();
      const records = await limited.ledger.listRecords(limited.alice.id);
      expect(records.filter((r) => r.outcome === 'refused').map((r) => r.reason)).toEqual(['limit:rate']);
      expect(records.filter((r) => r.outcome === 'ok')).toHaveLength(allowed);
      expect(records[0]).toMatchObject({ outcome: 'refused', reason: 'limit:rate' }); // newest first
    } finally {
      await client.close();
      await limited.close();
    }
  });
});
