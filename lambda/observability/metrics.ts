/**
 * CloudWatch metrics through the Embedded Metric Format: one JSON line on stdout per tool call (and per HTTP
 * request), which CloudWatch Logs turns into metrics — no PutMetricData call, no IAM permission, no SDK, no
 * flush to forget at the end of an invocation. The document builder is pure; the sink only writes a line.
 *
 * Cardinality is kept low on purpose (custom metrics are billed per name × dimension combination): dimensions
 * are the service (the stack name) and the tool (six fixed names), never a user, model or token.
 */

/** The CloudWatch namespace of every metric here; the stack's alarms read the same constant. */
export const METRICS_NAMESPACE = 'OpenRouterMcp';

export const DIM_SERVICE = 'Service';
export const DIM_TOOL = 'Tool';

export const METRIC = {
  /** Every tool call received (throttled and rejected ones included). */
  toolCalls: 'ToolCalls',
  /** Tool calls whose result was an error, for any reason. */
  toolErrors: 'ToolErrors',
  /** OpenRouter (or the provider behind it) failed: 5xx, 408, timeout, network, unreadable answer, mid-stream error. */
  upstreamErrors: 'UpstreamErrors',
  /** Calls refused by the per-user rate or concurrency limit. */
  throttles: 'Throttles',
  /** Generations refused because the user's budget (a daily, weekly or monthly cap) could not cover them. */
  budgetRefusals: 'BudgetRefusals',
  /** Generations refused by the operator's policy (model, data policy, plugins). */
  policyRefusals: 'PolicyRefusals',
  /** Usage-ledger writes that failed (the call itself still answered). */
  ledgerWriteFailures: 'LedgerWriteFailures',
  latency: 'Latency',
  /** Dollars spent by generations, as OpenRouter reported them. */
  cost: 'Cost',
  /** Prompt + completion tokens of generations. */
  tokens: 'Tokens',
  httpRequests: 'HttpRequests',
  http5xx: 'Http5xx',
} as const;

export type EmfUnit = 'Count' | 'Milliseconds' | 'None';

export interface EmfMetric {
  name: string;
  unit: EmfUnit;
  value: number;
}

export interface EmfInput {
  namespace: string;
  /** Epoch ms. */
  timestamp: number;
  /** Dimension values, by dimension name. */
  dimensions: Record<string, string>;
  /** Which combinations of `dimensions` each metric is published under. */
  dimensionSets: string[][];
  metrics: EmfMetric[];
  /** Extra members for Logs Insights (not metrics, not dimensions). */
  properties?: Record<string, unknown>;
}

/** Builds one EMF document (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html). */
export function emfDocument(input: EmfInput): Record<string, unknown> {
  for (const set of input.dimensionSets) {
    for (const name of set) if (!(name in input.dimensions)) throw new Error(`EMF dimension set names "${name}", which has no value`);
  }
  return {
    // Properties first: a property can never shadow a metric value, a dimension value or the metadata.
    ...input.properties,
    ...input.dimensions,
    ...Object.fromEntries(input.metrics.map((m) => [m.name, m.value])),
    _aws: {
      Timestamp: input.timestamp,
      CloudWatchMetrics: [
        {
          Namespace: input.namespace,
          Dimensions: input.dimensionSets,
          Metrics: input.metrics.map((m) => ({ Name: m.name, Unit: m.unit })),
        },
      ],
    },
  };
}

export type ToolOutcomeKind = 'ok' | 'tool_error' | 'upstream_error' | 'bad_input' | 'no_key' | 'throttled' | 'budget_refused' | 'policy_refused' | 'internal_error';

export interface ToolCallRecord {
  tool: string;
  outcome: ToolOutcomeKind;
  latencyMs: number;
  /** OpenRouter's side failed (see METRIC.upstreamErrors); a 4xx about the user's key, credit or input is not one. */
  upstreamError: boolean;
  /** Generations only. */
  tokens?: number;
  costUsd?: number;
  requestId?: string;
}

