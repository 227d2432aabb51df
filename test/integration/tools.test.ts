/**
 * Every tool through the real handler and a real MCP client (in-process fetch), against the fake
 * OpenRouter: parameters reach upstream under their OpenRouter names, results carry cost, errors are
 * actionable, each user's calls use that user's key, and nothing secret leaks into responses or logs.
 */
import type { Client } from '@modelcontextprotocol/client';
import { connectV2, startHarness, textOf, type Harness } from '../support/harness.js';
import { TOOL_NAMES } from '../support/tool-names.js';

let h: Harness;
let alice: Client;
let aliceLegacy: Client;
const seen: string[] = [];

type ToolResult = { content?: unknown; structuredContent?: Record<string, unknown>; isError?: boolean };

async function call(client: Client, name: string, args: Record<string, unknown>, onprogress?: (p: { progress: number; message?: string }) => void): Promise<ToolResult> {
  const result = (await client.callTool({ name, arguments: args }, onprogress ? { onprogress } : undefined)) as ToolResult;
  seen.push(JSON.stringify(result));
  return result;
}

const hello = [{ role: 'user', content: 'hello there' }];

beforeAll(async () => {
  h = await startHarness({ appUrl: 'https://mcp.example.org' });
  alice = await connectV2(h.alice.token, { fetch: h.fetch });
  aliceLegacy = await connectV2(h.alice.token, { fetch: h.fetch, mode: 'legacy' });
});

afterAll(async () => {
  await alice.close();
  await aliceLegacy.close();
  await h.close();
});

afterEach(() => {
  // Every request any test sent upstream must match the official OpenAPI spec.
  expect(h.fake.violations).toEqual([]);
});

describe('tool listing', () => {
  test('every tool, each with title, description, annotations, input and output schema', async () => {
    const { tools } = await alice.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([...TOOL_NAMES].sort());
    for (const t of tools) {
      expect(t.title).toBeTruthy();
      expect(t.description!.length).toBeGreaterThan(40);
      expect(t.annotations).toBeDefined();
      expect(t.inputSchema.type).toBe('object');
      expect(t.outputSchema?.type).toBe('object');
    }
    const chat = tools.find((t) => t.name === 'send_chat_completion_request')!;
    expect(chat.annotations).toMatchObject({ readOnlyHint: false, openWorldHint: true });
    expect(tools.find((t) => t.name === 'retrieve_available_models')!.annotations).toMatchObject({ readOnlyHint: true });
  });

  test('the 2025-era client sees the same tools', async () => {
    expect(aliceLegacy.getNegotiatedProtocolVersion()).toBe('2025-11-25');
    expect(alice.getNegotiatedProtocolVersion()).toBe('2026-07-28');
    expect((await aliceLegacy.listTools()).tools).toHaveLength(TOOL_NAMES.length);
  });
});

