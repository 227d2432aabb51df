/**
 * The one wrapper every tool runs inside: it applies the per-user limits before anything reaches OpenRouter,
 * times the call, writes one structured log line and one metrics document, tells the observer, and turns
 * failures into `isError` results with actionable text. Stack traces and upstream bodies never reach the client.
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import { NO_LIMITS, describeRefusal } from '../limits/limiter.js';
import { errorName } from '../observability/error-name.js';
import type { LogFields, Logger } from '../observability/logger.js';
import { NO_METRICS, type ToolOutcomeKind } from '../observability/metrics.js';
import { UpstreamError, describeUpstreamError, scrub } from '../openrouter/errors.js';
import { refusalOutcome, type TeamCall } from '../team/guard.js';
import type { ToolDeps } from './context.js';
import { totalTokens, type ToolCallEvent, type ToolCallObserver, type ToolOutcome, type ToolRefusalReason, type ToolUsage } from './outcome.js';
import type { ToolPolicy } from './tool.js';

export interface RunToolOptions {
  /** Fields known before the call (e.g. the requested model, the JSON-RPC request id) for the log line. */
  context?: LogFields | undefined;
  /** The call's arguments: team control may rewrite them (defaults, forced provider fields, clamped max_tokens). */
  args?: Record<string, unknown> | undefined;
  /** Completes the arguments before team control judges them (see Tool.prepare); its errors are the caller's. */
  prepare?: ((args: Record<string, unknown>) => Promise<{ args: Record<string, unknown>; carry?: unknown }>) | undefined;
}

/** How one call ended, as the finish step records it. */
interface Finish {
  /** Fields for the log line only (the tool's own, then the error's). */
  log?: Record<string, unknown> | undefined;
  usage?: ToolUsage | undefined;
  upstreamError?: boolean;
  refusal?: ToolRefusalReason;
  upstreamStatus?: number;
}

/** One guarded call as its caller sees it: the result, how it ended, and what the body produced if it ran. */
export interface CallRun<T extends Record<string, unknown>> {
  result: CallToolResult;
  outcome: ToolOutcomeKind;
  /** Set when the call was refused before anything was sent (no key, a per-user limit, policy, budget). */
  refusal?: ToolRefusalReason;
  /** What the body returned, when it ran and did not throw. */
  value?: ToolOutcome<T>;
}

export async function runTool<T extends Record<string, unknown>>(
  tool: ToolPolicy,
  deps: ToolDeps,
  body: (args: Record<string, unknown>, carry?: unknown) => Promise<ToolOutcome<T>>,
  options: RunToolOptions = {},
): Promise<CallToolResult> {
  return (await runCall(tool, deps, body, options)).result;
}

/**
 * runTool for a caller that needs more than the MCP result: a tool that runs several generations inside one call
 * (compare_models) runs each through here, so each gets what a single paid call gets — its own limits check and
 * concurrency slot, team control (policy, budget, reservation), log line, metrics, observer event and ledger record.
 */
