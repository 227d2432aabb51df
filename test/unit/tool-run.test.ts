/**
 * Tools declared once and run through one finish step: the declarations' policy (paid → a concurrency slot and
 * spend; needsKey → the no-key refusal), the typed usage a generation reports, and the observer that hears about
 * every call exactly once — through a real MCP client and server against the fake OpenRouter on loopback, and
 * through runTool directly where a test must hold a call open.
 */
import { Client } from '@modelcontextprotocol/client';
import { InMemoryTransport, type CallToolResult } from '@modelcontextprotocol/server';
import { randomBytes } from 'node:crypto';
import type { Principal } from '../../lambda/auth/authenticator.js';
import { CatalogCache } from '../../lambda/catalog/catalog.js';
import { MemoryLimiter } from '../../lambda/limits/memory-limiter.js';
import type { Limiter } from '../../lambda/limits/limiter.js';
import { createMcpServer } from '../../lambda/mcp/server.js';
import { createLogger } from '../../lambda/observability/logger.js';
import { emfMetrics } from '../../lambda/observability/metrics.js';
import { OpenRouterClient } from '../../lambda/openrouter/client.js';
import type { ToolDeps } from '../../lambda/tools/context.js';
import { TOOLS } from '../../lambda/tools/index.js';
import type { ToolCallEvent, ToolCallObserver } from '../../lambda/tools/outcome.js';
import { runCall, runTool } from '../../lambda/tools/run.js';
import { FakeOpenRouter } from '../support/fake-openrouter.js';
import { TOOL_NAMES } from '../support/tool-names.js';
import { awayFromMinuteEnd } from '../support/harness.js';

const HELLO = [{ role: 'user', content: 'hello' }];

let fake: FakeOpenRouter;
let baseUrl: string;
const KEY = `sk-or-v1-run-${randomBytes(16).toString('hex')}`;

beforeAll(async () => {
  fake = new FakeOpenRouter([KEY]);
  baseUrl = await fake.start();
});
afterAll(async () => {
  await fake.stop();
});

interface Setup {
  deps: ToolDeps;
  events: ToolCallEvent[];
  logs: Record<string, unknown>[];
  metrics: Record<string, unknown>[];
}

function setup(options: { key?: boolean; limiter?: Limiter; observer?: ToolCallObserver } = {}): Setup {
  const events: ToolCallEvent[] = [];
  const logs: Record<string, unknown>[] = [];
  const metrics: Record<string, unknown>[] = [];
  const principal: Principal = { userId: 'u1', tokenId: 't1', ...(options.key === false ? {} : { openRouterKey: KEY }) };
  const deps: ToolDeps = {
    principal,
    openRouter: new OpenRouterClient({ baseUrl, apiKey: principal.openRouterKey ?? '', title: 'test' }),
    catalog: new CatalogCache(60_000),
    logger: createLogger({ write: (line) => logs.push(JSON.parse(line) as Record<string, unknown>) }),
    metrics: emfMetrics({ service: 'test', write: (line) => metrics.push(JSON.parse(line) as Record<string, unknown>) }),
    progressIntervalMs: 0,
    requestId: 'req-1',
    limiter: options.limiter,
    observer: options.observer ?? { onToolCall: (event) => events.push(event) },
  };
  return { deps, events, logs, metrics };
}

async function callTool(deps: ToolDeps, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const server = createMcpServer(deps);
  await server.connect(serverSide);
  const client = new Client({ name: 'tool-run-test', version: '1.0.0' }, { versionNegotiation: { mode: 'legacy' } });
  await client.connect(clientSide);
  try {
    return (await client.callTool({ name, arguments: args })) as CallToolResult;
  } finally {
    await client.close();
    await server.close();
  }
}

const tool = (name: string) => TOOLS.find((t) => t.name === name)!;

describe('the tool declarations', () => {
  test('one list names every tool once, in the order tools/list shows them', () => {
    expect(TOOLS.map((t) => t.name)).toEqual([...TOOL_NAMES]);
  });

  test('only the generations are paid; the public catalog search and the user\'s own conversations work without a key', () => {
    expect(TOOLS.filter((t) => t.paid).map((t) => t.name)).toEqual(['send_chat_completion_request', 'send_completion_request', 'generate_image']);
    expect(TOOLS.filter((t) => !t.needsKey).map((t) => t.name)).toEqual(['retrieve_available_models', 'list_conversations', 'delete_conversation']);
  });

  test('paid tools say so in their annotations; lookups are read-only; only delete_conversation destroys', () => {
    for (const t of TOOLS) expect(t.annotations.readOnlyHint).toBe(!(t.paid || t.fansOut) && t.name !== 'delete_conversation');
    expect(TOOLS.filter((t) => t.annotations.destructiveHint).map((t) => t.name)).toEqual(['delete_conversation']);
  });

  test('only compare_models fans out: it holds no slot itself, each of its generations does (see compare-models.test.ts)', () => {
    expect(TOOLS.filter((t) => t.fansOut).map((t) => [t.name, t.paid])).toEqual([['compare_models', false]]);
  });
});