/** Per tool, and summed over tools (alarms need the sum: an alarm's metric math takes at most 10 metrics). */
const TOOL_DIMENSION_SETS = [[DIM_SERVICE, DIM_TOOL], [DIM_SERVICE]];

export function toolCallDocument(service: string, r: ToolCallRecord, timestamp: number, namespace = METRICS_NAMESPACE): Record<string, unknown> {
  const metrics: EmfMetric[] = [
    { name: METRIC.toolCalls, unit: 'Count', value: 1 },
    // Zeros are published too, so Average reads as a rate and Sum/SampleCount divide cleanly.
    { name: METRIC.toolErrors, unit: 'Count', value: r.outcome === 'ok' ? 0 : 1 },
    { name: METRIC.upstreamErrors, unit: 'Count', value: r.upstreamError ? 1 : 0 },
    { name: METRIC.throttles, unit: 'Count', value: r.outcome === 'throttled' ? 1 : 0 },
    { name: METRIC.budgetRefusals, unit: 'Count', value: r.outcome === 'budget_refused' ? 1 : 0 },
    { name: METRIC.policyRefusals, unit: 'Count', value: r.outcome === 'policy_refused' ? 1 : 0 },
    { name: METRIC.latency, unit: 'Milliseconds', value: Math.round(r.latencyMs * 10) / 10 },
  ];
  if (r.tokens !== undefined) metrics.push({ name: METRIC.tokens, unit: 'Count', value: r.tokens });
  if (r.costUsd !== undefined) metrics.push({ name: METRIC.cost, unit: 'None', value: r.costUsd });
  return emfDocument({
    namespace,
    timestamp,
    dimensions: { [DIM_SERVICE]: service, [DIM_TOOL]: r.tool },
    dimensionSets: TOOL_DIMENSION_SETS,
    metrics,
    properties: { outcome: r.outcome, ...(r.requestId ? { request_id: r.requestId } : {}) },
  });
}

export function httpDocument(service: string, status: number, timestamp: number, namespace = METRICS_NAMESPACE): Record<string, unknown> {
  return emfDocument({
    namespace,
    timestamp,
    dimensions: { [DIM_SERVICE]: service },
    dimensionSets: [[DIM_SERVICE]],
    metrics: [
      { name: METRIC.httpRequests, unit: 'Count', value: 1 },
      { name: METRIC.http5xx, unit: 'Count', value: status >= 500 ? 1 : 0 },
    ],
    properties: { status },
  });
}

export function ledgerFailureDocument(service: string, timestamp: number, namespace = METRICS_NAMESPACE): Record<string, unknown> {
  return emfDocument({ namespace, timestamp, dimensions: { [DIM_SERVICE]: service }, dimensionSets: [[DIM_SERVICE]], metrics: [{ name: METRIC.ledgerWriteFailures, unit: 'Count', value: 1 }] });
}

export interface Metrics {
  toolCall(record: ToolCallRecord): void;
  httpResponse(status: number): void;
  /** A usage-ledger write failed; optional so a sink that only counts calls need not implement it. */
  ledgerWriteFailure?(): void;
}

export const NO_METRICS: Metrics = { toolCall: () => undefined, httpResponse: () => undefined, ledgerWriteFailure: () => undefined };

export interface EmfMetricsOptions {
  /** The `Service` dimension: the stack name, so two stacks in one account never mix. */
  service: string;
  namespace?: string;
  /** Where a finished line goes; stdout by default (the Lambda runtime ships stdout lines to CloudWatch Logs as they are). */
  write?: (line: string) => void;
  now?: () => number;
}

export function emfMetrics(options: EmfMetricsOptions): Metrics {
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const now = options.now ?? Date.now;
  const namespace = options.namespace ?? METRICS_NAMESPACE;
  return {
    toolCall: (r) => write(JSON.stringify(toolCallDocument(options.service, r, now(), namespace))),
    httpResponse: (status) => write(JSON.stringify(httpDocument(options.service, status, now(), namespace))),
    ledgerWriteFailure: () => write(JSON.stringify(ledgerFailureDocument(options.service, now(), namespace))),
  };
}
