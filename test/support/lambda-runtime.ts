/**
 * Test doubles that behave like the Lambda Node.js runtime (aws-lambda-nodejs-runtime-interface-client), shared by
 * the stream adapter's unit tests and the integration tests that run the real app behind it.
 *
 * HttpResponseStream.from sets the integration content type and installs a hook that writes the JSON prelude
 * and 8 NUL bytes right before the first write; end() without a write never emits the prelude.
 * The response stream records every chunk with the time it was written, so tests can check what left when.
 */
import { Writable } from 'node:stream';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { HttpResponseStreamLike, ResponsePrelude } from '../../lambda/aws/stream-adapter.js';
import { sseMessages } from './runtime-api.js';

export const PRELUDE_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';

/** A Lambda response stream: a Writable that records each chunk with the time it was written. */
export class RecordingStream extends Writable {
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

  /** What API Gateway would see: the prelude up to the 8-NUL delimiter, then the payload. */
  parse(): { prelude: ResponsePrelude | undefined; body: string } {
    const all = Buffer.concat(this.chunks.map((c) => c.data));
    const at = all.indexOf(Buffer.alloc(8));
    if (at < 0) return { prelude: undefined, body: all.toString('utf8') };
    return { prelude: JSON.parse(all.subarray(0, at).toString('utf8')) as ResponsePrelude, body: all.subarray(at + 8).toString('utf8') };
  }

  /** Payload chunks as written (after the prelude and delimiter). */
  bodyChunks(): string[] {
    return this.chunks.slice(2).map((c) => c.data.toString('utf8'));
  }

  /** Server-sent events of the payload, each stamped with the time of the chunk that completed it. */
  sseEvents(): ReturnType<typeof sseMessages> {
    return sseMessages(this.chunks.slice(2).map((c) => ({ at: c.at, text: c.data.toString('utf8') })));
  }
}

/**
 * The runtime's HttpResponseStream, for RecordingStreams. Like the real one, from() writes nothing itself: the
 * prelude and its delimiter go out right before the first write, and end() alone never emits them (which is why the
 * adapter makes an empty write). Every prelude handed to from() is also pushed onto `preludes` when given.
 */
export function fakeHttpResponseStream(preludes?: ResponsePrelude[]): HttpResponseStreamLike {
  return {
    from(stream, prelude) {
      preludes?.push(prelude);
      const s = stream as RecordingStream;
      s.setContentType(PRELUDE_CONTENT_TYPE);
      s.onBeforeFirstWrite = (write) => {
        write(JSON.stringify(prelude));
        write(new Uint8Array(8));
      };
      return stream;
    },
  };
}

/** An API Gateway REST proxy event (payload format 1.0) for the `prod` stage, shaped like the real ones. */
export function restEvent(options: {
  method?: string;
  path?: string;
  headers?: [string, string][];
  query?: [string, string][];
  body?: string | null;
  isBase64Encoded?: boolean;
  stage?: string;
  domainName?: string;
  sourceIp?: string;
}): APIGatewayProxyEvent {
  const method = options.method ?? 'GET';
  const path = options.path ?? '/mcp';
  const stage = options.stage ?? 'prod';
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [k, v] of options.headers ?? []) {
    headers[k] = v; // like API Gateway: the single-value map keeps the last value
    (multiValueHeaders[k] ??= []).push(v);
  }
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [k, v] of options.query ?? []) {
    query[k] = v;
    (multiQuery[k] ??= []).push(v);
  }
  const hasQuery = (options.query ?? []).length > 0;
  // like API Gateway: identity.userAgent is the request's User-Agent header
  const userAgent = Object.entries(headers).find(([k]) => k.toLowerCase() === 'user-agent')?.[1] ?? 'test';
  return {
    resource: path,
    path,
    httpMethod: method,
    headers,
    multiValueHeaders,
    queryStringParameters: hasQuery ? query : null,
    multiValueQueryStringParameters: hasQuery ? multiQuery : null,
    pathParameters: null,
    stageVariables: null,
    body: options.body ?? null,
    isBase64Encoded: options.isBase64Encoded ?? false,
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      authorizer: undefined,
      domainName: options.domainName ?? 'abc123.execute-api.eu-west-1.amazonaws.com',
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
        sourceIp: options.sourceIp ?? '203.0.113.7',
        user: null,
        userAgent,
        userArn: null,
      },
      path: `/${stage}${path}`,
      stage,
      requestId: 'req-1',
      requestTimeEpoch: Date.now(),
      resourceId: 'res1',
      resourcePath: path,
    },
  };
}
