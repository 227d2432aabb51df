/**
 * API Gateway (REST, response streaming) ⇄ web Request/Response, so the Lambda runs the exact handler the
 * local server and the tests run.
 *
 * - In: the REST proxy event (payload format 1.0; streaming integrations get the same event as buffered ones).
 *   `event.path` is the resource path without the stage (`/mcp`, not `/prod/mcp`); a custom domain with a
 *   non-empty base-path mapping would prefix that mapping, so map the domain at the root.
 * - Out: `awslambda.HttpResponseStream.from(stream, { statusCode, headers, multiValueHeaders })` writes the JSON
 *   prelude and the 8-NUL delimiter API Gateway waits for, then the body is written chunk by chunk as the app
 *   produces it (SSE progress leaves the function at once), then the stream is ended.
 *
 * Pure: no AWS SDK, no module state and no globals; the entry point (index.ts) hands in the runtime's
 * `HttpResponseStream` (the tests hand in a fake one).
 */
import type { Writable } from 'node:stream';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { json } from '../http/json.js';
import { errorName } from '../observability/error-name.js';
import type { Logger } from '../observability/logger.js';

export type FetchHandler = (request: Request) => Promise<Response>;

/** The metadata API Gateway reads before the delimiter (REST streaming format: status + single- and multi-value headers). */
export type ResponsePrelude = {
  statusCode: number;
  headers: Record<string, string>;
  multiValueHeaders?: Record<string, string[]>;
};

/** The part of `awslambda.HttpResponseStream` the adapter uses. */
export interface HttpResponseStreamLike {
  from(stream: Writable, prelude: ResponsePrelude): Writable;
}

/** The handler `awslambda.streamifyResponse` wraps. */
export type StreamingHandler = (event: APIGatewayProxyEvent, responseStream: Writable, context?: Context) => Promise<void>;

export interface StreamingHandlerDeps {
  /** The runtime's `awslambda.HttpResponseStream`. */
  HttpResponseStream: HttpResponseStreamLike;
  logger?: Logger;
  /**
   * Work the app leaves running past its response (a generation's concurrency release): awaited after the
   * response stream has ended, before the handler returns.
   */
  afterResponse?: () => Promise<void>;
}

/**
 * Connection-level headers: they describe the client's hop to API Gateway, not this request, and some fetch
 * implementations reject them. content-length is recomputed from the body actually handed over.
 */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'http2-settings', 'content-length']);
/** Framing is API Gateway's job on the way out. */
const RESPONSE_HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'trailer', 'upgrade']);

