import {
  createStreamingHandler,
  eventToRequest,
  writeResponse,
  type HttpResponseStreamLike,
} from '../../lambda/aws/stream-adapter.js';
import { createLogger } from '../../lambda/observability/logger.js';
import { fakeHttpResponseStream, PRELUDE_CONTENT_TYPE, RecordingStream, restEvent } from '../support/lambda-runtime.js';

// The Lambda runtime's response stream and HttpResponseStream are simulated by the doubles in ../support/lambda-runtime.ts.
const httpResponseStream = fakeHttpResponseStream();

function streamOf(parts: (string | Error)[], delayMs = 0): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let i = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      const part = parts[i++];
      if (part === undefined) controller.close();
      else if (part instanceof Error) controller.error(part);
      else controller.enqueue(encoder.encode(part));
    },
  });
}

describe('eventToRequest', () => {
  test('GET with repeated query parameters keeps every value, in order, properly encoded', () => {
    const request = eventToRequest(
      restEvent({ query: [['tag', 'a'], ['tag', 'b'], ['q', 'x y&z=1'], ['tag', 'c/d']], headers: [['Host', 'mcp.example.com']] }),
    );
    const url = new URL(request.url);
    expect(request.method).toBe('GET');
    expect(url.origin).toBe('https://mcp.example.com');
    expect(url.pathname).toBe('/mcp');
    expect(url.searchParams.getAll('tag')).toEqual(['a', 'b', 'c/d']);
    expect(url.searchParams.get('q')).toBe('x y&z=1');
    expect(request.body).toBeNull();
  });

  test('falls back to queryStringParameters when there are no multi-value ones', () => {
    const event = restEvent({});
    event.queryStringParameters = { page: '2', filter: 'a b' };
    const url = new URL(eventToRequest(event).url);
    expect(url.searchParams.get('page')).toBe('2');
    expect(url.searchParams.get('filter')).toBe('a b');
  });

  test('POST with a JSON body', async () => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { note: 'héllo ✓' } });
    const request = eventToRequest(
      restEvent({ method: 'POST', body, headers: [['Content-Type', 'application/json'], ['Content-Length', '999']] }),
    );
    expect(request.method).toBe('POST');
    expect(request.headers.get('content-type')).toBe('application/json');
    // content-length describes the body actually handed over
    expect(request.headers.get('content-length')).toBe(String(Buffer.byteLength(body)));
    expect(await request.json()).toEqual(JSON.parse(body));
  });

  test('a body without a Content-Type does not get one invented', () => {
    const request = eventToRequest(restEvent({ method: 'POST', body: '{}' }));
    expect(request.headers.get('content-type')).toBeNull();
  });

  test('base64 bodies are decoded to the original bytes', async () => {
    const bytes = Buffer.from([0, 1, 2, 0xfe, 0xff, 0x7b]);
    const request = eventToRequest(
      restEvent({ method: 'PUT', body: bytes.toString('base64'), isBase64Encoded: true, headers: [['Content-Type', 'application/octet-stream']] }),
    );
    expect(Buffer.from(await request.arrayBuffer())).toEqual(bytes);
  });

  test('GET and HEAD never carry a body', () => {
    expect(eventToRequest(restEvent({ method: 'GET', body: 'ignored' })).body).toBeNull();
    expect(eventToRequest(restEvent({ method: 'HEAD', body: 'ignored' })).body).toBeNull();
  });

  test('multiValueHeaders win over headers and keep repeats; hop-by-hop and unusable headers are dropped', () => {
    const event = restEvent({
      headers: [
        ['Accept', 'application/json'],
        ['Accept', 'text/event-stream'],
        ['X-Custom', 'one'],
        ['Connection', 'keep-alive'],
        ['Transfer-Encoding', 'chunked'],
        ['X-Broken', 'a\nb'],
      ],
    });
    const request = eventToRequest(event);
    expect(request.headers.get('accept')).toBe('application/json, text/event-stream');
    expect(request.headers.get('x-custom')).toBe('one');
    expect(request.headers.has('connection')).toBe(false);
    expect(request.headers.has('transfer-encoding')).toBe(false);
    expect(request.headers.has('x-broken')).toBe(false);
  });

  test('single-value headers are used when there are no multi-value ones', () => {
    const event = restEvent({});
    event.headers = { Authorization: 'Bearer abc', 'MCP-Protocol-Version': '2025-11-25' };
    event.multiValueHeaders = {};
    const request = eventToRequest(event);
    expect(request.headers.get('authorization')).toBe('Bearer abc');
    expect(request.headers.get('mcp-protocol-version')).toBe('2025-11-25');
  });

  test('without a Host header the host is requestContext.domainName; a Host that is not a bare host falls back too', () => {
    expect(new URL(eventToRequest(restEvent({ domainName: 'api.example.org' })).url).host).toBe('api.example.org');
    expect(new URL(eventToRequest(restEvent({ headers: [['Host', 'evil.example/x?y']], domainName: 'api.example.org' })).url).host).toBe(
      'api.example.org',
    );
    expect(new URL(eventToRequest(restEvent({ headers: [['host', 'mcp.example.com:8443']] })).url).host).toBe('mcp.example.com:8443');
  });

  test('the stage is not part of the path the app routes on', () => {
    const event = restEvent({ path: '/mcp', stage: 'prod' });
    expect(event.requestContext.path).toBe('/prod/mcp');
    expect(new URL(eventToRequest(event).url).pathname).toBe('/mcp');
  });

  test('characters that would end a path stay in the path', () => {
    const url = new URL(eventToRequest(restEvent({ path: '/app/a?b#c d' })).url);
    expect(url.pathname).toBe('/app/a%3Fb%23c%20d');
    expect(url.search).toBe('');
  });

  test('X-Forwarded-For is forwarded as sent; without one, the source IP is', () => {
    const withHeader = eventToRequest(restEvent({ headers: [['X-Forwarded-For', '198.51.100.1, 203.0.113.7']] }));
    expect(withHeader.headers.get('x-forwarded-for')).toBe('198.51.100.1, 203.0.113.7');
    const without = eventToRequest(restEvent({ sourceIp: '192.0.2.44' }));
    expect(without.headers.get('x-forwarded-for')).toBe('192.0.2.44');
  });

  test('the abort signal reaches the request', () => {
    const controller = new AbortController();
    const request = eventToRequest(restEvent({}), { signal: controller.signal });
    expect(request.signal.aborted).toBe(false);
    controller.abort();
    expect(request.signal.aborted).toBe(true);
  });
});