describe('send_chat_completion_request', () => {
  test('every OpenRouter chat parameter reaches upstream unchanged, under its own name', async () => {
    const args = {
      model: 'openai/gpt-4o',
      models: ['openai/gpt-4o', 'anthropic/claude-sonnet-4.5'],
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer in English.' }] },
        { role: 'user', content: [{ type: 'text', text: 'What is in this image?' }, { type: 'image_url', image_url: { url: 'https://example.com/cat.png', detail: 'low' } }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{"q":"cat"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'a cat' },
        { role: 'user', content: 'So?' },
      ],
      temperature: 0.7,
      max_tokens: 256,
      top_p: 0.9,
      top_k: 40,
      min_p: 0.05,
      top_a: 0.1,
      frequency_penalty: 0.5,
      presence_penalty: -0.5,
      repetition_penalty: 1.1,
      seed: 42,
      stop: ['\n\n', 'END'],
      logit_bias: { '50256': -100 },
      logprobs: true,
      top_logprobs: 5,
      response_format: { type: 'json_schema', json_schema: { name: 'answer', strict: true, schema: { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] } } },
      tools: [{ type: 'function', function: { name: 'lookup', description: 'Look up', parameters: { type: 'object', properties: { q: { type: 'string' } } } } }],
      tool_choice: { type: 'function', function: { name: 'lookup' } },
      parallel_tool_calls: false,
      provider: {
        order: ['openai', 'azure'],
        only: ['openai', 'azure'],
        ignore: ['deepinfra'],
        allow_fallbacks: false,
        require_parameters: true,
        data_collection: 'deny',
        zdr: true,
        enforce_distillable_text: false,
        quantizations: ['fp16', 'bf16'],
        sort: 'throughput',
        max_price: { prompt: 5, completion: '15' },
        preferred_min_throughput: 50,
        preferred_max_latency: { p90: 3 },
      },
      reasoning: { effort: 'high', summary: 'concise' },
      plugins: [{ id: 'web', max_results: 3, search_prompt: 'Sources:' }, { id: 'response-healing' }],
      user: 'user-1234',
    };
    const result = await call(alice, 'send_chat_completion_request', args);
    expect(result.isError).toBeFalsy();
    const sent = h.fake.calls('/chat/completions').at(-1)!.body!;
    const { provider, ...rest } = args;
    expect(sent).toMatchObject(rest);
    // max_price is sent as OpenRouter's decimal strings.
    expect(sent.provider).toEqual({ ...provider, max_price: { prompt: '5', completion: '15' } });
    expect(Object.keys(sent).sort()).toEqual(Object.keys(args).sort());
  });

  test('result: text, model and provider that served, generation id, usage with cost', async () => {
    const result = await call(alice, 'send_chat_completion_request', { model: 'openai/gpt-4o', messages: hello });
    expect(result.isError).toBeFalsy();
    const s = result.structuredContent!;
    expect(s).toMatchObject({ model: 'openai/gpt-4o', provider: 'FakeProvider', finish_reason: 'stop', content: 'Echo: hello there' });
    expect(s.id).toMatch(/^gen-/);
    expect((s.usage as { cost: number }).cost).toBeGreaterThan(0);
    expect(textOf(result)).toContain('Echo: hello there');
    expect(textOf(result)).toMatch(/cost: \$0\.0000\d+/);
  });

  test('models fallback: the result names the model that actually served', async () => {
    const result = await call(alice, 'send_chat_completion_request', { models: ['fake/error-503', 'openai/gpt-4o-mini'], messages: hello });
    expect(result.structuredContent).toMatchObject({ model: 'openai/gpt-4o-mini' });
    expect(h.fake.calls('/chat/completions').at(-1)!.body).toMatchObject({ models: ['fake/error-503', 'openai/gpt-4o-mini'] });
  });

  test.each([
    ['non-streamed', undefined],
    ['streamed', () => undefined],
  ])('tool calls come back whole (%s)', async (_mode, onprogress) => {
    const result = await call(alice, 'send_chat_completion_request', {
      model: 'fake/tool-call',
      messages: [{ role: 'user', content: 'weather in Paris?' }],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
    }, onprogress);
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({
      finish_reason: 'tool_calls',
      tool_calls: [{ id: 'call_abc123', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris","unit":"c"}' } }],
    });
    expect(textOf(result)).toContain('get_weather({"city":"Paris","unit":"c"})');
  });

  test('a length cut-off is reported, not passed off as complete', async () => {
    const result = await call(alice, 'send_chat_completion_request', { model: 'fake/length', messages: hello, max_tokens: 5 });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ finish_reason: 'length' });
    expect(result.structuredContent!.notice).toMatch(/max_tokens/);
    expect(textOf(result)).toMatch(/cut off/);
  });

  test('a reasoning-only answer is an error that says what to change', async () => {
    const result = await call(alice, 'send_chat_completion_request', { model: 'fake/reasoning-only', messages: hello });
    expect(result.isError).toBe(true);
    expect(result.structuredContent).toMatchObject({ content: '', reasoning: expect.stringContaining('think') });
    expect(textOf(result)).toMatch(/reasoning.*max_tokens/s);
  });

  test('an empty answer is an error', async () => {
    const result = await call(alice, 'send_chat_completion_request', { model: 'fake/empty', messages: hello });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/empty answer/);
  });

  test('bad arguments are a tool error naming the problem, and nothing is sent upstream', async () => {
    const before = h.fake.calls('/chat/completions').length;
    const typo = await call(alice, 'send_chat_completion_request', { model: 'openai/gpt-4o', messages: hello, Temperature: 1 });
    expect(typo.isError).toBe(true);
    expect(textOf(typo)).toMatch(/Temperature/);
    const range = await call(alice, 'send_chat_completion_request', { model: 'openai/gpt-4o', messages: hello, temperature: 9 });
    expect(range.isError).toBe(true);
    const role = await call(alice, 'send_chat_completion_request', { model: 'openai/gpt-4o', messages: [{ role: 'robot', content: 'x' }] });
    expect(role.isError).toBe(true);
    expect(h.fake.calls('/chat/completions').length).toBe(before);
  });
});

