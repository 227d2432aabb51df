/**
 * The real app behind the Lambda streaming adapter: API Gateway REST proxy events in, a simulated Lambda
 * response stream out (records every chunk with the time it was written, and the prelude the way the runtime's
 * HttpResponseStream emits it: JSON, 8 NUL bytes, then the payload).
 */
import { Writable } from 'node:stream';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { createStreamingHandler, type HttpResponseStreamLike, type ResponsePrelude, type StreamingHandler } from '../../lambda/aws/stream-adapter.js';
import { startHarness, type Harness } from '../support/harness.js';

class RecordingStream extends Writable {
  readonly chunks: { at: number; data: Buffer }[] = [];
  contentType: string | undefined;
  onBeforeFirstWrite: ((write: (chunk: string | Uint8Array) => void) => void) | undefined;
  private started = false;

  setContentType(type: string): void {
    if (this.started) throw new Error('Cannot set content-type, too late.');
    this.contentType = type;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (!this.started) {
      this.started = true;
      this.onBeforeFirstWrite?.((c) => this.record(Buffer.from(c)));
    }
    this.record(chunk);
    callback();
  }

  private record(data: Buffer): void {
    if (data.length) this.chunks.push({ at: performance.now(), data });
  }

  parse(): { prelude: ResponsePrelude | undefined; body: string } {
    const all = Buffer.concat(this.chunks.map((c) => c.data));
    const at = all.indexOf(Buffer.alloc(8));
    if (at < 0) return { prelude: undefined, body: all.toString('utf8') };
    return { prelude: JSON.parse(all.subarray(0, at).toString('utf8')) as ResponsePrelude, body: all.subarray(at + 8).toString('utf8') };
  }

  /** Server-sent events of the payload, each stamped with the time of the chunk that completed it. */
  sseEvents(): { at: number; data: { method?: string; id?: unknown; result?: Record<string, unknown>; params?: Record<string, unknown> } }[] {
    const events: ReturnType<RecordingStream['sseEvents']> = [];
    let buffer = '';
    for (const chunk of this.chunks.slice(2)) {
      buffer += chunk.data.toString('utf8');
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block
          .split('\n')
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trimStart())
          .join('\n');
        if (data) events.push({ at: chunk.at, data: JSON.parse(data) as ReturnType<RecordingStream['sseEvents']>[number]['data'] });
      }
    }
    return events;
  }
}

const preludes: ResponsePrelude[] = [];
const fakeHttpResponseStream: HttpResponseStreamLike = {
  from(stream, prelude) {
    preludes.push(prelude);
    const s = stream as RecordingStream;
    s.setContentType('application/vnd.awslambda.http-integration-response');
    s.onBeforeFirstWrite = (write) => {
      write(JSON.stringify(prelude));
      write(new Uint8Array(8));
    };
    return stream;
  },
};

function restEvent(method: string, headers: Record<string, string>, body?: unknown): APIGatewayProxyEvent {
  const allHeaders: Record<string, string> = {
    Host: 'abc123.execute-api.eu-west-1.amazonaws.com',
    'User-Agent': 'integration-test',
    'X-Forwarded-For': '203.0.113.7',
    'X-Forwarded-Proto': 'https',
    ...headers,
  };
  return {
    resource: '/mcp',
    path: '/mcp',
    httpMethod: method,
    headers: allHeaders,
    multiValueHeaders: Object.fromEntries(Object.entries(allHeaders).map(([k, v]) => [k, [v]])),
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    body: body === undefined ? null : JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      authorizer: undefined,
      domainName: 'abc123.execute-api.eu-west-1.amazonaws.com',
      domainPrefix: 'abc123',
      protocol: 'HTTP/1.1',
      httpMethod: method,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: '203.0.113.7',
        user: null,
        userAgent: 'integration-test',
        userArn: null,
      },
      path: '/prod/mcp',
      stage: 'prod',
      requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
      requestTimeEpoch: Date.now(),
      resourceId: 'res1',
      resourcePath: '/mcp',
    },
  };
}

const MCP_HEADERS = {
  'Content-Type': 'application/json',
  Accept: 'application/json, text/event-stream',
  'MCP-Protocol-Version': '2025-11-25',
};

let h: Harness;
let handler: StreamingHandler;

beforeAll(async () => {
  h = await startHarness();
  handler = createStreamingHandler(async () => h.app.fetch, { HttpResponseStream: fakeHttpResponseStream });
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
    restEvent('POST', { ...MCP_HEADERS, Authorization: `Bearer ${h.alice.token}` }, {
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: {
        name: 'send_chat_completion_request',
        arguments: { model: 'fake/slow', messages: [{ role: 'user', content: 'hi' }] },
        _meta: { progressToken: 'p1' },
      },
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
  await handler(restEvent('POST', MCP_HEADERS, { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }), stream);
  const { prelude, body } = stream.parse();
  expect(prelude?.statusCode).toBe(401);
  expect(prelude?.headers['www-authenticate']).toMatch(/^Bearer /);
  expect(JSON.parse(body)).toMatchObject({ error: 'invalid_token' });
  expect(stream.writableFinished).toBe(true);
});

test('GET /mcp is 405 with Allow: POST', async () => {
  const stream = new RecordingStream();
  await handler(restEvent('GET', { Accept: 'text/event-stream', Authorization: `Bearer ${h.alice.token}` }), stream);
  const { prelude, body } = stream.parse();
  expect(prelude?.statusCode).toBe(405);
  expect(prelude?.headers.allow).toBe('POST');
  expect(JSON.parse(body)).toMatchObject({ jsonrpc: '2.0', error: { code: -32000 } });
});

test('a plain JSON answer (no progress token) arrives whole with its prelude', async () => {
  const stream = new RecordingStream();
  await handler(
    restEvent('POST', { ...MCP_HEADERS, Authorization: `Bearer ${h.alice.token}` }, { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} }),
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
