/** The time bounds of every DynamoDB call, shared by the SDK client (dynamo.ts) and the Lambda's (dynamo-rpc.ts). */
import type { RequestTimeouts } from '../http/aws-json-rpc.js';

export type DynamoTimeouts = RequestTimeouts;

/**
 * DynamoDB answers in milliseconds; the SDK's own defaults wait up to 5 minutes per attempt for a silent
 * socket, three times, which would hold a request (and a Lambda) long after the client gave up. With these,
 * a call fails within about maxAttempts × requestTimeoutMs plus a little backoff (≈ 3 s), and the handler
 * answers 503 + Retry-After instead of hanging.
 */
export const DYNAMO_TIMEOUTS: DynamoTimeouts = { connectionTimeoutMs: 1_000, requestTimeoutMs: 1_500, maxAttempts: 2 };