describe('upstream errors become actionable tool errors', () => {
  test.each([
    ['fake/error-401', /OpenRouter API key.*(invalid|disabled)/],
    ['fake/error-402', /credits.*limit/],
    ['fake/error-403', /moderation.*harassment, violence/],
    ['fake/error-408', /timed out/],
    ['fake/error-429', /Retry after 7 seconds/],
    ['fake/error-502', /provider returned an error/],
    ['fake/error-503', /No provider is currently available/],
    ['no-such/model', /retrieve_available_models/],
    ['fake/garbage', /could not read/],
  ])('%s', async (model, expected) => {
    const before = h.fake.calls('/chat/completions').length;
    const result = await call(alice, 'send_chat_completion_request', { model, messages: hello });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(expected);
    expect(textOf(result)).not.toMatch(/at \w+ \(|node_modules|\.ts:\d+/);
    // Paid calls are never retried.
    expect(h.fake.calls('/chat/completions').length).toBe(before + 1);
  });

  test('a mid-stream error event fails the call after partial progress', async () => {
    const progress: string[] = [];
    const result = await call(alice, 'send_chat_completion_request', { model: 'fake/midstream-error', messages: hello }, (p) => progress.push(p.message ?? ''));
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/part-way through the stream.*Provider disconnected/);
    expect(progress.join('')).toContain('Echo');
  });

  test('a stream that ends before finishing is an error, not a short answer', async () => {
    const result = await call(alice, 'send_chat_completion_request', { model: 'fake/truncated', messages: hello }, () => undefined);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/ended before the generation finished/);
  });
});

describe('streaming progress', () => {
  test('partial text arrives as progress notifications before the final result (2026 era)', async () => {
    const events: { progress: number; message?: string; at: number }[] = [];
    const started = Date.now();
    const result = await call(alice, 'send_chat_completion_request', { model: 'fake/slow', messages: hello }, (p) => events.push({ ...p, at: Date.now() - started }));
    const finishedAt = Date.now() - started;
    expect(events.length).toBeGreaterThanOrEqual(3);
    expect(events.map((e) => e.message).join('')).toBe(result.structuredContent!.content);
    // progress is monotonically increasing
    for (let i = 1; i < events.length; i++) expect(events[i]!.progress).toBeGreaterThan(events[i - 1]!.progress);
    // the first piece came well before the end (the fake waits between chunks)
    expect(events[0]!.at).toBeLessThan(finishedAt);
  });

  test('the 2025-era client gets progress too', async () => {
    const messages: string[] = [];
    const result = await call(aliceLegacy, 'send_chat_completion_request', { model: 'fake/slow', messages: hello }, (p) => messages.push(p.message ?? ''));
    expect(messages.length).toBeGreaterThanOrEqual(3);
    expect(messages.join('')).toBe(result.structuredContent!.content);
  });

  test('without a progress token the upstream call is not streamed', async () => {
    await call(alice, 'send_chat_completion_request', { model: 'openai/gpt-4o', messages: hello });
    expect(h.fake.calls('/chat/completions').at(-1)!.body!.stream).toBeUndefined();
    await call(alice, 'send_chat_completion_request', { model: 'openai/gpt-4o', messages: hello }, () => undefined);
    expect(h.fake.calls('/chat/completions').at(-1)!.body!.stream).toBe(true);
  });
});