describe('the observer hears about every call exactly once', () => {
  test('ok: a chat generation reports its typed usage, which metrics count and the log line keeps under its names', async () => {
    const s = setup();
    const result = await callTool(s.deps, 'send_chat_completion_request', { model: 'fake/echo', messages: HELLO });
    expect(result.isError).toBeFalsy();
    const out = result.structuredContent as { id: string; model: string; provider?: string; usage: { prompt_tokens: number; completion_tokens: number; cost: number } };

    expect(s.events).toHaveLength(1);
    const [event] = s.events;
    expect(event).toEqual({
      tool: 'send_chat_completion_request',
      paid: true,
      outcome: 'ok',
      usage: {
        model: out.model,
        ...(out.provider ? { provider: out.provider } : {}),
        generationId: out.id,
        promptTokens: out.usage.prompt_tokens,
        completionTokens: out.usage.completion_tokens,
        costUsd: out.usage.cost,
      },
      latencyMs: expect.any(Number),
      upstreamError: false,
      userId: 'u1',
      tokenId: 't1',
      requestId: 'req-1',
    });
    expect(out.usage.prompt_tokens + out.usage.completion_tokens).toBeGreaterThan(0);

    const tokens = out.usage.prompt_tokens + out.usage.completion_tokens;
    expect(s.metrics).toEqual([expect.objectContaining({ Tool: 'send_chat_completion_request', Tokens: tokens, Cost: out.usage.cost })]);
    expect(s.logs.filter((l) => l.message === 'tool call')).toEqual([
      expect.objectContaining({ tool: 'send_chat_completion_request', outcome: 'ok', model: 'fake/echo', prompt_tokens: out.usage.prompt_tokens, completion_tokens: out.usage.completion_tokens, tokens, cost: out.usage.cost }),
    ]);
  });

  test('ok: a text completion reports usage too', async () => {
    const s = setup();
    const result = await callTool(s.deps, 'send_completion_request', { model: 'fake/echo', prompt: 'Once upon a time' });
    expect(result.isError).toBeFalsy();
    expect(s.events).toHaveLength(1);
    expect(s.events[0]).toMatchObject({ tool: 'send_completion_request', paid: true, outcome: 'ok', usage: { generationId: (result.structuredContent as { id: string }).id } });
  });

  test('ok: a lookup is not paid and reports no usage (get_generation\'s cost is a past generation\'s, counted already)', async () => {
    const s = setup();
    const chat = await callTool(s.deps, 'send_chat_completion_request', { model: 'fake/echo', messages: HELLO });
    const id = (chat.structuredContent as { id: string }).id;
    s.events.length = 0;
    s.metrics.length = 0;
    const result = await callTool(s.deps, 'get_generation', { id });
    expect(result.isError).toBeFalsy();
    expect((result.structuredContent as { total_cost?: number }).total_cost).toBeGreaterThan(0);
    expect(s.events).toEqual([expect.objectContaining({ tool: 'get_generation', paid: false, outcome: 'ok', usage: {} })]);
    expect(s.metrics).toHaveLength(1);
    expect(s.metrics[0]).not.toHaveProperty('Cost');
  });

  test('tool error: an empty generation is reported once, with its usage', async () => {
    const s = setup();
    const result = await callTool(s.deps, 'send_chat_completion_request', { model: 'fake/empty', messages: HELLO });
    expect(result.isError).toBe(true);
    expect(s.events).toHaveLength(1);
    expect(s.events[0]).toMatchObject({ outcome: 'tool_error', paid: true, usage: { model: 'fake/empty' } });
    expect(s.events[0]).not.toHaveProperty('refusal');
  });

  test('upstream error: reported once, flagged as OpenRouter\'s fault, with no usage', async () => {
    const s = setup();
    const result = await callTool(s.deps, 'send_chat_completion_request', { model: 'fake/error-502', messages: HELLO });
    expect(result.isError).toBe(true);
    expect(s.events).toHaveLength(1);
    expect(s.events[0]).toMatchObject({ outcome: 'upstream_error', upstreamError: true, usage: {} });
  });

  test('bad input the schema could not catch: reported once', async () => {
    const s = setup();
    const result = await callTool(s.deps, 'get_model_details', { model: 'nobody/no-such-model' });
    expect(result.isError).toBe(true);
    expect(s.events).toHaveLength(1);
    expect(s.events[0]).toMatchObject({ tool: 'get_model_details', paid: false, outcome: 'bad_input' });
  });

  test('internal error: a crashing tool is reported once', async () => {
    const s = setup();
    const result = await runTool(tool('get_key_usage'), s.deps, async () => {
      throw new TypeError('bug');
    });
    expect(result.isError).toBe(true);
    expect(s.events).toHaveLength(1);
    expect(s.events[0]).toMatchObject({ outcome: 'internal_error', usage: {} });
  });

  test('refused without a key: reported once with the reason; the keyless catalog search still runs', async () => {
    const s = setup({ key: false });
    const keyLookups = fake.calls('/key').length;
    const refused = await callTool(s.deps, 'get_key_usage', {});
    expect(refused.isError).toBe(true);
    expect(s.events).toEqual([expect.objectContaining({ tool: 'get_key_usage', outcome: 'no_key', refusal: 'no_key', usage: {} })]);
    expect(fake.calls('/key')).toHaveLength(keyLookups);

    const search = await callTool(s.deps, 'retrieve_available_models', { query: 'echo' });
    expect(search.isError).toBeFalsy();
    expect(s.events).toHaveLength(2);
    expect(s.events[1]).toMatchObject({ tool: 'retrieve_available_models', outcome: 'ok' });
    expect(s.events[1]).not.toHaveProperty('refusal');
  });

  test('refused by the rate limit: reported once with the limit that refused it', async () => {
    await awayFromMinuteEnd();
    const s = setup({ limiter: new MemoryLimiter({ ratePerMinute: 1, maxConcurrent: 0 }) });
    await callTool(s.deps, 'retrieve_available_models', {});
    const refused = await callTool(s.deps, 'retrieve_available_models', {});
    expect(refused.isError).toBe(true);
    expect(s.events.map((e) => [e.outcome, e.refusal])).toEqual([['ok', undefined], ['throttled', 'rate']]);
  });
});

