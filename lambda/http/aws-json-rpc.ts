/**
 * AWS's JSON protocol (one POST per call, `X-Amz-Target: <prefix>.<Operation>`, SigV4-signed) over node:http(s),
 * for the Lambda's cold path: DynamoDB and Secrets Manager without the AWS SDK.
 *
 * Why not the SDK: its clients are ~360 KB of the bundle and ~55 ms of every cold start (npm run bench), for two
 * services whose wire format is a JSON body and a signature. Signing is `aws4`'s (a maintained SigV4 library); what
 * is here is the part the SDK's settings described in aws-sdk/bounded-requests.ts: every call bounded in time (a connect
 * limit, a per-attempt silence limit, a fixed number of attempts), retries only for what the SDK's standard mode
 * retries (throttling, 5xx, network errors and timeouts) with its full-jitter backoff, and errors named by their
 * AWS type (`ConditionalCheckFailedException`) as the SDK names them, so code that checks `err.name` is unchanged.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import aws4 from 'aws4';

/** Per-call bounds (the same fields as the SDK clients' settings in aws-sdk/bounded-requests.ts). */
export interface RequestTimeouts {
  /** TCP (and TLS) connect limit per attempt. */
  connectionTimeoutMs: number;
  /** Per attempt: the longest silence, before the response headers and between body chunks. */
  requestTimeoutMs: number;
  /** Attempts per call, the first included. */
  maxAttempts: number;
}

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface JsonRpcOptions {
  /** SigV4 signing name, e.g. `dynamodb`, `secretsmanager`. */
  signingName: string;
  /** `X-Amz-Target` prefix, e.g. `DynamoDB_20120810`. */
  targetPrefix: string;
  /** `application/x-amz-json-1.0` or `-1.1`, as the service's model says. */
  contentType: string;
  /** The service endpoint, e.g. `https://dynamodb.eu-west-1.amazonaws.com`. */
  endpoint: string;
  region: string;
  credentials: AwsCredentials;
  timeouts: RequestTimeouts;
  /** Largest response body accepted, in bytes (a bigger one fails the call, unretried). */
  maxResponseBytes: number;
  /** Named in each request's User-Agent (CloudTrail shows which app called). */
  userAgent?: string;
  /** Sent (and signed) with every request: the local table's per-run key (local/table-guard.ts). */
  headers?: Readonly<Record<string, string>>;
  /** Backoff before retry `attempt` (1-based); the SDK's full jitter by default. Tests may shorten it. */
  backoffMs?: (attempt: number, throttled: boolean) => number;
}

export interface CallOptions {
  /** Ends the call (and its retries) early; the error is the signal's reason. */
  abortSignal?: AbortSignal;
}

export interface JsonRpcClient {
  call<T = Record<string, unknown>>(operation: string, input: object, options?: CallOptions): Promise<T>;
  /** Closes idle keep-alive sockets. */
  destroy(): void;
}

/** An error answer from the service, named by its AWS type, with the SDK's `$metadata` and `$fault`. */
export class AwsServiceError extends Error {
  readonly $fault: 'client' | 'server';
  $metadata: { httpStatusCode: number; attempts: number };
  constructor(
    override readonly name: string,
    message: string,
    httpStatusCode: number,
    /** The error answer's other fields (e.g. `Item` with ReturnValuesOnConditionCheckFailure). */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.$fault = httpStatusCode >= 500 ? 'server' : 'client';
    this.$metadata = { httpStatusCode, attempts: 1 };
  }
}

/** Connect or per-attempt limit reached (the SDK's name for both). */
export class AwsTimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/** What the SDK's standard retry strategy treats as throttling (retried with the longer base delay). */
const THROTTLING = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'RequestThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'TransactionInProgressException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'LimitExceededException',
  'RequestThrottled',
  'SlowDown',
  'PriorRequestNotComplete',
  'EC2ThrottledException',
]);
/** Socket-level failures worth another attempt (a reused keep-alive socket the server just closed, a refused connect). */
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH']);
const TRANSIENT_STATUS = new Set([500, 502, 503, 504]);

