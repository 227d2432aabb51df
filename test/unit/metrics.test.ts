/** The EMF document builder and sink, the request id and upstream trace, and the limits/metrics settings. */
import { loadConfig, ConfigError } from '../../lambda/app/config.js';
import { withHttpMetrics } from '../../lambda/app/http-metrics.js';
import { METRICS_NAMESPACE, emfDocument, emfMetrics, httpDocument, ledgerFailureDocument, toolCallDocument } from '../../lambda/observability/metrics.js';
import { UpstreamTrace, requestIdOf } from '../../lambda/observability/request-context.js';
import { UpstreamError } from '../../lambda/openrouter/errors.js';
import { isUpstreamFault } from '../../lambda/tools/run.js';

const TS = Date.parse('2030-01-01T00:00:00.000Z');

describe('emfDocument', () => {
  test('metadata, dimension values and metric values at the root, as the EMF specification lays out', () => {
    const doc = emfDocument({
      namespace: 'NS',
      timestamp: TS,
      dimensions: { Service: 's', Tool: 't' },
      dimensionSets: [['Service', 'Tool'], ['Service']],
      metrics: [
        { name: 'Calls', unit: 'Count', value: 1 },
        { name: 'Latency', unit: 'Milliseconds', value: 12.5 },
      ],
      properties: { outcome: 'ok' },
    });
    expect(doc).toEqual({
      outcome: 'ok',
      Service: 's',
      Tool: 't',
      Calls: 1,
      Latency: 12.5,
      _aws: {
        Timestamp: TS,
        CloudWatchMetrics: [
          {
            Namespace: 'NS',
            Dimensions: [['Service', 'Tool'], ['Service']],
            Metrics: [
              { Name: 'Calls', Unit: 'Count' },
              { Name: 'Latency', Unit: 'Milliseconds' },
            ],
          },
        ],
      },
    });
  });

  test('a property cannot shadow a metric, a dimension or the metadata', () => {
    const doc = emfDocument({
      namespace: 'NS',
      timestamp: TS,
      dimensions: { Service: 's' },
      dimensionSets: [['Service']],
      metrics: [{ name: 'Calls', unit: 'Count', value: 1 }],
      properties: { Calls: 99, Service: 'evil', _aws: 'x' },
    });
    expect(doc.Calls).toBe(1);
    expect(doc.Service).toBe('s');
    expect(typeof doc._aws).toBe('object');
  });

  test('a dimension set naming a dimension without a value is a bug, caught at once', () => {
    expect(() =>
      emfDocument({ namespace: 'NS', timestamp: TS, dimensions: {}, dimensionSets: [['Tool']], metrics: [] }),
    ).toThrow(/Tool/);
  });
});

describe('tool call and HTTP documents', () => {
  test('a throttled call: counted, an error, a throttle, not an upstream error; no cost or tokens', () => {
    const doc = toolCallDocument('svc', { tool: 'get_key_usage', outcome: 'throttled', latencyMs: 3.14159, upstreamError: false }, TS);
    expect(doc).toMatchObject({ Service: 'svc', Tool: 'get_key_usage', ToolCalls: 1, ToolErrors: 1, Throttles: 1, UpstreamErrors: 0, Latency: 3.1, outcome: 'throttled' });
    expect(doc).not.toHaveProperty('Cost');
    expect(doc).not.toHaveProperty('Tokens');
    const directive = (doc._aws as { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] }).CloudWatchMetrics[0]!;
    expect(directive.Namespace).toBe(METRICS_NAMESPACE);
    // Never a user, model or token dimension: only the service and the (six) tool names.
    expect(directive.Dimensions).toEqual([['Service', 'Tool'], ['Service']]);
  });

  test('a generation carries tokens and cost (a cost of 0 is still a value)', () => {
    const doc = toolCallDocument('svc', { tool: 'send_chat_completion_request', outcome: 'ok', latencyMs: 10, upstreamError: false, tokens: 14, costUsd: 0, requestId: 'r1' }, TS);
    expect(doc).toMatchObject({ ToolErrors: 0, Throttles: 0, Tokens: 14, Cost: 0, request_id: 'r1' });
    const names = (doc._aws as { CloudWatchMetrics: { Metrics: { Name: string; Unit: string }[] }[] }).CloudWatchMetrics[0]!.Metrics;
    expect(names).toContainEqual({ Name: 'Cost', Unit: 'None' });
    expect(names).toContainEqual({ Name: 'Tokens', Unit: 'Count' });
  });

  test('team control: budget and policy refusals counted apart (zeros published too), ledger failures per service', () => {
    const budget = toolCallDocument('svc', { tool: 'send_chat_completion_request', outcome: 'budget_refused', latencyMs: 1, upstreamError: false }, TS);
    expect(budget).toMatchObject({ ToolErrors: 1, BudgetRefusals: 1, PolicyRefusals: 0, Throttles: 0 });
    const policy = toolCallDocument('svc', { tool: 'send_chat_completion_request', outcome: 'policy_refused', latencyMs: 1, upstreamError: false }, TS);
    expect(policy).toMatchObject({ BudgetRefusals: 0, PolicyRefusals: 1 });
    expect(ledgerFailureDocument('svc', TS)).toMatchObject({ Service: 'svc', LedgerWriteFailures: 1 });
    expect((ledgerFailureDocument('svc', TS)._aws as { CloudWatchMetrics: { Dimensions: string[][] }[] }).CloudWatchMetrics[0]!.Dimensions).toEqual([['Service']]);
  });

  test('HTTP: every response counted, 5xx flagged', () => {
    expect(httpDocument('svc', 503, TS)).toMatchObject({ HttpRequests: 1, Http5xx: 1, status: 503, Service: 'svc' });
    expect(httpDocument('svc', 499, TS)).toMatchObject({ HttpRequests: 1, Http5xx: 0 });
  });

  test('the sink writes one JSON line per document', () => {
    const lines: string[] = [];
    const metrics = emfMetrics({ service: 'svc', write: (l) => lines.push(l), now: () => TS });
    metrics.toolCall({ tool: 't', outcome: 'ok', latencyMs: 1, upstreamError: false });
    metrics.httpResponse(200);
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l).not.toContain('\n');
    expect(JSON.parse(lines[0]!)._aws.Timestamp).toBe(TS);
  });

  test('the HTTP wrapper counts responses, and a handler that throws as a 500', async () => {
    const statuses: number[] = [];
    const metrics = { toolCall: () => undefined, httpResponse: (s: number) => statuses.push(s) };
    let fail = false;
    const app = withHttpMetrics(
      {
        fetch: async () => {
          if (fail) throw new Error('boom');
          return new Response(null, { status: 204 });
        },
        close: async () => undefined,
      },
      metrics,
    );
    expect((await app.fetch(new Request('http://x/'))).status).toBe(204);
    fail = true;
    await expect(app.fetch(new Request('http://x/'))).rejects.toThrow('boom');
    expect(statuses).toEqual([204, 500]);
  });
});