describe('writeResponse', () => {
  test('writes the prelude (status, headers, cookies) and then the body chunks in order', async () => {
    const headers = new Headers({ 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', 'X-Multi': 'a' });
    headers.append('X-Multi', 'b');
    headers.append('Set-Cookie', 'a=1; Path=/; HttpOnly');
    headers.append('Set-Cookie', 'b=2; Path=/; Secure');
    headers.set('Transfer-Encoding', 'chunked');
    const stream = new RecordingStream();
    await writeResponse(new Response(streamOf(['one ', 'two ', 'three']), { status: 201, headers }), stream, httpResponseStream);

    expect(stream.contentType).toBe(PRELUDE_CONTENT_TYPE);
    const { prelude, body } = stream.parse();
    expect(prelude).toEqual({
      statusCode: 201,
      headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-multi': 'a, b' },
      multiValueHeaders: { 'set-cookie': ['a=1; Path=/; HttpOnly', 'b=2; Path=/; Secure'] },
    });
    expect(body).toBe('one two three');
    expect(stream.bodyChunks()).toEqual(['one ', 'two ', 'three']);
    expect(stream.writableFinished).toBe(true);
  });

  test('no cookies, no multiValueHeaders', async () => {
    const stream = new RecordingStream();
    await writeResponse(new Response('{}', { headers: { 'Content-Type': 'application/json' } }), stream, httpResponseStream);
    expect(stream.parse().prelude).toEqual({ statusCode: 200, headers: { 'content-type': 'application/json' } });
  });

  test('each chunk is written as soon as it is read, before the next one exists', async () => {
    const encoder = new TextEncoder();
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
    const stream = new RecordingStream();
    const done = writeResponse(new Response(body, { headers: { 'Content-Type': 'text/event-stream' } }), stream, httpResponseStream);

    // the prelude leaves before any body exists (SSE: headers first, events as they come)
    await waitFor(() => stream.parse().prelude !== undefined);
    expect(stream.parse().prelude?.statusCode).toBe(200);

    controller.enqueue(encoder.encode('event: first\n\n'));
    await waitFor(() => stream.parse().body === 'event: first\n\n');
    controller.enqueue(encoder.encode('event: second\n\n'));
    await waitFor(() => stream.parse().body.endsWith('event: second\n\n'));
    expect(stream.writableEnded).toBe(false);
    controller.close();
    await done;
    expect(stream.bodyChunks()).toEqual(['event: first\n\n', 'event: second\n\n']);
    expect(stream.writableFinished).toBe(true);
  });

  test.each([
    ['204 with a null body', () => new Response(null, { status: 204, headers: { 'X-Why': 'empty' } })],
    ['405 with an empty body', () => new Response('', { status: 405, headers: { Allow: 'POST' } })],
  ])('a response without body bytes still sends its prelude and ends (%s)', async (_name, make) => {
    const stream = new RecordingStream();
    const response = make();
    await writeResponse(response, stream, httpResponseStream);
    const { prelude, body } = stream.parse();
    expect(prelude?.statusCode).toBe(response.status);
    expect(body).toBe('');
    expect(stream.writableFinished).toBe(true);
  });

  test('a body that fails mid-stream ends the stream cleanly after what was already sent', async () => {
    const stream = new RecordingStream();
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', write: (l) => lines.push(l) });
    await expect(
      writeResponse(new Response(streamOf(['partial ', new Error('upstream exploded: sk-or-v1-secret')])), stream, httpResponseStream, { logger }),
    ).resolves.toBeUndefined();
    expect(stream.parse().body).toBe('partial ');
    expect(stream.writableFinished).toBe(true);
    expect(stream.errored).toBeNull();
    expect(lines.join('\n')).toMatch(/failed mid-stream/);
    expect(lines.join('\n')).not.toMatch(/exploded|sk-or/);
  });

  test('a response stream that goes away cancels the body', async () => {
    let cancelled = false;
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        pulls++;
        await new Promise((r) => setTimeout(r, 10));
        controller.enqueue(new TextEncoder().encode(`chunk ${pulls}\n`));
      },
      cancel() {
        cancelled = true;
      },
    });
    const stream = new RecordingStream();
    const done = writeResponse(new Response(body), stream, httpResponseStream);
    await waitFor(() => stream.bodyChunks().length >= 2);
    stream.destroy();
    await done;
    expect(cancelled).toBe(true);
  });
});

