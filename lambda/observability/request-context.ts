/**
 * What one HTTP request contributes to its tool-call log line: a correlation id, and a count of the upstream
 * calls it made with the last status seen (so a success line says whether OpenRouter was reached at all, or
 * answered from the catalog cache, and how many attempts a retried read took).
 */

const TRACE_ROOT = /(?:^|;)\s*Root=(1-[0-9a-f]{8}-[0-9a-f]{24})\s*(?:;|$)/i;
const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The request's correlation id: API Gateway's X-Ray trace root (`X-Amzn-Trace-Id`, added to every request it
 * forwards), else a well-formed `X-Request-Id` from the caller. Only used in logs, and only if it matches a
 * strict pattern, so a caller cannot put anything else into a log line through it.
 */
export function requestIdOf(request: Request | undefined): string | undefined {
  if (!request) return undefined;
  const trace = request.headers.get('x-amzn-trace-id');
  const root = trace ? TRACE_ROOT.exec(trace)?.[1] : undefined;
  if (root) return root;
  const given = request.headers.get('x-request-id')?.trim();
  return given && CLIENT_REQUEST_ID.test(given) ? given : undefined;
}

/** Wraps the upstream fetch of one request to count calls and keep the last HTTP status. */
export class UpstreamTrace {
  calls = 0;
  lastStatus: number | undefined;

  wrap(inner: typeof fetch): typeof fetch {
    return (async (input: RequestInfo | URL, init?: RequestInit) => {
      this.calls += 1;
      const response = await inner(input, init);
      this.lastStatus = response.status;
      return response;
    }) as typeof fetch;
  }
}