/** The SDK's standard mode: full jitter over 2^attempt × 100 ms (500 ms when throttled), at most 20 s. */
export function sdkBackoffMs(attempt: number, throttled: boolean): number {
  return Math.floor(Math.min(20_000, Math.random() * 2 ** attempt * (throttled ? 500 : 100)));
}

export function isThrottling(err: unknown): boolean {
  return err instanceof AwsServiceError && (THROTTLING.has(err.name) || err.$metadata.httpStatusCode === 429);
}

/** Whether another attempt may succeed: throttling, a 5xx, a timeout or a socket failure — never a 4xx answer. */
export function isRetryable(err: unknown): boolean {
  if (err instanceof AwsServiceError) return isThrottling(err) || TRANSIENT_STATUS.has(err.$metadata.httpStatusCode);
  if (err instanceof AwsTimeoutError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && NETWORK_CODES.has(code);
}

/**
 * The AWS type of an error answer: `x-amzn-ErrorType` or the body's `__type`/`code`, without the namespace
 * (`com.amazonaws.dynamodb.v20120810#`) and the trailing `:http://…` some services append.
 */
export function errorType(header: string | undefined, body: Record<string, unknown>): string {
  const raw = [header, body.__type, body.code, body.Code].find((v): v is string => typeof v === 'string' && v.length > 0) ?? 'UnknownError';
  const bare = raw.split(':')[0]!;
  const name = bare.slice(bare.lastIndexOf('#') + 1);
  return /^[A-Za-z0-9_.]{1,100}$/.test(name) ? name : 'UnknownError';
}

export function createJsonRpcClient(o: JsonRpcOptions): JsonRpcClient {
  const url = new URL(o.endpoint);
  const secure = url.protocol === 'https:';
  if (!secure && url.protocol !== 'http:') throw new Error(`unsupported endpoint protocol: ${url.protocol}`);
  // Keep-alive: a warm Lambda reuses its connection instead of a TLS handshake per call.
  const agent = secure ? new HttpsAgent({ keepAlive: true, maxSockets: 50 }) : new HttpAgent({ keepAlive: true, maxSockets: 50 });
  const send = secure ? httpsRequest : httpRequest;
  const backoff = o.backoffMs ?? sdkBackoffMs;
  const path = url.pathname || '/';

  function attempt(operation: string, body: string, signal: AbortSignal | undefined): Promise<Record<string, unknown>> {
    const signed = aws4.sign(
      {
        host: url.host,
        path,
        method: 'POST',
        service: o.signingName,
        region: o.region,
        body,
        headers: {
          'Content-Type': o.contentType,
          'X-Amz-Target': `${o.targetPrefix}.${operation}`,
          ...(o.userAgent ? { 'User-Agent': o.userAgent } : {}),
          ...o.headers,
        },
      },
      o.credentials,
    );
    return new Promise((resolve, reject) => {
      let settled = false;
      let connectTimer: NodeJS.Timeout | undefined;
      const finish = (err: unknown, value?: Record<string, unknown>) => {
        if (settled) return;
        settled = true;
        clearTimeout(connectTimer);
        signal?.removeEventListener('abort', onAbort);
        if (err) {
          req.destroy();
          reject(err);
        } else resolve(value!);
      };
      const req = send({ hostname: url.hostname, port: url.port || undefined, path, method: 'POST', headers: signed.headers, agent });
      const onAbort = () => finish(signal!.reason ?? new Error('aborted'));
      if (signal) {
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
      }
      req.on('socket', (socket) => {
        // A reused keep-alive socket is already connected; a new one must connect within the limit.
        if (socket.connecting) {
          connectTimer = setTimeout(() => finish(new AwsTimeoutError(`connection not established within ${o.timeouts.connectionTimeoutMs} ms`)), o.timeouts.connectionTimeoutMs);
          socket.once('connect', () => clearTimeout(connectTimer));
        }
      });
      // The longest silence per attempt: before the response headers and between body chunks.
      req.setTimeout(o.timeouts.requestTimeoutMs, () => finish(new AwsTimeoutError(`no response within ${o.timeouts.requestTimeoutMs} ms`)));
      req.on('error', (err) => finish(err));
      req.on('response', (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > o.maxResponseBytes) return finish(new AwsServiceError('ResponseTooLarge', `response larger than ${o.maxResponseBytes} bytes`, 200));
          chunks.push(chunk);
        });
        res.on('error', (err) => finish(err));
        res.on('aborted', () => finish(Object.assign(new Error('response aborted'), { code: 'ECONNRESET' })));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          let json: Record<string, unknown>;
          try {
            const text = Buffer.concat(chunks).toString('utf8');
            json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
            if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('not an object');
          } catch {
            return finish(new AwsServiceError(status >= 500 ? 'InternalServerError' : 'MalformedResponse', `unparseable response (HTTP ${status})`, status >= 300 ? status : 500));
          }
          if (status >= 200 && status < 300) return finish(undefined, json);
          const header = res.headers['x-amzn-errortype'];
          const { message, Message, __type: _t, ...details } = json;
          const text = typeof message === 'string' ? message : typeof Message === 'string' ? Message : `HTTP ${status}`;
          finish(new AwsServiceError(errorType(Array.isArray(header) ? header[0] : header, json), text, status, details));
        });
      });
      req.end(body);
    });
  }

  return {
    async call<T>(operation: string, input: object, options: CallOptions = {}): Promise<T> {
      const body = JSON.stringify(input);
      const { maxAttempts } = o.timeouts;
      for (let n = 1; ; n++) {
        try {
          return (await attempt(operation, body, options.abortSignal)) as T;
        } catch (err) {
          const aborted = options.abortSignal?.aborted === true;
          if (aborted || n >= maxAttempts || !isRetryable(err)) throw withAttempts(err, n);
          await sleep(backoff(n, isThrottling(err)), undefined, options.abortSignal ? { signal: options.abortSignal } : undefined).catch(() => undefined);
          if (options.abortSignal?.aborted) throw withAttempts(options.abortSignal.reason ?? err, n);
        }
      }
    },
    destroy: () => agent.destroy(),
  };
}

