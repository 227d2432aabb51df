/**
 * Per-user limits and observability through the real handler (dynalite limiter, fake OpenRouter, real MCP
 * client): a third concurrent generation is refused with Retry-After while another user is unaffected; the
 * rate limit refuses the call after the minute's budget; every tool call leaves one log line with the request
 * id, user, tool, model, upstream status, latency, tokens and cost, and one EMF metrics document.
 */
import type { Client } from '@modelcontextprotocol/client';
import { connectV2, startHarness, textOf, type Harness, awayFromMinuteEnd } from '../support/harness.js';

type ToolResult = { content?: unknown; structuredContent?: Record<string, unknown>; isError?: boolean };

const hello = [{ role: 'user', content: 'hi' }];

function chat(client: Client, model: string): Promise<ToolResult> {
  return client.callTool({ name: 'send_chat_completion_request', arguments: { model, messages: hello } }) as Promise<ToolResult>;
}

function logLines(h: Harness): Record<string, unknown>[] {
  return h.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('concurrency limit (max 2 generations per user)', () => {
  let h: Harness;
  let alice: Client;
  let bob: Client;
  beforeAll(async () => {
    h = await startHarness({ limits: { ratePerMinute: 0, maxConcurrent: 2 } });
    // Long enough that the two slow generations are surely still running while the third is refused.
    h.fake.slowChunkDelayMs = 300;
    alice = await connectV2(h.alice.token, { fetch: h.fetch });
    bob = await connectV2(h.bob.token, { fetch: h.fetch });
  });
  afterAll(async () => {
    await alice?.close();
    await bob?.close();
    await h?.close();
  });

  test('a third concurrent generation is refused with Retry-After; bob is unaffected; slots come back afterwards', async () => {
    const slowCalls = () => h.fake.requests.filter((r) => r.path === '/chat/completions' && r.apiKey === h.alice.openRouterKey && r.body?.model === 'fake/slow');
    const running = [chat(alice, 'fake/slow'), chat(alice, 'fake/slow')];
    // Both generations hold their slot once the upstream has seen them (the slot is taken before the upstream call).
    await until(() => slowCalls().length === 2, 'two slow generations upstream');

    const refused = await chat(alice, 'fake/echo');
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(/at most 2 generations per user/);
    expect(textOf(refused)).toMatch(/Retry-After: 5\b/);
    // Refused before any upstream call: OpenRouter never saw a third request from alice.
    expect(h.fake.requests.filter((r) => r.path === '/chat/completions' && r.apiKey === h.alice.openRouterKey)).toHaveLength(2);

    // Another user has slots of their own, and alice's lookups do not need a slot.
    const bobs = await chat(bob, 'fake/echo');
    expect(bobs.isError).toBeFalsy();
    const lookup = (await alice.callTool({ name: 'get_key_usage', arguments: {} })) as ToolResult;
    expect(lookup.isError).toBeFalsy();

    const done = await Promise.all(running);
    for (const r of done) expect(r.isError).toBeFalsy();
    // Both slots were released in `finally`: alice can run two again.
    const again = await Promise.all([chat(alice, 'fake/echo'), chat(alice, 'fake/echo')]);
    for (const r of again) expect(r.isError).toBeFalsy();
    // Nothing went wrong in the limiter (a timed-out check would allow a call it should have refused).
    expect(logLines(h).filter((l) => l.level === 'error')).toEqual([]);

    const refusal = logLines(h).find((l) => l.outcome === 'throttled');
    expect(refusal).toMatchObject({
      level: 'warn',
      message: 'tool call refused by a per-user limit',
      tool: 'send_chat_completion_request',
      user_id: h.alice.id,
      limit: 'concurrency',
      limit_max: 2,
      retry_after_s: 5,
    });
    const throttles = h.metrics.filter((d) => d.Throttles === 1);
    expect(throttles).toHaveLength(1);
    expect(throttles[0]).toMatchObject({ Tool: 'send_chat_completion_request', Service: 'test', ToolErrors: 1, outcome: 'throttled' });
  });
});

describe('rate limit (3 tool calls per minute per user)', () => {
  let h: Harness;
  let alice: Client;
  let bob: Client;
  beforeAll(async () => {
    h = await startHarness({ limits: { ratePerMinute: 3, maxConcurrent: 0 } });
    alice = await connectV2(h.alice.token, { fetch: h.fetch });
    bob = await connectV2(h.bob.token, { fetch: h.fetch });
  });
  afterAll(async () => {
    await alice?.close();
    await bob?.close();
    await h?.close();
  });

  test('the fourth call in a minute is refused with the seconds left in the minute; bob is unaffected', async () => {
    // The four calls must fall into one window: too close to a minute's end, start in the next one.
    await awayFromMinuteEnd();

    for (let i = 0; i < 3; i++) expect((await chat(alice, 'fake/echo')).isError).toBeFalsy();
    const before = h.fake.requests.length;
    const refused = (await alice.callTool({ name: 'get_key_usage', arguments: {} })) as ToolResult;
    expect(refused.isError).toBe(true);
    const text = textOf(refused);
    expect(text).toMatch(/3 tool calls per minute per user/);
    const seconds = Number(/Retry-After: (\d+)\)/.exec(text)?.[1]);
    expect(seconds).toBeGreaterThanOrEqual(1);
    expect(seconds).toBeLessThanOrEqual(60);
    expect(h.fake.requests.length).toBe(before);

    expect((await chat(bob, 'fake/echo')).isError).toBeFalsy();
    expect(logLines(h).find((l) => l.outcome === 'throttled')).toMatchObject({ tool: 'get_key_usage', limit: 'rate', limit_max: 3, retry_after_s: seconds });
  });
});

