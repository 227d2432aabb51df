/**
 * The Lambda entry point (API Gateway REST, integration responseTransferMode STREAM). The app is built once
 * per container, on the first invocation, and reused; a failed build is not cached, so the next invocation
 * retries instead of the container failing until it is recycled.
 */
import { createLogger, type LogLevel } from '../observability/logger.js';
import { createLambdaApp } from './app.js';
import { createStreamingHandler, type FetchHandler, type HttpResponseStreamLike, type StreamingHandler } from './stream-adapter.js';

/** What this file needs of the `awslambda` global the Node.js runtime provides. */
interface AwsLambdaRuntime {
  streamifyResponse(handler: StreamingHandler): StreamingHandler;
  HttpResponseStream: HttpResponseStreamLike;
}

function awslambda(): AwsLambdaRuntime {
  const runtime = (globalThis as unknown as { awslambda?: AwsLambdaRuntime }).awslambda;
  if (!runtime) throw new Error('the awslambda global is missing: this module runs only in the AWS Lambda Node.js runtime');
  return runtime;
}

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
const requestedLevel = process.env.ORMCP_LOG_LEVEL as LogLevel | undefined;
const logger = createLogger({
  level: requestedLevel && LEVELS.includes(requestedLevel) ? requestedLevel : 'info',
  base: { component: 'lambda-adapter' },
});

let app: Promise<FetchHandler> | undefined;

function getHandler(): Promise<FetchHandler> {
  app ??= createLambdaApp(process.env).then(
    (built) => (request: Request) => built.fetch(request),
    (err: unknown) => {
      app = undefined;
      throw err;
    },
  );
  return app;
}

const runtime = awslambda();

// Plain awslambda.streamifyResponse, not middy: with streamifyResponse middy only re-does the prelude + pipe this adapter already does (without the empty-body fix) and its early-timeout would throw mid-stream.
export const handler = runtime.streamifyResponse(createStreamingHandler(getHandler, { HttpResponseStream: runtime.HttpResponseStream, logger }));
