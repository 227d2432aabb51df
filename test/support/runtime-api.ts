/**
 * The Lambda Runtime API on loopback, written from AWS's published contract ("Using the Lambda runtime API for
 * custom runtimes" and "Response streaming" in the Lambda developer guide), for a real runtime client to poll:
 *
 * - GET  /2018-06-01/runtime/invocation/next: held open until an invocation is queued, then 200 with the event as
 *   the body and Lambda-Runtime-Aws-Request-Id, -Deadline-Ms, -Invoked-Function-Arn and -Trace-Id headers.
 * - POST /2018-06-01/runtime/invocation/{id}/response: 202. Buffered, or with `Lambda-Runtime-Function-Response-Mode:
 *   streaming` a chunked body read as it arrives; for an HTTP integration (content type
 *   application/vnd.awslambda.http-integration-response) it opens with the JSON prelude and 8 NUL bytes, and a
 *   failure mid-stream is reported in the Lambda-Runtime-Function-Error-Type / -Error-Body (base64) trailers.
 * - POST /2018-06-01/runtime/invocation/{id}/error and POST /2018-06-01/runtime/init/error: 202, recorded, with the
 *   error type from the Lambda-Runtime-Function-Error-Type header.
 * An unknown request id, or a second answer to one invocation, is a 400; a body beyond the streaming limit a 413.
 *
 * `invoke` queues an event and resolves with everything the function sent back, each chunk stamped with its
 * arrival time. `disconnectAfter` closes the response connection from this side mid-stream, as the service does
 * when the caller goes away.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const HTTP_INTEGRATION_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';
const PREFIX = '/2018-06-01/runtime';
/** Lambda's documented maximum for a streamed response (a buffered one is far smaller: 6 MB). */
const MAX_STREAMED_BYTES = 20 * 1024 * 1024;
const MAX_ERROR_BYTES = 1024 * 1024;

export const FUNCTION_ARN = 'arn:aws:lambda:eu-west-1:123456789012:function:OpenRouterMcp-Function';

export interface RuntimeError {
  requestId?: string;
  /** From the Lambda-Runtime-Function-Error-Type header. */
  type: string | undefined;
  body: string;
}

export interface InvocationResult {
  requestId: string;
  /**
   * How it ended: the response was sent whole, an /error was posted, the connection closed before the end, or
   * nothing came back before the deadline (Lambda would stop the instance: "Task timed out").
   */
  outcome: 'response' | 'error' | 'disconnected' | 'timeout';
  /** Lambda-Runtime-Function-Response-Mode of the response POST (undefined when buffered). */
  responseMode: string | undefined;
  contentType: string | undefined;
  chunks: { at: number; data: Buffer }[];
  /** Trailers of a streamed response (lower-case names). */
  trailers: Record<string, string>;
  error?: RuntimeError;
}

interface Pending {
  requestId: string;
  event: unknown;
  deadlineMs: number;
  disconnectAfter: ((received: Buffer) => boolean) | undefined;
  answered: boolean;
  resolve: (result: InvocationResult) => void;
}

export class LambdaRuntimeApi {
  readonly initErrors: RuntimeError[] = [];
  /** GET /next requests answered, and still waiting: a warm instance keeps polling. */
  polls = 0;
  private server: Server | undefined;
  private readonly queue: Pending[] = [];
  private readonly waiting: ServerResponse[] = [];
  private readonly byId = new Map<string, Pending>();
  private initErrorListeners: (() => void)[] = [];

  /** Starts listening on 127.0.0.1; resolves with the `host:port` for AWS_LAMBDA_RUNTIME_API. */
  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.route(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const res of this.waiting.splice(0)) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /**
   * Resolves once no runtime is polling (bounded): after a test stops its instance, the next test's event must not be
   * handed to the stopped runtime's poll, whose connection close may not have been seen yet.
   */
  async idle(timeoutMs = 5_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.waiting.length > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  }