describe('runCall: the same run, telling its caller how it ended', () => {
  test('ok with the body\'s value; refused with the reason and no value; a crash with neither', async () => {
    await awayFromMinuteEnd();
    const s = setup({ limiter: new MemoryLimiter({ ratePerMinute: 2, maxConcurrent: 0 }) });
    const chat = tool('send_chat_completion_request');
    const value = { structured: { a: 1 }, text: ['done'] };
    const ok = await runCall(chat, s.deps, async () => value);
    expect(ok).toMatchObject({ outcome: 'ok', value, result: { content: [{ type: 'text', text: 'done' }], structuredContent: { a: 1 } } });
    expect(ok.refusal).toBeUndefined();

    const crashed = await runCall(chat, s.deps, async () => {
      throw new Error('boom');
    });
    expect(crashed).toMatchObject({ outcome: 'internal_error', result: { isError: true } });
    expect(crashed.value).toBeUndefined();

    const refused = await runCall(chat, s.deps, async () => value);
    expect(refused).toMatchObject({ outcome: 'throttled', refusal: 'rate', result: { isError: true } });
    expect(refused.value).toBeUndefined();

    const noKey = await runCall(chat, setup({ key: false }).deps, async () => value);
    expect(noKey).toMatchObject({ outcome: 'no_key', refusal: 'no_key' });
    // Each ended through the one finish step: one event apiece.
    expect(s.events.map((e) => e.outcome)).toEqual(['ok', 'internal_error', 'throttled']);
  });
});

describe('paid decides the concurrency hold', () => {
  test('a paid call holds a slot until it ends; an unpaid one does not take one', async () => {
    const s = setup({ limiter: new MemoryLimiter({ ratePerMinute: 0, maxConcurrent: 1 }) });
    let finishFirst!: () => void;
    const held = new Promise<void>((resolve) => (finishFirst = resolve));
    const ok = { structured: {}, text: ['done'] };
    const first = runTool(tool('send_chat_completion_request'), s.deps, async () => {
      await held;
      return ok;
    });
    // Let the first call take its slot before the others ask.
    await new Promise((r) => setImmediate(r));

    const lookup = await runTool(tool('get_key_usage'), s.deps, async () => ok);
    expect(lookup.isError).toBeFalsy();
    const second = await runTool(tool('send_completion_request'), s.deps, async () => ok);
    expect(second.isError).toBe(true);

    finishFirst();
    expect((await first).isError).toBeFalsy();
    const third = await runTool(tool('send_completion_request'), s.deps, async () => ok);
    expect(third.isError).toBeFalsy();

    expect(s.events.map((e) => [e.tool, e.outcome, e.refusal])).toEqual([
      ['get_key_usage', 'ok', undefined],
      ['send_completion_request', 'throttled', 'concurrency'],
      ['send_chat_completion_request', 'ok', undefined],
      ['send_completion_request', 'ok', undefined],
    ]);
  });
});

describe('a failing observer', () => {
  test('never changes the result; the failure is logged without the error text', async () => {
    for (const observer of [
      { onToolCall: () => { throw new Error('ledger down sk-or-v1-secretsecret'); } },
      { onToolCall: (() => Promise.reject(new Error('ledger down'))) as unknown as ToolCallObserver['onToolCall'] },
    ]) {
      const s = setup({ observer });
      const result = await callTool(s.deps, 'send_chat_completion_request', { model: 'fake/echo', messages: HELLO });
      expect(result.isError).toBeFalsy();
      await new Promise((r) => setImmediate(r));
      const warnings = s.logs.filter((l) => l.message === 'tool call observer failed');
      expect(warnings).toEqual([expect.objectContaining({ level: 'warn', error: 'Error' })]);
      expect(JSON.stringify(s.logs)).not.toContain('ledger down');
    }
  });
});