describe('observability (limits off)', () => {
  let h: Harness;
  let alice: Client;
  beforeAll(async () => {
    h = await startHarness();
    alice = await connectV2(h.alice.token, {
      // A caller-chosen correlation id, as a proxy in front of the server might send it.
      fetch: ((input: RequestInfo | URL, init?: RequestInit) => {
        const headers = new Headers(init?.headers);
        headers.set('X-Request-Id', 'req-1234.abc');
        return h.fetch(input, { ...init, headers });
      }) as typeof fetch,
    });
  });
  afterAll(async () => {
    await alice?.close();
    await h?.close();
  });

  test('a generation logs request id, user, tool, model, upstream status, latency, tokens and cost — and emits EMF', async () => {
    const result = await chat(alice, 'fake/echo');
    expect(result.isError).toBeFalsy();
    const usage = result.structuredContent!.usage as { prompt_tokens: number; completion_tokens: number; cost: number };
    const line = logLines(h).find((l) => l.message === 'tool call' && l.tool === 'send_chat_completion_request');
    expect(line).toMatchObject({
      level: 'info',
      outcome: 'ok',
      request_id: 'req-1234.abc',
      user_id: h.alice.id,
      token_id: h.alice.tokenId,
      model: 'fake/echo',
      upstream_status: 200,
      upstream_calls: 1,
      latency_ms: expect.any(Number),
      tokens: usage.prompt_tokens + usage.completion_tokens,
      cost: usage.cost,
    });

    const doc = h.metrics.find((d) => d.Tool === 'send_chat_completion_request')!;
    expect(doc).toMatchObject({
      Service: 'test',
      ToolCalls: 1,
      ToolErrors: 0,
      UpstreamErrors: 0,
      Throttles: 0,
      Latency: expect.any(Number),
      Tokens: usage.prompt_tokens + usage.completion_tokens,
      Cost: usage.cost,
      request_id: 'req-1234.abc',
    });
    const aws = doc._aws as { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] };
    expect(aws.CloudWatchMetrics[0]!.Namespace).toBe('OpenRouterMcp');
    expect(aws.CloudWatchMetrics[0]!.Dimensions).toEqual([['Service', 'Tool'], ['Service']]);
    // The HTTP layer counted the response too.
    expect(h.metrics.some((d) => d.HttpRequests === 1 && d.Http5xx === 0 && d.status === 200)).toBe(true);
  });

  test('an upstream outage counts as an upstream error; a user-side 402 does not', async () => {
    const outage = await chat(alice, 'fake/error-502');
    expect(outage.isError).toBe(true);
    const credit = await chat(alice, 'fake/error-402');
    expect(credit.isError).toBe(true);
    const docs = h.metrics.filter((d) => d.outcome === 'upstream_error');
    expect(docs.map((d) => d.UpstreamErrors)).toEqual([1, 0]);
    expect(docs.map((d) => d.ToolErrors)).toEqual([1, 1]);
    const lines = logLines(h).filter((l) => l.outcome === 'upstream_error');
    expect(lines.map((l) => l.upstream_status)).toEqual([502, 402]);
    for (const l of lines) expect(l).toMatchObject({ level: 'warn', request_id: 'req-1234.abc', user_id: h.alice.id });
  });

  test('a catalog answer from the cache says no upstream call was made', async () => {
    await alice.callTool({ name: 'retrieve_available_models', arguments: {} });
    await alice.callTool({ name: 'retrieve_available_models', arguments: {} });
    const lines = logLines(h).filter((l) => l.tool === 'retrieve_available_models');
    expect(lines.map((l) => l.upstream_calls)).toEqual([1, 0]);
    expect(lines[0]!.upstream_status).toBe(200);
    expect(lines[1]!.upstream_status).toBeUndefined();
    // Lookups are not spend: no Cost or Tokens metric.
    for (const d of h.metrics.filter((m) => m.Tool === 'retrieve_available_models')) {
      expect(d.Cost).toBeUndefined();
      expect(d.Tokens).toBeUndefined();
    }
  });

  test('no token or key in any log line or metrics document', () => {
    const everything = h.logs.join('\n') + JSON.stringify(h.metrics);
    for (const secret of h.secrets()) expect(everything).not.toContain(secret);
  });
});