describe('upstream faults (what the upstream error alarm counts)', () => {
  test.each([
    ['http', 500, true],
    ['http', 502, true],
    ['http', 503, true],
    ['http', 408, true],
    ['timeout', 0, true],
    ['network', 0, true],
    ['invalid_response', 200, true],
    ['stream', 200, true],
    ['http', 400, false],
    ['http', 401, false],
    ['http', 402, false],
    ['http', 403, false],
    ['http', 429, false],
  ] as const)('%s %d → %s', (kind, status, fault) => {
    expect(isUpstreamFault(new UpstreamError(kind, status, 'x'))).toBe(fault);
  });
});

describe('request id and upstream trace', () => {
  const req = (headers: Record<string, string>) => new Request('http://x/mcp', { headers });

  test('the X-Ray trace root API Gateway adds comes first', () => {
    const trace = 'Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=1';
    expect(requestIdOf(req({ 'X-Amzn-Trace-Id': trace, 'X-Request-Id': 'mine' }))).toBe('1-67891233-abcdef012345678912345678');
    expect(requestIdOf(req({ 'X-Amzn-Trace-Id': 'Self=1-1;Root=1-67891233-abcdef012345678912345678' }))).toBe('1-67891233-abcdef012345678912345678');
  });

  test('a caller X-Request-Id only when it is short and plain; otherwise none', () => {
    expect(requestIdOf(req({ 'X-Request-Id': 'abc-123_x.y:z' }))).toBe('abc-123_x.y:z');
    expect(requestIdOf(req({ 'X-Request-Id': 'has space' }))).toBeUndefined();
    expect(requestIdOf(req({ 'X-Request-Id': 'a'.repeat(129) }))).toBeUndefined();
    expect(requestIdOf(req({ 'X-Request-Id': '{"json":1}' }))).toBeUndefined();
    expect(requestIdOf(req({ 'X-Amzn-Trace-Id': 'Root=garbage' }))).toBeUndefined();
    expect(requestIdOf(req({}))).toBeUndefined();
    expect(requestIdOf(undefined)).toBeUndefined();
  });

  test('the trace counts calls and keeps the last status, also for errors the server answers', async () => {
    const trace = new UpstreamTrace();
    let status = 503;
    const fetchImpl = trace.wrap((async () => new Response('x', { status })) as unknown as typeof fetch);
    await fetchImpl('http://u/');
    status = 200;
    await fetchImpl('http://u/');
    expect(trace.calls).toBe(2);
    expect(trace.lastStatus).toBe(200);
    const failing = new UpstreamTrace();
    await expect(failing.wrap((async () => Promise.reject(new TypeError('fetch failed'))) as unknown as typeof fetch)('http://u/')).rejects.toThrow('fetch failed');
    expect(failing.calls).toBe(1);
    expect(failing.lastStatus).toBeUndefined();
  });
});

describe('limits and metrics settings', () => {
  test('defaults: 60 calls per minute, 4 generations at once, metrics off, service openrouter-mcp', () => {
    const c = loadConfig({});
    expect(c.limits).toEqual({ ratePerMinute: 60, maxConcurrent: 4 });
    expect(c.metrics).toBe('off');
    expect(c.metricsService).toBe('openrouter-mcp');
  });

  test('0 turns a limit off; values are read from the environment', () => {
    const c = loadConfig({ ORMCP_RATE_LIMIT_PER_MINUTE: '0', ORMCP_MAX_CONCURRENT_PER_USER: '12', ORMCP_METRICS: 'emf', ORMCP_METRICS_SERVICE: 'OpenRouterMcp-dev' });
    expect(c.limits).toEqual({ ratePerMinute: 0, maxConcurrent: 12 });
    expect(c.metrics).toBe('emf');
    expect(c.metricsService).toBe('OpenRouterMcp-dev');
  });

  test.each([
    ['ORMCP_RATE_LIMIT_PER_MINUTE', '-1'],
    ['ORMCP_RATE_LIMIT_PER_MINUTE', '1.5'],
    ['ORMCP_RATE_LIMIT_PER_MINUTE', '100001'],
    ['ORMCP_MAX_CONCURRENT_PER_USER', '1001'],
    ['ORMCP_METRICS', 'on'],
    ['ORMCP_METRICS_SERVICE', 'has space'],
  ])('%s=%s is refused, naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(name);
  });
});
