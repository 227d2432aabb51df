/**
 * Fault injection, upstream side: the real handler served over loopback HTTP, a real MCP client, and the fake
 * OpenRouter made to fail. Every case must end in a clear tool error (no stack trace, no secret) without
 * hanging, send a paid call (chat/completions, completions) exactly once, retry only idempotent reads and
 * only within their budget, and leave the server healthy: the next good call succeeds. Across the file: no
 * unhandled rejection, and the account table is byte-for-byte what it was.
 *
 * The list of faults and where each is covered:
 *   paid calls, once each   hang before answering · stall mid-stream · reset before answering · reset mid-stream
 *                           · HTTP 500/504 · garbage SSE — here; 401/402/403/408/429+Retry-After/502/503,
 *                           malformed (non-JSON) body, mid-stream error event, truncated stream —
 *                           test/integration/tools.test.ts ("upstream errors become actionable tool errors")
 *   reads (catalog, key,    transient 5xx then success · persistent 5xx · reset · 429 + Retry-After inside and
 *   generation, endpoints)  beyond the budget · 402 (not retried) · malformed JSON · hang (read budget; a stale
 *                           catalog is served instead of an error) — here;
 *                           the brief 404 of a fresh generation — tools.test.ts
 *   DynamoDB                stopped · slow · stalled with the production timeouts · stopped and stalled under
 *                           the Lambda's token cache and table limits (fail open, no leaked slot) — test/fault/dynamo.test.ts
 */
import type { Client } from '@modelcontextprotocol/client';
import { READ_MAX_ATTEMPTS } from '../../lambda/openrouter/client.js';
import type { FaultMode } from '../support/fake-openrouter.js';
import { dumpTable, isCallAccounting, settlesWithin, watchUnhandledRejections, type RejectionWatch } from '../support/faults.js';
import { connectV2, startHarness, textOf, type Harness } from '../support/harness.js';

/** The generation timeout for this file (the production default is 10 minutes); roomy for a busy 2-core machine. */
const GENERATION_TIMEOUT_MS = 2_500;
/** "Did not hang" guard for one call: far above any bound the server sets, well below jest's timeout. */
const HANG_GUARD_MS = 20_000;

let h: Harness;
let alice: Client;
let rejections: RejectionWatch;
let storedBefore: string;

type ToolResult = { content?: unknown; structuredContent?: Record<string, unknown>; isError?: boolean };
const hello = [{ role: 'user', content: 'hello there' }];

function call(name: string, args: Record<string, unknown>, onprogress?: (p: { message?: string }) => void): Promise<ToolResult> {
  return settlesWithin(HANG_GUARD_MS, name, alice.callTool({ name, arguments: args }, onprogress ? { onprogress, timeout: HANG_GUARD_MS } : { timeout: HANG_GUARD_MS }) as Promise<ToolResult>);
}

const chat = (onprogress?: (p: { message?: string }) => void) => call('send_chat_completion_request', { model: 'fake/echo', messages: hello }, onprogress);

/** A tool error whose text matches, and holds no stack trace and no secret. */
function expectClearError(result: ToolResult, pattern: RegExp): void {
  expect(result.isError).toBe(true);
  const text = textOf(result);
  expect(text).toMatch(pattern);
  expect(text).not.toMatch(/at \w+ \(|node_modules|\.ts:\d+|TypeError|AbortError|DOMException/);
  for (const secret of h.secrets()) expect(text).not.toContain(secret);
}

/** The fault is gone: the same kind of call works again. */
async function expectRecovered(work: () => Promise<ToolResult>): Promise<void> {
  h.fake.clearFaults();
  const result = await work();
  expect(result.isError).toBeFalsy();
}

const sent = (path: string) => h.fake.calls(path).length;

beforeAll(async () => {
  rejections = watchUnhandledRejections();
  // catalogTtlMs 0: every catalog call reaches the fake, so /models faults are not hidden by the cache.
  h = await startHarness({ upstreamTimeoutMs: GENERATION_TIMEOUT_MS, catalogTtlMs: 0 });
  // The fake compiles its OpenAPI validator on first use; do that outside the generation timeout.
  await fetch(`${h.fake.baseUrl}/chat/completions`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${h.alice.openRouterKey}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'fake/echo', messages: hello }),
  }).then((r) => r.text());
  const server = await h.listen();
  alice = await connectV2(h.alice.token, { url: `${server.url}/mcp` });
  expect((await chat()).isError).toBeFalsy();
  await h.store.settle();
  storedBefore = await dumpTable(h.dynamo.endpoint, h.dynamo.tableName, { skip: isCallAccounting });
});

afterEach(() => {
  h.fake.clearFaults();
  expect(h.fake.violations).toEqual([]);
});

afterAll(async () => {
  rejections.stop();
  await alice?.close();
  await h?.close();
});