export async function runCall<T extends Record<string, unknown>>(
  tool: ToolPolicy,
  deps: ToolDeps,
  body: (args: Record<string, unknown>, carry?: unknown) => Promise<ToolOutcome<T>>,
  options: RunToolOptions = {},
): Promise<CallRun<T>> {
  const started = performance.now();
  let ended: { outcome: ToolOutcomeKind; refusal?: ToolRefusalReason } = { outcome: 'internal_error' };
  let value: ToolOutcome<T> | undefined;
  /** The call's result with how finish() saw it end (finish runs exactly once before every return). */
  const done = (result: CallToolResult): CallRun<T> => ({ result, ...ended, ...(value ? { value } : {}) });
  const upstreamBefore = deps.upstream?.calls ?? 0;
  const log = deps.logger.child({
    tool: tool.name,
    user_id: deps.principal.userId,
    token_id: deps.principal.tokenId,
    ...(deps.requestId ? { request_id: deps.requestId } : {}),
    ...options.context,
  });

  /**
   * The one place a call ends: one log line, one metrics document, one observer event. Called exactly once per
   * call, whatever the outcome.
   */
  const finish = (outcome: ToolOutcomeKind, end: Finish = {}) => {
    ended = { outcome, ...(end.refusal ? { refusal: end.refusal } : {}) };
    const latencyMs = performance.now() - started;
    const calls = (deps.upstream?.calls ?? 0) - upstreamBefore;
    const usage = end.usage ?? {};
    const tokens = totalTokens(usage);
    const line: LogFields = {
      outcome,
      latency_ms: Math.round(latencyMs),
      ...(deps.upstream ? { upstream_calls: calls } : {}),
      ...(calls > 0 && deps.upstream?.lastStatus !== undefined ? { upstream_status: deps.upstream.lastStatus } : {}),
      ...end.log,
      ...(tokens !== undefined ? { tokens } : {}),
    };
    const level = outcome === 'internal_error' ? 'error' : outcome === 'upstream_error' || outcome === 'throttled' ? 'warn' : 'info';
    log[level](messageFor(outcome), line);
    const upstreamError = end.upstreamError ?? false;
    const event: ToolCallEvent = {
      tool: tool.name,
      paid: tool.paid,
      outcome,
      usage,
      latencyMs,
      upstreamError,
      userId: deps.principal.userId,
      tokenId: deps.principal.tokenId,
      ...(deps.requestId ? { requestId: deps.requestId } : {}),
      ...(end.refusal ? { refusal: end.refusal } : {}),
      ...(end.upstreamStatus !== undefined ? { upstreamStatus: end.upstreamStatus } : {}),
    };
    // Not awaited: the ledger record is no reason to hold the result. TeamControl tracks it, and a host that may
    // freeze after the response (the Lambda) awaits `team.settle()` once the response has been sent.
    if (tool.paid && deps.team) void (team ?? deps.team.begin(deps.principal, tool.name, options.args, tool.upstream)).record(event);
    // Only a paid call's usage is spend (see ToolPolicy.paid).
    (deps.metrics ?? NO_METRICS).toolCall({
      tool: tool.name,
      outcome,
      latencyMs,
      upstreamError,
      ...(tool.paid && tokens !== undefined ? { tokens } : {}),
      ...(tool.paid && usage.costUsd !== undefined ? { costUsd: usage.costUsd } : {}),
      ...(deps.requestId ? { requestId: deps.requestId } : {}),
    });
    if (deps.observer) notify(deps.observer, log, event);
  };
  let team: TeamCall | undefined;

  if (tool.needsKey && !deps.principal.openRouterKey) {
    finish('no_key', { refusal: 'no_key' });
    return done(errorResult('No OpenRouter API key is connected to this account yet. Connect one (sign in to the server\'s web page, or ask the operator to run `ormcp user set-key`), then try again.'));
  }

  // The usage read (one BatchGet) runs beside the limits check.
  team = tool.paid ? deps.team?.begin(deps.principal, tool.name, options.args, tool.upstream) : undefined;
  void team?.readUsage();
  const permit = await (deps.limiter ?? NO_LIMITS).acquire(deps.principal.userId, { hold: tool.paid });
  if (!permit.ok) {
    finish('throttled', { log: { limit: permit.limit, limit_max: permit.max, retry_after_s: permit.retryAfterSeconds }, refusal: permit.limit });
    return done(errorResult(describeRefusal(permit)));
  }

  try {
    let args = options.args ?? {};
    let carry: unknown;
    if (options.prepare) ({ args, carry } = await options.prepare(args));
    if (team) {
      const admission = await team.admit(args, () => deps.catalog.get(() => deps.openRouter.models()));
      if (!admission.ok) {
        finish(refusalOutcome(admission), { log: { refusal: admission.reason }, refusal: admission.kind });
        return done(errorResult(admission.message));
      }
      args = admission.args;
    }
    const outcome = (value = await body(args, carry));
    finish(outcome.isError ? 'tool_error' : 'ok', { log: outcome.log, usage: outcome.usage });
    return done({
      content: [...outcome.text.map((text) => ({ type: 'text' as const, text })), ...(outcome.images ?? []).map((image) => ({ type: 'image' as const, ...image }))],
      structuredContent: outcome.structured,
      ...(outcome.isError ? { isError: true } : {}),
    });
  } catch (err) {
    if (err instanceof UpstreamError) {
      finish('upstream_error', { log: { upstream_status: err.status, error_kind: err.kind }, upstreamError: isUpstreamFault(err), ...(err.status ? { upstreamStatus: err.status } : {}) });
      return done(errorResult(describeUpstreamError(err)));
    }
    if (err instanceof ToolInputError) {
      finish('bad_input');
      // These messages quote the caller's input; anything shaped like a key is redacted all the same.
      return done(errorResult(scrub(err.message)));
    }
    finish('internal_error', { log: { error: errorName(err) } });
    return done(errorResult('Internal error in the MCP server. The request was not completed; try again.'));
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
    case 'budget_refused':
      return 'tool call refused by the budget';
    case 'policy_refused':
      return 'tool call refused by the operator policy';
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

/** Tells the observer; its failure is logged and never reaches the caller. */
function notify(observer: ToolCallObserver, log: Logger, event: ToolCallEvent): void {
  const failed = (err: unknown) => log.warn('tool call observer failed', { error: errorName(err) });
  try {
    // Typed as returning nothing, but an async observer may still hand back a promise: never leave it unhandled.
    const result: unknown = observer.onToolCall(event);
    if (result instanceof Promise) result.catch(failed);
  } catch (err) {
    failed(err);
  }
}

/** Input that passed the schema but cannot be served (for example an unknown model in a details lookup). */
export class ToolInputError extends Error {
  override readonly name = 'ToolInputError';
}

export function errorResult(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}
