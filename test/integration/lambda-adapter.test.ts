/**
 * The real app behind the Lambda streaming adapter: API Gateway REST proxy events in, a simulated Lambda
 * response stream out (the doubles in ../support/lambda-runtime.ts record every chunk with the time it was written,
 * and the prelude the way the runtime's HttpResponseStream emits it: JSON, 8 NUL bytes, then the payload).
 */
import { createStreamingHandler, type ResponsePrelude, type StreamingHandler } from '../../lambda/aws/stream-adapter.js';
import { startHarness, type Harness } from '../support/harness.js';
import { fakeHttpResponseStream, RecordingStream, restEvent } from '../support/lambda-runtime.js';

const preludes: ResponsePrelude[] = [];

/** What API Gateway adds to every request it proxies. */
const GATEWAY_HEADERS: [string, string][] = [
  ['Host', 'abc123.execute-api.eu-west-1.amazonaws.com'],
  ['User-Agent', 'integration-test'],
  ['X-Forwarded-For', '203.0.113.7'],
  ['X-Forwarded-Proto', 'https'],
];

const MCP_HEADERS: [string, string][] = [
  ['Content-Type', 'application/json'],
  ['Accept', 'application/json, text/event-stream'],
  ['MCP-Protocol-Version', '2025-11-25'],
];

let h: Harness;
let handler: StreamingHandler;

beforeAll(async () => {
  h = await startHarness();
  handler = createStreamingHandler(h.app.fetch, { HttpResponseStream: fakeHttpResponseStream(preludes) });
});

afterAll(async () => {
  await h?.close();
});

beforeEach(() => {
  preludes.length = 0;
});

test('progress notifications leave the Lambda while the upstream is still generating', async () => {
  const delay = h.fake.slowChunkDelayMs;
  const stream = new RecordingStream();
  const started = performance.now();
  await handler(
    restEvent({
      method: 'POST',
      headers: [...GATEWAY_HEADERS, ...MCP_HEADERS, ['Authorization', `Bearer ${h.alice.token}`]],
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 7,
        method: 'tools/call',
        params: {
          name: 'send_chat_completion_request',
          arguments: { model: 'fake/slow', messages: [{ role: 'user', content: 'hi' }] },
          _meta: { progressToken: 'p1' },
        },
      }),
    }),
    stream,
  );

  expect(stream.contentType).toBe('application/vnd.awslambda.http-integration-response');
  const { prelude } = stream.parse();
  expect(prelude?.statusCode).toBe(200);
  expect(prelude?.headers['content-type']).toMatch(/^text\/event-stream/);
  expect(preludes).toHaveLength(1);

  const events = stream.sseEvents();
  const progress = events.filter((e) => e.data.method === 'notifications/progress');
  const resultIndex = events.findIndex((e) => e.data.id === 7 && e.data.result);
  expect(resultIndex).toBeGreaterThan(0);
  const result = events[resultIndex]!;

  // the final result follows the progress events, and carries the whole answer
  expect(events.slice(resultIndex + 1)).toEqual([]);
  const structured = result.data.result!.structuredContent as { content: string; model: string };
  expect(structured.model).toBe('fake/slow');
  expect(progress.map((p) => (p.data.params as { message?: string }).message ?? '').join('')).toBe(structured.content);
  for (const p of progress) expect((p.data.params as { progressToken?: unknown }).progressToken).toBe('p1');

  // at least 3 progress events were written before the upstream finished, the first one well before
  const early = progress.filter((p) => p.at < result.at);
  expect(early.length).toBeGreaterThanOrEqual(3);
  expect(result.at - progress[0]!.at).toBeGreaterThanOrEqual(2 * delay);
  // and each went out as its own write, not held back and flushed together
  expect(new Set(early.map((p) => p.at)).size).toBe(early.length);
  // the prelude itself left before the first progress event
  expect(stream.chunks[0]!.at).toBeLessThanOrEqual(progress[0]!.at);
  expect(progress[0]!.at - started).toBeLessThan(result.at - started);

  expect(stream.writableFinished).toBe(true);
  expect(h.fake.calls('/chat/completions').at(-1)!.body!.stream).toBe(true);
  expect(h.fake.violations).toEqual([]);
});

test('401 without a token comes back through the adapter with its WWW-Authenticate challenge', async () => {
  const stream = new RecordingStream();
  await handler(
    restEvent({
      method: 'POST',
      headers: [...GATEWAY_HEADERS, ...MCP_HEADERS],
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
    }),
    stream,
  );
  const { prelude, body } = stream.parse();
  expect(prelude?.statusCode).toBe(401);
  expect(prelude?.headers['www-authenticate']).toMatch(/^Bearer /);
  expect(JSON.parse(body)).toMatchObject({ error: 'invalid_token' });
  expect(stream.writableFinished).toBe(true);
});

test('GET /mcp is 405 with Allow: POST', async () => {
  const stream = new RecordingStream();
  await handler(
    restEvent({ method: 'GET', headers: [...GATEWAY_HEADERS, ['Accept', 'text/event-stream'], ['Authorization', `Bearer ${h.alice.token}`]] }),
    stream,
  );
  const { prelude, body } = stream.parse();
  expect(prelude?.statusCode).toBe(405);
  expect(prelude?.headers.allow).toBe('POST');
  expect(JSON.parse(body)).toMatchObject({ jsonrpc: '2.0', error: { code: -32000 } });
});

test('a plain JSON answer (no progress token) arrives whole with its prelude', async () => {
  const stream = new RecordingStream();
  await handler(
    restEvent({
      method: 'POST',
      headers: [...GATEWAY_HEADERS, ...MCP_HEADERS, ['Authorization', `Bearer ${h.alice.token}`]],
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} }),
    }),
    stream,
  );
  const { prelude, body } = stream.parse();
  expect(prelude?.statusCode).toBe(200);
  const payload = prelude?.headers['content-type']?.startsWith('text/event-stream')
    ? stream.sseEvents().find((e) => e.data.id === 2)?.data
    : (JSON.parse(body) as { result?: Record<string, unknown> });
  const tools = (payload?.result?.tools ?? []) as { name: string }[];
  expect(tools.map((t) => t.name)).toContain('send_chat_completion_request');
});
