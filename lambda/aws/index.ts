/**
 * The Lambda entry point (API Gateway REST, integration responseTransferMode STREAM). The app is built once
 * per container and reused; the build starts at module load, so reading the server secret overlaps the runtime's
 * start instead of following the first event. A failed build is not cached: the request gets 503 + Retry-After
 * and the next invocation builds again (lambda-handler.ts).
 */
import { ENV, LOG_LEVELS } from '../app/env-contract.js';
import { createLogger, type LogLevel } from '../observability/logger.js';
import { createLambdaApp } from './app.js';
import { createLambdaHandler } from './lambda-handler.js';
import type { HttpResponseStreamLike, StreamingHandler } from './stream-adapter.js';

/** What this file needs of the `awslambda` global the Node.js runtime provides; looked up here, once, and handed down. */
interface AwsLambdaRuntime {
  streamifyResponse(handler: StreamingHandler): StreamingHandler;
  HttpResponseStream: HttpResponseStreamLike;
}

function awslambda(): AwsLambdaRuntime {
  const runtime = (globalThis as unknown as { awslambda?: AwsLambdaRuntime }).awslambda;
  if (!runtime) throw new Error('the awslambda global is missing: this module runs only in the AWS Lambda Node.js runtime');
  return runtime;
}

// The adapter logs before (and whether or not) the configuration parses, so a bad level falls back instead of failing.
const requestedLevel = process.env[ENV.ORMCP_LOG_LEVEL] as LogLevel | undefined;
const logger = createLogger({
  level: requestedLevel && (LOG_LEVELS as readonly LogLevel[]).includes(requestedLevel) ? requestedLevel : 'info',
  base: { component: 'lambda-adapter' },
});

const runtime = awslambda();
const lambda = createLambdaHandler({ build: () => createLambdaApp(process.env), logger, HttpResponseStream: runtime.HttpResponseStream });
lambda.prewarm();

// Plain awslambda.streamifyResponse, not middy: with streamifyResponse middy only re-does the prelude + pipe this adapter already does (without the empty-body fix) and its early-timeout would throw mid-stream.
export const handler = runtime.streamifyResponse(lambda.handler);