/** Records how many attempts were made, where the SDK does (`$metadata.attempts`). */
function withAttempts(err: unknown, attempts: number): unknown {
  if (typeof err !== 'object' || err === null) return err;
  const e = err as { $metadata?: Record<string, unknown> };
  try {
    e.$metadata = { ...(e.$metadata ?? {}), attempts };
  } catch {
    // A frozen error (a DOMException reason) keeps its own fields.
  }
  return err;
}

/** The credentials the Lambda runtime puts in the environment (the execution role's), or undefined. */
export function credentialsFromEnv(env: NodeJS.ProcessEnv): AwsCredentials | undefined {
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN: sessionToken } = env;
  if (!accessKeyId || !secretAccessKey) return undefined;
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
}

/**
 * A service's endpoint as the SDK resolves it for these two: the service-specific override
 * (`AWS_ENDPOINT_URL_<SERVICE_ID>`), then the global one (`AWS_ENDPOINT_URL`), then the regional endpoint
 * (FIPS when `AWS_USE_FIPS_ENDPOINT=true`; `.amazonaws.com.cn` in the China partition).
 */
export function endpointFor(env: NodeJS.ProcessEnv, envSuffix: string, hostPrefix: string, region: string): string {
  const override = env[`AWS_ENDPOINT_URL_${envSuffix}`] || env.AWS_ENDPOINT_URL;
  if (override) return override;
  const fips = env.AWS_USE_FIPS_ENDPOINT === 'true' ? '-fips' : '';
  const domain = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `https://${hostPrefix}${fips}.${region}.${domain}`;
}