describe('paid calls are sent exactly once, whatever the fault', () => {
  const paid: [string, string, Record<string, unknown>][] = [
    ['/chat/completions', 'send_chat_completion_request', { model: 'fake/echo', messages: hello }],
    ['/completions', 'send_completion_request', { model: 'fake/echo', prompt: 'Once upon a time' }],
  ];
  const faults: [string, FaultMode, RegExp][] = [
    ['HTTP 500', { kind: 'status', status: 500 }, /OpenRouter returned HTTP 500/],
    ['HTTP 504', { kind: 'status', status: 504 }, /OpenRouter returned HTTP 504/],
    ['connection reset before any response', { kind: 'reset' }, /Could not reach OpenRouter/],
    ['no answer at all (hang)', { kind: 'hang' }, /did not answer in time/],
  ];
  describe.each(paid)('%s', (path, tool, args) => {
    test.each(faults)('%s', async (_name, mode, expected) => {
      h.fake.fault(path, mode);
      const before = sent(path);
      expectClearError(await call(tool, args), expected);
      expect(sent(path)).toBe(before + 1);
      await expectRecovered(() => call(tool, args));
    });
  });

  test('a stream that stalls after partial output times out', async () => {
    h.fake.fault('/chat/completions', { kind: 'stall-midstream' });
    const before = sent('/chat/completions');
    const progress: string[] = [];
    expectClearError(await chat((p) => progress.push(p.message ?? '')), /did not answer in time/);
    expect(progress.join('')).toContain('Partial');
    expect(sent('/chat/completions')).toBe(before + 1);
    await expectRecovered(() => chat(() => undefined));
  });

  test('a connection dropped mid-stream is a broken generation, not "could not reach"', async () => {
    h.fake.fault('/chat/completions', { kind: 'reset-midstream' });
    const before = sent('/chat/completions');
    const progress: string[] = [];
    expectClearError(await chat((p) => progress.push(p.message ?? '')), /failed part-way through the stream/);
    expect(progress.join('')).toContain('Partial');
    expect(sent('/chat/completions')).toBe(before + 1);
    await expectRecovered(() => chat(() => undefined));
  });

  test('a stream of garbage is an unreadable response', async () => {
    const before = sent('/chat/completions');
    expectClearError(await call('send_chat_completion_request', { model: 'fake/garbage', messages: hello }, () => undefined), /could not read/);
    expect(sent('/chat/completions')).toBe(before + 1);
    await expectRecovered(() => chat(() => undefined));
  });
});

describe('idempotent reads retry with backoff, bounded in attempts and time', () => {
  const models = () => call('retrieve_available_models', { limit: 3 });
  const keyUsage = () => call('get_key_usage', {});

  test('transient 5xx: the catalog is fetched on the third attempt', async () => {
    h.fake.fault('/models', { kind: 'status', status: 502 }, 2);
    const before = sent('/models');
    const result = await models();
    expect(result.isError).toBeFalsy();
    expect((result.structuredContent!.models as unknown[]).length).toBe(3);
    expect(sent('/models')).toBe(before + 3);
  });

  test.each<[string, FaultMode, RegExp]>([
    ['persistent 503', { kind: 'status', status: 503 }, /No provider is currently available|HTTP 503/],
    ['connection reset', { kind: 'reset' }, /Could not reach OpenRouter/],
    ['malformed JSON', { kind: 'malformed-json' }, /could not read/],
  ])('%s: gives up after the bounded number of attempts', async (_name, mode, expected) => {
    h.fake.fault('/key', mode);
    const before = sent('/key');
    expectClearError(await keyUsage(), expected);
    expect(sent('/key')).toBe(before + READ_MAX_ATTEMPTS);
    await expectRecovered(keyUsage);
  });

  test('402 is final: not retried', async () => {
    h.fake.fault('/key', { kind: 'status', status: 402 });
    const before = sent('/key');
    expectClearError(await keyUsage(), /out of credits or has reached its spending limit/);
    expect(sent('/key')).toBe(before + 1);
    await expectRecovered(keyUsage);
  });

  test('429 with a Retry-After inside the budget is waited out', async () => {
    const gen = await chat();
    const id = gen.structuredContent!.id as string;
    h.fake.fault('/generation', { kind: 'status', status: 429, retryAfter: '1' }, 1);
    const result = await call('get_generation', { id });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ id });
    // 429 (waited 1 s), then the fake's brief 404 of a fresh generation, then the stats.
    expect(h.fake.calls('/generation').filter((r) => r.query.get('id') === id)).toHaveLength(3);
  });

  test('429 with a Retry-After beyond the budget fails at once, naming the wait', async () => {
    h.fake.fault('/key', { kind: 'status', status: 429, retryAfter: '60' });
    const before = sent('/key');
    expectClearError(await keyUsage(), /Retry after 60 seconds/);
    expect(sent('/key')).toBe(before + 1);
    await expectRecovered(keyUsage);
  });

  test('an upstream that never answers: each read ends within its budget, after a retry', async () => {
    const endpoints = '/models/openai/gpt-4o/endpoints';
    const details = () => call('get_model_details', { model: 'openai/gpt-4o' });
    for (const path of ['/models', '/key', endpoints]) h.fake.fault(path, { kind: 'hang' });
    const before = { '/models': sent('/models'), '/key': sent('/key'), [endpoints]: sent(endpoints) };
    // All at once: the read budget (8 s) bounds each, and the file stays short.
    const [m, k, d] = await Promise.all([models(), keyUsage(), details()]);
    expectClearError(k, /did not answer in time/);
    expectClearError(d, /did not answer in time/);
    // The catalog is the same for everyone and was fetched before: past its TTL, a stale copy beats an error.
    expect(m.isError).toBeFalsy();
    expect((m.structuredContent!.models as unknown[]).length).toBe(3);
    for (const [path, n] of Object.entries(before)) {
      expect(sent(path) - n).toBeGreaterThanOrEqual(2);
      expect(sent(path) - n).toBeLessThanOrEqual(READ_MAX_ATTEMPTS);
    }
    await expectRecovered(keyUsage);
    await expectRecovered(details);
  });
});

describe('afterwards (runs last)', () => {
  test('no unhandled rejection, nothing stored changed, and the server still serves', async () => {
    expect((await chat()).isError).toBeFalsy();
    await h.store.settle();
    expect(await dumpTable(h.dynamo.endpoint, h.dynamo.tableName, { skip: isCallAccounting })).toBe(storedBefore);
    expect(rejections.seen).toEqual([]);
  });
});
