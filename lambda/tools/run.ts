/**
 * The one wrapper every tool runs inside: it applies the per-user limits before anything reaches OpenRouter,
 * times the call, writes one structured log line and one metrics document, and turns failures into `isError`
 * results with actionable text. Stack traces and upstream bodies never reach the client.
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import { NO_LIMITS, describeRefusal } from '../limits/limiter.js';
import type { LogFields } from '../observability/logger.js';
import { NO_METRICS, type ToolOutcomeKind } from '../observability/metrics.js';
import { UpstreamError, describeUpstreamError, scrub } from '../openrouter/errors.js';
import type { ToolDeps } from './context.js';

export interface ToolOutcome<T extends Record<string, unknown>> {
  structured: T;
  /** Text blocks shown to the model/user; the first is the main answer. */
  text: string[];
  /** Mark the result as an error while still returning structured data (e.g. an empty generation). */
  isError?: boolean;
  /** Extra fields for the log line (model, tokens, cost). */
  log?: Record<string, unknown>;
}

export interface RunToolOptions {
  /** The tool calls OpenRouter on the user's key (default true). */
  needsKey?: boolean;
  /** Fields known before the call (e.g. the requested model, the JSON-RPC request id) for the log line. */
  context?: LogFields;
}

/**
 * The paid generations: each holds a concurrency slot while it runs (they keep a Lambda busy for seconds to
 * minutes; lookups are short and only counted by the rate limit), and only their cost is spend. (A
 * get_generation lookup also logs a cost, but that is a past generation's, already counted.)
 */
export const GENERATION_TOOLS: ReadonlySet<string> = new Set(['send_chat_completion_request', 'send_completion_request']);

export async function runTool<T extends Record<string, unknown>>(
  name: string,
  deps: ToolDeps,
  body: () => Promise<ToolOutcome<T>>,
  options: RunToolOptions = {},
): Promise<CallToolResult> {
  const started = performance.now();
  const generation = GENERATION_TOOLS.has(name);
  const upstreamBefore = deps.upstream?.calls ?? 0;
  const log = deps.logger.child({
    tool: name,
    user_id: deps.principal.userId,
    token_id: deps.principal.tokenId,
    ...(deps.requestId ? { request_id: deps.requestId } : {}),
    ...options.context,
  });

  /** The one log line and the one metrics document of this call. */
  const finish = (outcome: ToolOutcomeKind, fields: LogFields, extra: { upstreamError?: boolean; log?: Record<string, unknown> } = {}) => {
    const latencyMs = performance.now() - started;
    const calls = (deps.upstream?.calls ?? 0) - upstreamBefore;
    const usage = usageOf(extra.log);
    const line: LogFields = {
      outcome,
      latency_ms: Math.round(latencyMs),
      ...(deps.upstream ? { upstream_calls: calls } : {}),
      ...(calls > 0 && deps.upstream?.lastStatus !== undefined ? { upstream_status: deps.upstream.lastStatus } : {}),
      ...extra.log,
      ...(usage.tokens !== undefined ? { tokens: usage.tokens } : {}),
      ...fields,
    };
    const level = outcome === 'internal_error' ? 'error' : outcome === 'upstream_error' || outcome === 'throttled' ? 'warn' : 'info';
    log[level](messageFor(outcome), line);
    (deps.metrics ?? NO_METRICS).toolCall({
      tool: name,
      outcome,
      latencyMs,
      upstreamError: extra.upstreamError ?? false,
      ...(generation && usage.tokens !== undefined ? { tokens: usage.tokens } : {}),
      ...(generation && usage.cost !== undefined ? { costUsd: usage.cost } : {}),
      ...(deps.requestId ? { requestId: deps.requestId } : {}),
    });
  };

  if ((options.needsKey ?? true) && !deps.principal.openRouterKey) {
    finish('no_key', {});
    return errorResult('No OpenRouter API key is connected to this account yet. Connect one (sign in to the server\'s web page, or ask the operator to run `ormcp user set-key`), then try again.');
  }

  const permit = await (deps.limiter ?? NO_LIMITS).acquire(deps.principal.userId, { hold: generation });
  if (!permit.ok) {
    finish('throttled', { limit: permit.limit, limit_max: permit.max, retry_after_s: permit.retryAfterSeconds });
    return errorResult(describeRefusal(permit));
  }

  try {
    const outcome = await body();
    finish(outcome.isError ? 'tool_error' : 'ok', {}, outcome.log ? { log: outcome.log } : {});
    return {
      content: outcome.text.map((text) => ({ type: 'text' as const, text })),
      structuredContent: outcome.structured,
      ...(outcome.isError ? { isError: true } : {}),
    };
  } catch (err) {
    if (err instanceof UpstreamError) {
      finish('upstream_error', { upstream_status: err.status, error_kind: err.kind }, { upstreamError: isUpstreamFault(err) });
      return errorResult(describeUpstreamError(err));
    }
    if (err instanceof ToolInputError) {
      finish('bad_input', {});
      // These messages quote the caller's input; anything shaped like a key is redacted all the same.
      return errorResult(scrub(err.message));
    }
    finish('internal_error', { error: err instanceof Error ? err.name : 'unknown' });
    return errorResult('Internal error in the MCP server. The request was not completed; try again.');
  } finally {
    // Not awaited: giving the slot back is no reason to hold the result. The limiter tracks the release — its next
    // take for this user waits for it, and a host that may freeze after the response (the Lambda) awaits
    // `limiter.settle()` once the response has been sent.
    void permit.release();
  }
}

function messageFor(outcome: ToolOutcomeKind): string {
  switch (outcome) {
    case 'ok':
    case 'tool_error':
      return 'tool call';
    case 'upstream_error':
      return 'tool call failed upstream';
    case 'throttled':
      return 'tool call refused by a per-user limit';
    case 'internal_error':
      return 'tool call crashed';
    default:
      return 'tool call rejected';
  }
}

/**
 * Whether OpenRouter's side failed — what an operator's alarm should count. A 4xx about the user's own key,
 * credit, input or OpenRouter rate limit (400, 401, 402, 403, 404, 429) is the user's to fix, not an outage.
 */
export function isUpstreamFault(err: UpstreamError): boolean {
  return err.kind !== 'http' || err.status >= 500 || err.status === 408;
}

/** Total tokens and cost from a generation's log fields, when present and numeric. */
function usageOf(fields: Record<string, unknown> | undefined): { tokens?: number; cost?: number } {
  if (!fields) return {};
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const prompt = num(fields.prompt_tokens);
  const completion = num(fields.completion_tokens);
  const cost = num(fields.cost);
  return {
    ...(prompt !== undefined || completion !== undefined ? { tokens: (prompt ?? 0) + (completion ?? 0) } : {}),
    ...(cost !== undefined ? { cost } : {}),
  };
}

/** Input that passed the schema but cannot be served (for example an unknown model in a details lookup). */
export class ToolInputError extends Error {
  override readonly name = 'ToolInputError';
}

export function errorResult(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}