export function eventToRequest(event: APIGatewayProxyEvent, options: { signal?: AbortSignal } = {}): Request {
  const method = (event.httpMethod || 'GET').toUpperCase();
  const headers = requestHeaders(event);

  const url = new URL(`https://${requestHost(headers, event)}`);
  const path = event.path || '/';
  // API Gateway hands over the path decoded; only the two characters that would end a URL path need escaping.
  url.pathname = (path.startsWith('/') ? path : `/${path}`).replace(/\?/g, '%3F').replace(/#/g, '%23');
  url.search = queryString(event);

  let body: Uint8Array<ArrayBuffer> | undefined;
  if (method !== 'GET' && method !== 'HEAD' && event.body != null) {
    // Bytes, not a string: a string body would make Request invent "Content-Type: text/plain".
    body = Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
    headers.set('content-length', String(body.byteLength));
  }

  return new Request(url, {
    method,
    headers,
    ...(body ? { body } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

function requestHeaders(event: APIGatewayProxyEvent): Headers {
  const headers = new Headers();
  const append = (name: string, value: string | undefined) => {
    if (value === undefined || value === null || HOP_BY_HOP.has(name.toLowerCase())) return;
    try {
      headers.append(name, value);
    } catch {
      // a header name or value fetch cannot carry (control characters): drop that header, keep the request
    }
  };
  const multi = event.multiValueHeaders;
  if (multi && Object.keys(multi).length > 0) {
    for (const [name, values] of Object.entries(multi)) for (const value of values ?? []) append(name, value);
  } else {
    for (const [name, value] of Object.entries(event.headers ?? {})) append(name, value);
  }
  // Forwarded as given; whether to trust it is the app's decision. API Gateway normally sends the header itself.
  const sourceIp = event.requestContext?.identity?.sourceIp;
  if (!headers.has('x-forwarded-for') && sourceIp) append('X-Forwarded-For', sourceIp);
  return headers;
}

function requestHost(headers: Headers, event: APIGatewayProxyEvent): string {
  const fallback = event.requestContext?.domainName || 'localhost';
  const host = headers.get('host')?.trim();
  if (!host) return fallback;
  try {
    // a bare host[:port] only: anything that would smuggle a path, credentials or query falls back
    const url = new URL(`https://${host}`);
    return url.username || url.password || url.pathname !== '/' || url.search || url.hash || host.includes('/') ? fallback : url.host;
  } catch {
    return fallback;
  }
}

function queryString(event: APIGatewayProxyEvent): string {
  const params = new URLSearchParams();
  const multi = event.multiValueQueryStringParameters;
  if (multi && Object.keys(multi).length > 0) {
    for (const [name, values] of Object.entries(multi)) for (const value of values ?? []) params.append(name, value);
  } else {
    for (const [name, value] of Object.entries(event.queryStringParameters ?? {})) if (value != null) params.append(name, value);
  }
  const query = params.toString();
  return query ? `?${query}` : '';
}

export function responsePrelude(response: Response): ResponsePrelude {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie' && !RESPONSE_HOP_BY_HOP.has(name)) headers[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  // REST streaming takes repeated headers (Set-Cookie above all) in multiValueHeaders, as in the buffered format.
  return { statusCode: response.status, headers, ...(cookies.length ? { multiValueHeaders: { 'set-cookie': cookies } } : {}) };
}

/**
 * Writes the prelude, then each body chunk the moment it is read, then ends the stream. Never throws: a body
 * that fails mid-way (or a client that went away) ends the stream where it is.
 */
export async function writeResponse(
  response: Response,
  responseStream: Writable,
  HttpResponseStream: HttpResponseStreamLike,
  options: { logger?: Logger } = {},
): Promise<void> {
  let stream = responseStream;
  try {
    stream = HttpResponseStream.from(responseStream, responsePrelude(response));
    // The runtime emits the prelude on the first write() only, and end() alone does not count
    // (aws-lambda-nodejs-runtime-interface-client#97): an empty write sends status and headers now, even for a
    // body-less response or an SSE stream whose first event is still a while away.
    stream.write(new Uint8Array(0));
  } catch (err) {
    options.logger?.error('could not start the response stream', { error: errorName(err) });
    await endStream(stream);
    await response.body?.cancel().catch(() => undefined);
    return;
  }

  if (response.body) {
    const reader = response.body.getReader();
    const gone = () => void reader.cancel().catch(() => undefined);
    stream.once('close', gone);
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (!value?.byteLength) continue;
        if (isClosed(stream)) break;
        if (!stream.write(value)) await drained(stream);
      }
    } catch (err) {
      options.logger?.warn('response body failed mid-stream', { error: errorName(err) });
      await reader.cancel().catch(() => undefined);
    } finally {
      stream.off('close', gone);
    }
  }
  await endStream(stream);
}

export function createStreamingHandler(handler: FetchHandler, deps: StreamingHandlerDeps): StreamingHandler {
  const { logger, HttpResponseStream } = deps;
  return async (event, responseStream, context) => {
    // The runtime gives no documented "client went away" signal (API Gateway says the function may keep
    // running after a timeout closes the connection); the nearest one is the response stream closing or failing
    // before we ended it, which aborts the request so upstream work can stop.
    const controller = new AbortController();
    let ended = false;
    const onGone = () => {
      // a stream that finished normally closes too; only a close before that means the client is gone
      if (!ended && !responseStream.writableFinished) controller.abort();
    };
    responseStream.on('close', onGone);
    responseStream.on('error', onGone);

    let response: Response;
    try {
      response = await handler(eventToRequest(event, { signal: controller.signal }));
    } catch (err) {
      logger?.error('lambda request failed', { error: errorName(err), ...(context?.awsRequestId ? { aws_request_id: context.awsRequestId } : {}) });
      response = internalError();
    }
    try {
      await writeResponse(response, responseStream, HttpResponseStream, logger ? { logger } : {});
    } finally {
      ended = true;
      responseStream.off('close', onGone);
      // stays attached to swallow a late socket error; it no longer aborts anything
    }
    // Only now, with the whole response handed to the runtime: the runtime may freeze the instance as soon as this
    // handler's promise settles, and a write frozen mid-flight (a release) would hold the user's slot until its
    // lease lapses, or land minutes later on a thaw. Awaited here it finishes inside this invocation, after the
    // client's response, at the price of a few ms of billed duration.
    await deps.afterResponse?.().catch((err: unknown) => logger?.error('work after the response failed', { error: errorName(err) }));
  };
}

function internalError(): Response {
  return json(500, { error: 'internal_error' });
}

function isClosed(stream: Writable): boolean {
  return stream.destroyed === true || stream.writableEnded === true;
}

function drained(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      stream.off('error', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
    stream.on('error', done);
  });
}

function endStream(stream: Writable): Promise<void> {
  if (isClosed(stream)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      stream.off('close', done);
      stream.off('error', done);
      resolve();
    };
    stream.on('close', done);
    stream.on('error', done);
    try {
      stream.end(done);
    } catch {
      done();
    }
  });
}