  /** Queues an event for the function and resolves once it has answered (or failed, or been cut off). */
  invoke(event: unknown, options: { timeoutMs?: number; disconnectAfter?: (received: Buffer) => boolean } = {}): Promise<InvocationResult> {
    const timeoutMs = options.timeoutMs ?? 15_000;
    return new Promise((resolve) => {
      let done = false;
      const finish = (result: InvocationResult) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(result);
      };
      const requestId = randomUUID();
      const timer = setTimeout(() => finish({ requestId, outcome: 'timeout', responseMode: undefined, contentType: undefined, chunks: [], trailers: {} }), timeoutMs);
      const pending: Pending = {
        requestId,
        event,
        deadlineMs: Date.now() + timeoutMs,
        disconnectAfter: options.disconnectAfter,
        answered: false,
        resolve: finish,
      };
      this.byId.set(pending.requestId, pending);
      this.queue.push(pending);
      this.dispatch();
    });
  }

  /** Resolves when the function has posted an init error. */
  nextInitError(): Promise<RuntimeError> {
    const seen = this.initErrors.length;
    return new Promise((resolve) => {
      const check = () => {
        if (this.initErrors.length <= seen) return false;
        resolve(this.initErrors[seen]!);
        return true;
      };
      if (!check()) this.initErrorListeners.push(() => void check());
    });
  }

  private dispatch(): void {
    while (this.queue.length && this.waiting.length) {
      const res = this.waiting.shift()!;
      // A poll whose runtime is gone can take no event.
      if (res.destroyed || res.socket?.destroyed) continue;
      const next = this.queue.shift()!;
      const body = JSON.stringify(next.event);
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(body),
        'Lambda-Runtime-Aws-Request-Id': next.requestId,
        'Lambda-Runtime-Deadline-Ms': String(next.deadlineMs),
        'Lambda-Runtime-Invoked-Function-Arn': FUNCTION_ARN,
        'Lambda-Runtime-Trace-Id': `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomUUID().replace(/-/g, '').slice(0, 24)};Parent=${randomUUID().replace(/-/g, '').slice(0, 16)};Sampled=0`,
      });
      res.end(body);
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '';
    if (req.method === 'GET' && url === `${PREFIX}/invocation/next`) {
      this.polls++;
      this.waiting.push(res);
      // a runtime that exits while polling leaves nobody to hand the next event to
      res.on('close', () => {
        const at = this.waiting.indexOf(res);
        if (at >= 0) this.waiting.splice(at, 1);
      });
      return this.dispatch();
    }
    if (req.method === 'POST' && url === `${PREFIX}/init/error`) {
      const body = await readBounded(req, MAX_ERROR_BYTES);
      this.initErrors.push({ type: header(req, 'lambda-runtime-function-error-type'), body: body?.toString('utf8') ?? '' });
      for (const listener of this.initErrorListeners.splice(0)) listener();
      return accepted(res);
    }
    const m = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(url);
    if (req.method !== 'POST' || !m) return reply(res, 404, { errorMessage: 'Unknown resource', errorType: 'NotFound' });
    const pending = this.byId.get(decodeURIComponent(m[1]!));
    if (!pending) return reply(res, 400, { errorMessage: 'Invalid request ID', errorType: 'InvalidRequestID' });
    if (pending.answered) return reply(res, 400, { errorMessage: 'Invalid state transition', errorType: 'InvalidStateTransition' });
    pending.answered = true;
    return m[2] === 'error' ? this.onError(pending, req, res) : this.onResponse(pending, req, res);
  }

  private async onError(pending: Pending, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBounded(req, MAX_ERROR_BYTES);
    const error = { requestId: pending.requestId, type: header(req, 'lambda-runtime-function-error-type'), body: body?.toString('utf8') ?? '' };
    accepted(res);
    pending.resolve({ requestId: pending.requestId, outcome: 'error', responseMode: undefined, contentType: undefined, chunks: [], trailers: {}, error });
  }

  private onResponse(pending: Pending, req: IncomingMessage, res: ServerResponse): void {
    const responseMode = header(req, 'lambda-runtime-function-response-mode');
    const result: InvocationResult = { requestId: pending.requestId, outcome: 'response', responseMode, contentType: header(req, 'content-type'), chunks: [], trailers: {} };
    let received = Buffer.alloc(0);
    let settled = false;
    const settle = (outcome: InvocationResult['outcome']) => {
      if (settled) return;
      settled = true;
      pending.resolve({ ...result, outcome });
    };
    req.on('data', (data: Buffer) => {
      if (settled) return;
      result.chunks.push({ at: performance.now(), data });
      received = Buffer.concat([received, data]);
      if (received.byteLength > MAX_STREAMED_BYTES) {
        reply(res, 413, { errorMessage: 'Response payload size exceeded maximum allowed payload size', errorType: 'Function.ResponseSizeTooLarge' });
        req.destroy();
        return settle('disconnected');
      }
      if (pending.disconnectAfter?.(received)) {
        // The caller went away: the service drops the function's response connection.
        req.socket.destroy();
        settle('disconnected');
      }
    });
    req.on('end', () => {
      if (settled) return;
      for (const [name, value] of Object.entries(req.trailers)) if (typeof value === 'string') result.trailers[name] = value;
      accepted(res);
      settle('response');
    });
    req.on('close', () => settle('disconnected'));
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function accepted(res: ServerResponse): void {
  reply(res, 202, { status: 'OK' });
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function readBounded(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (d: Buffer) => {
      size += d.byteLength;
      if (size > limit) {
        req.destroy();
        return resolve(undefined);
      }
      parts.push(d);
    });
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', () => resolve(undefined));
  });
}

/** What API Gateway makes of a streamed HTTP-integration response: the prelude before the 8 NUL bytes, then the payload. */
export function parseIntegrationResponse(result: InvocationResult): { prelude: { statusCode: number; headers: Record<string, string>; multiValueHeaders?: Record<string, string[]> } | undefined; body: string; bodyChunks: { at: number; text: string }[] } {
  const all = Buffer.concat(result.chunks.map((c) => c.data));
  const at = all.indexOf(Buffer.alloc(8));
  if (at < 0) return { prelude: undefined, body: all.toString('utf8'), bodyChunks: [] };
  // Stamp each payload byte range with the arrival of the chunk that carried it.
  const bodyChunks: { at: number; text: string }[] = [];
  let offset = 0;
  for (const chunk of result.chunks) {
    const start = Math.max(offset, at + 8);
    const end = offset + chunk.data.byteLength;
    if (end > start) bodyChunks.push({ at: chunk.at, text: chunk.data.subarray(start - offset).toString('utf8') });
    offset = end;
  }
  return { prelude: JSON.parse(all.subarray(0, at).toString('utf8')) as never, body: all.subarray(at + 8).toString('utf8'), bodyChunks };
}

/** The JSON-RPC messages of an SSE payload, each stamped with the arrival of the chunk that completed it. */
export function sseMessages(bodyChunks: { at: number; text: string }[]): { at: number; data: { method?: string; id?: unknown; result?: Record<string, unknown>; error?: Record<string, unknown>; params?: Record<string, unknown> } }[] {
  const events: ReturnType<typeof sseMessages> = [];
  let buffer = '';
  for (const chunk of bodyChunks) {
    buffer += chunk.text;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trimStart())
        .join('\n');
      if (data) events.push({ at: chunk.at, data: JSON.parse(data) as ReturnType<typeof sseMessages>[number]['data'] });
    }
  }
  return events;
}
