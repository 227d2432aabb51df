/**
 * Per-attempt limits for an AWS SDK client, so every call ends in bounded time instead of the SDK's minutes. Shared
 * by every client the server makes (DynamoDB in store/dynamo.ts, Secrets Manager in aws/clients.ts), so it sits
 * below both.
 */

export interface RequestTimeouts {
  /** TCP (and TLS) connect limit per attempt. */
  connectionTimeoutMs: number;
  /** Per attempt: from sending until the response headers, and the longest silence while the body arrives. */
  requestTimeoutMs: number;
  /** Attempts per call, the first included (the SDK retries throttles, 5xx, resets and timeouts with backoff). */
  maxAttempts: number;
}

/** The `maxAttempts` and `requestHandler` settings of an SDK client config. */
export function boundedRequests(t: RequestTimeouts) {
  return {
    maxAttempts: t.maxAttempts,
    requestHandler: {
      connectionTimeout: t.connectionTimeoutMs,
      requestTimeout: t.requestTimeoutMs,
      // Without this the SDK only logs a warning when requestTimeout passes and keeps waiting.
      throwOnRequestTimeout: true,
      socketTimeout: t.requestTimeoutMs,
    },
  };
}
