/**
 * The Lambda's request path around the app. The app is built once per instance and reused. A build that fails
 * (Secrets Manager throttled, denied or unreachable; a bad configuration) is not cached: the next invocation builds
 * again, so the instance recovers as soon as the dependency does. A request that arrives while the app cannot be
 * built is answered at once with 503, a JSON body and Retry-After — not a 500, not a crash, not a hang (the build
 * itself is bounded in time, see app.ts).
 */
import type { App } from '../app/app.js';
import { json, jsonRpcError } from '../http/json.js';
import { trimTrailingSlashes } from '../http/path.js';
import { MCP_PATH } from '../oauth/metadata.js';
import { errorName } from '../observability/error-name.js';
import type { Logger } from '../observability/logger.js';
import { ServerSecretUnavailable } from './app.js';
import { createStreamingHandler, type HttpResponseStreamLike, type StreamingHandler } from './stream-adapter.js';

/** The app, and the work it left running after its responses (see stream-adapter's afterResponse). */
export type SettlingApp = App & { settle?: () => Promise<void> };

export interface LambdaHandlerDeps {
  build: () => Promise<SettlingApp>;
  logger: Logger;
  /** The runtime's `awslambda.HttpResponseStream` (index.ts looks it up once). */
  HttpResponseStream: HttpResponseStreamLike;
  /** Retry-After on a failed build; a short wait, since every invocation retries the build. */
  retryAfterSeconds?: number;
}

export interface LambdaHandler {
  handler: StreamingHandler;
  /**
   * Starts the build now, without waiting for an event: called at module load, so the secret read and the
   * connections it opens overlap the runtime's own start and its wait for the first event. A failure here is
   * logged and forgotten; the first event builds again.
   */
  prewarm(): void;
}

export function createLambdaHandler(deps: LambdaHandlerDeps): LambdaHandler {
  const { logger } = deps;
  const retryAfter = String(deps.retryAfterSeconds ?? 2);
  let app: Promise<SettlingApp> | undefined;
  let prewarmed: Promise<SettlingApp> | undefined;

  const getApp = (): Promise<SettlingApp> => {
    app ??= deps.build().catch((err: unknown) => {
      app = undefined;
      logger.error('cold start failed; the next request retries', failureFields(err));
      throw err;
    });
    return app;
  };

  const serve = async (request: Request): Promise<Response> => {
    let built: SettlingApp;
    const attempt = getApp();
    try {
      built = await attempt;
    } catch {
      // A build started at module load may have failed long before this request (or been cut off while the
      // instance sat frozen, waiting for it): this request gets its own attempt before hearing "unavailable".
      if (attempt !== prewarmed) return unavailable(request, retryAfter);
      try {
        built = await getApp();
      } catch {
        return unavailable(request, retryAfter);
      }
    }
    return built.fetch(request);
  };

  return {
    handler: createStreamingHandler(serve, {
      logger,
      HttpResponseStream: deps.HttpResponseStream,
      afterResponse: async () => {
        // No app (its build failed) means nothing was started that could still be running.
        const built = await app?.catch(() => undefined);
        await built?.settle?.();
      },
    }),
    prewarm: () => {
      prewarmed = getApp();
      prewarmed.catch(() => undefined);
    },
  };
}

/** What the log may say about a failed build: names and counts only (messages can quote ARNs, values or secrets). */
function failureFields(err: unknown): Record<string, unknown> {
  if (err instanceof ServerSecretUnavailable) return { error: err.name, reason: err.reason, ...(err.attempts ? { attempts: err.attempts } : {}) };
  return { error: errorName(err) };
}

function unavailable(request: Request, retryAfter: string): Response {
  const message = 'The server is starting and cannot reach its configuration right now; retry shortly.';
  let path = '';
  try {
    path = trimTrailingSlashes(new URL(request.url).pathname);
  } catch {
    // an unparsable URL gets the plain JSON shape
  }
  const headers = { 'Retry-After': retryAfter, 'Cache-Control': 'no-store' };
  // MCP clients get a JSON-RPC error, everything else (pages, OAuth) the OAuth-style error object.
  if (path === MCP_PATH) return jsonRpcError(503, -32000, message, headers);
  return json(503, { error: 'temporarily_unavailable', error_description: message }, headers);
}