describe('send_completion_request', () => {
  test('prompt and sampling parameters go to /completions; the result carries text and cost', async () => {
    const args = { model: 'openai/gpt-4o-mini', prompt: 'Once upon a time', temperature: 0.2, max_tokens: 20, top_p: 0.5, top_k: 10, seed: 7, stop: '.', repetition_penalty: 1.05, provider: { sort: 'price' } };
    const result = await call(alice, 'send_completion_request', args);
    expect(result.isError).toBeFalsy();
    expect(h.fake.calls('/completions').at(-1)!.body).toEqual(args);
    expect(result.structuredContent).toMatchObject({ content: ' and so on after "Once upon a time"', model: 'openai/gpt-4o-mini' });
    expect((result.structuredContent!.usage as { cost: number }).cost).toBeGreaterThan(0);
  });

  test('streams progress when asked', async () => {
    const messages: string[] = [];
    const result = await call(alice, 'send_completion_request', { model: 'fake/slow', prompt: 'count' }, (p) => messages.push(p.message ?? ''));
    expect(messages.length).toBeGreaterThanOrEqual(3);
    expect(messages.join('')).toBe(result.structuredContent!.content);
  });

  test('needs a prompt', async () => {
    const result = await call(alice, 'send_completion_request', { model: 'openai/gpt-4o-mini' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/prompt/);
  });
});

describe('retrieve_available_models', () => {
  test('compact records with per-million prices, capability flags and a total', async () => {
    const result = await call(alice, 'retrieve_available_models', { query: 'gpt-4o' });
    const page = result.structuredContent as { total: number; models: { id: string; prompt_price_per_m: number; completion_price_per_m: number; capabilities: Record<string, boolean> }[] };
    expect(page.total).toBe(2);
    const gpt4o = page.models.find((m) => m.id === 'openai/gpt-4o')!;
    expect(gpt4o.prompt_price_per_m).toBe(2.5);
    expect(gpt4o.completion_price_per_m).toBe(10);
    expect(gpt4o.capabilities).toMatchObject({ tools: true, vision: true, free: false });
    expect(textOf(result)).toContain('$2.50/$10.00 per 1M');
  });

  test('filters, sort and paging; image-output models are part of the catalog', async () => {
    const image = await call(alice, 'retrieve_available_models', { output_modality: 'image' });
    expect((image.structuredContent!.models as { id: string }[]).map((m) => m.id)).toEqual(['google/gemini-2.5-flash-image']);
    const free = await call(alice, 'retrieve_available_models', { free_only: true });
    expect((free.structuredContent!.models as { id: string }[]).map((m) => m.id)).toEqual(['meta-llama/llama-3.1-8b-instruct:free']);
    const tools = await call(alice, 'retrieve_available_models', { supported_parameters: ['tools', 'reasoning'], sort: 'price_asc' });
    const ids = (tools.structuredContent!.models as { id: string }[]).map((m) => m.id);
    expect(ids[0]).toBe('openai/gpt-4o-mini');
    expect(ids).not.toContain('google/gemini-2.5-flash-image');
    const page1 = await call(alice, 'retrieve_available_models', { limit: 3, sort: 'name' });
    expect(page1.structuredContent).toMatchObject({ limit: 3, offset: 0, next_offset: 3 });
    const page2 = await call(alice, 'retrieve_available_models', { limit: 3, offset: 3, sort: 'name' });
    const all = [...(page1.structuredContent!.models as { id: string }[]), ...(page2.structuredContent!.models as { id: string }[])].map((m) => m.id);
    expect(new Set(all).size).toBe(6);
  });

  test('the catalog is fetched once and then served from the cache', async () => {
    const before = h.fake.calls('/models').length;
    await call(alice, 'retrieve_available_models', { query: 'llama' });
    await call(aliceLegacy, 'retrieve_available_models', { query: 'claude' });
    expect(h.fake.calls('/models').length - before).toBeLessThanOrEqual(1);
    expect(h.fake.calls('/models').every((r) => r.query.get('output_modalities') === 'all')).toBe(true);
  });

  test('limit over 100 is refused', async () => {
    const result = await call(alice, 'retrieve_available_models', { limit: 1000 });
    expect(result.isError).toBe(true);
  });
});

describe('model details, generation lookup and key usage', () => {
  test('get_model_details lists provider endpoints, cheapest first, with per-million prices', async () => {
    const result = await call(alice, 'get_model_details', { model: 'anthropic/claude-sonnet-4.5' });
    const s = result.structuredContent as { endpoints: { provider: string; prompt_price_per_m: number }[] };
    expect(s.endpoints.map((e) => e.provider)).toEqual(['Cheapo', 'Pricey']);
    expect(s.endpoints[0]!.prompt_price_per_m).toBe(3);
    expect(h.fake.calls('/models/anthropic/claude-sonnet-4.5/endpoints')).toHaveLength(1);
    // The context window reads as the model list prints it ("1000k ctx"), not as a raw token count.
    const listed = await call(alice, 'retrieve_available_models', { query: 'claude sonnet' });
    const listCtx = /· (\d+k ctx) ·/.exec(textOf(listed))?.[1];
    expect(listCtx).toMatch(/^\d+k ctx$/);
    expect(textOf(result)).toContain(`· ${listCtx} ·`);
    expect(textOf(result)).not.toMatch(/\d{4,} ctx/);
  });

  test('get_model_details for an unknown model suggests the search tool', async () => {
    const result = await call(alice, 'get_model_details', { model: 'nobody/nothing' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/retrieve_available_models/);
  });

  test('get_generation retries the brief 404 and returns the billed cost', async () => {
    const chat = await call(alice, 'send_chat_completion_request', { model: 'openai/gpt-4o', messages: hello });
    const id = chat.structuredContent!.id as string;
    const result = await call(alice, 'get_generation', { id });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ id, model: 'openai/gpt-4o', provider: 'FakeProvider', total_cost: (chat.structuredContent!.usage as { cost: number }).cost });
    // Upstream sends cache_discount: null; what it does not know is left out, not passed on as null.
    expect(result.structuredContent).not.toHaveProperty('cache_discount');
    expect(Object.values(result.structuredContent!)).not.toContain(null);
    expect(textOf(result)).toMatch(/latency 120 ms · finish_reason stop$/);
    expect(h.fake.calls('/generation').filter((r) => r.query.get('id') === id)).toHaveLength(2);
  });

  test('get_generation for an unknown id says to try again later', async () => {
    const result = await call(alice, 'get_generation', { id: 'gen-unknown' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/try again/i);
  });

  test('get_key_usage reports usage and limit', async () => {
    const result = await call(alice, 'get_key_usage', {});
    expect(result.structuredContent).toMatchObject({ limit: 50, limit_remaining: 37.5, usage: 12.5, is_free_tier: false, limit_reset: 'monthly' });
    expect(textOf(result)).toContain('$37.50 left');
  });
});

describe('isolation and secrecy', () => {
  test('each user reaches OpenRouter with their own key only', async () => {
    const bob = await connectV2(h.bob.token, { fetch: h.fetch });
    const mark = h.fake.requests.length;
    await call(alice, 'send_chat_completion_request', { model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'from alice' }] });
    await call(bob, 'send_chat_completion_request', { model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'from bob' }] });
    await call(bob, 'get_key_usage', {});
    const recent = h.fake.requests.slice(mark);
    const byText = (t: string) => recent.find((r) => JSON.stringify(r.body ?? {}).includes(t))!;
    expect(byText('from alice').apiKey).toBe(h.alice.openRouterKey);
    expect(byText('from bob').apiKey).toBe(h.bob.openRouterKey);
    expect(recent.filter((r) => r.path === '/key').map((r) => r.apiKey)).toEqual([h.bob.openRouterKey]);
    await bob.close();
  });

  test('attribution headers are sent upstream', async () => {
    const last = h.fake.calls('/chat/completions').at(-1)!;
    expect(last.headers['x-title']).toBe('OpenRouter MCP');
    expect(last.headers['http-referer']).toBe('https://mcp.example.org');
  });

  test('logs are structured, name the user and tool, and never hold a token or key', () => {
    const lines = h.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    const toolLines = lines.filter((l) => l.message === 'tool call');
    expect(toolLines.length).toBeGreaterThan(10);
    expect(toolLines[0]).toMatchObject({ user_id: expect.any(String), tool: expect.any(String), latency_ms: expect.any(Number) });
    expect(lines.some((l) => l.message === 'tool call failed upstream' && l.upstream_status === 402)).toBe(true);
    const everything = h.logs.join('\n') + seen.join('\n');
    for (const secret of h.secrets()) expect(everything).not.toContain(secret);
    expect(everything).not.toMatch(/sk-or-v1-[a-z]+-[0-9a-f]{8}/);
  });
});