describe('createStreamingHandler', () => {
  test('turns the event into a Request, calls the handler, streams its Response', async () => {
    const seen: Request[] = [];
    const handler = createStreamingHandler(
      async (request) => {
        seen.push(request);
        return new Response(`you asked for ${new URL(request.url).pathname}`, { headers: { 'Content-Type': 'text/plain' } });
      },
      { HttpResponseStream: httpResponseStream },
    );
    const stream = new RecordingStream();
    await handler(restEvent({ method: 'POST', body: 'x', headers: [['Content-Type', 'text/plain']] }), stream);
    expect(seen[0]!.method).toBe('POST');
    expect(await seen[0]!.text()).toBe('x');
    expect(stream.parse()).toEqual({ prelude: { statusCode: 200, headers: { 'content-type': 'text/plain' } }, body: 'you asked for /mcp' });
    await handler(restEvent({ path: '/again' }), new RecordingStream());
    expect(seen.map((r) => new URL(r.url).pathname)).toEqual(['/mcp', '/again']);
  });

  test.each([
    ['the handler rejects', async (): Promise<Response> => Promise.reject(new Error('db password is hunter2'))],
    [
      'the handler throws before returning a promise',
      (): Promise<Response> => {
        throw new TypeError('secret sk-or-v1-abc unavailable');
      },
    ],
  ])('%s → 500 internal_error without details', async (_name, fetchHandler) => {
    const lines: string[] = [];
    const handler = createStreamingHandler(fetchHandler, {
      HttpResponseStream: httpResponseStream,
      logger: createLogger({ level: 'debug', write: (l) => lines.push(l) }),
    });
    const stream = new RecordingStream();
    await handler(restEvent({}), stream, { awsRequestId: 'aws-req-9' } as Parameters<typeof handler>[2]);
    const { prelude, body } = stream.parse();
    expect(prelude).toEqual({ statusCode: 500, headers: { 'content-type': 'application/json' } });
    expect(JSON.parse(body)).toEqual({ error: 'internal_error' });
    expect(stream.writableFinished).toBe(true);
    const everything = body + JSON.stringify(prelude) + lines.join('\n');
    expect(everything).not.toMatch(/hunter2|sk-or-v1|password|unavailable/);
    expect(lines.join('\n')).toMatch(/aws-req-9/);
  });

  test('a response stream that closes before the response is written aborts the request', async () => {
    let signal: AbortSignal | undefined;
    const stream = new RecordingStream();
    const handler = createStreamingHandler(
      async (request) => {
        signal = request.signal;
        stream.destroy(); // the client went away while the app was working
        await new Promise((r) => setTimeout(r, 5));
        return new Response('too late');
      },
      { HttpResponseStream: httpResponseStream },
    );
    await handler(restEvent({}), stream);
    expect(signal?.aborted).toBe(true);
  });

  test('a completed response does not abort anything', async () => {
    let signal: AbortSignal | undefined;
    const stream = new RecordingStream();
    const handler = createStreamingHandler(
      async (request) => {
        signal = request.signal;
        return new Response('ok');
      },
      { HttpResponseStream: httpResponseStream },
    );
    await handler(restEvent({}), stream);
    await new Promise((r) => setImmediate(r));
    expect(stream.writableFinished).toBe(true);
    expect(signal?.aborted).toBe(false);
  });

  test.each([
    ['a response', async (): Promise<Response> => new Response('ok')],
    ['a failed app (500)', async (): Promise<Response> => Promise.reject(new Error('boom'))],
  ])('after %s the work left running is awaited once the stream has ended, before the handler returns', async (_name, fetchHandler) => {
    const stream = new RecordingStream();
    const order: string[] = [];
    let finish!: () => void;
    const handler = createStreamingHandler(fetchHandler, {
      HttpResponseStream: httpResponseStream,
      afterResponse: () => {
        order.push(stream.writableFinished ? 'after the stream ended' : 'too early');
        return new Promise<void>((resolve) => (finish = resolve));
      },
    });
    const invocation = handler(restEvent({}), stream).then(() => order.push('returned'));
    while (!finish) await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['after the stream ended']);
    finish();
    await invocation;
    expect(order).toEqual(['after the stream ended', 'returned']);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 2));
  }
}
