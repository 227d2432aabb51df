/**
 * The one wrapper every tool runs inside: it times the call, logs one structured line, and turns failures
 * into `isError` results with actionable text. Stack traces and upstream bodies never reach the client.
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
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

export async function runTool<T extends Record<string, unknown>>(
  name: string,
  deps: ToolDeps,
  body: () => Promise<ToolOutcome<T>>,
  options: { needsKey?: boolean } = {},
): Promise<CallToolResult> {
  const started = performance.now();
  const log = deps.logger.child({ tool: name, user_id: deps.principal.userId, token_id: deps.principal.tokenId });
  if ((options.needsKey ?? true) && !deps.principal.openRouterKey) {
    log.info('tool call rejected', { outcome: 'no_key' });
    return errorResult('No OpenRouter API key is connected to this account yet. Connect one (sign in to the server\'s web page, or ask the operator to run `ormcp user set-key`), then try again.');
  }
  try {
    const outcome = await body();
    log.info('tool call', { outcome: outcome.isError ? 'tool_error' : 'ok', latency_ms: Math.round(performance.now() - started), ...outcome.log });
    return {
      content: outcome.text.map((text) => ({ type: 'text' as const, text })),
      structuredContent: outcome.structured,
      ...(outcome.isError ? { isError: true } : {}),
    };
  } catch (err) {
    const latency_ms = Math.round(performance.now() - started);
    if (err instanceof UpstreamError) {
      log.warn('tool call failed upstream', { outcome: 'upstream_error', upstream_status: err.status, error_kind: err.kind, latency_ms });
      return errorResult(describeUpstreamError(err));
    }
    if (err instanceof ToolInputError) {
      log.info('tool call rejected', { outcome: 'bad_input', latency_ms });
      // These messages quote the caller's input; anything shaped like a key is redacted all the same.
      return errorResult(scrub(err.message));
    }
    log.error('tool call crashed', { outcome: 'internal_error', error: err instanceof Error ? err.name : 'unknown', latency_ms });
    return errorResult('Internal error in the MCP server. The request was not completed; try again.');
  }
}

/** Input that passed the schema but cannot be served (for example an unknown model in a details lookup). */
export class ToolInputError extends Error {
  override readonly name = 'ToolInputError';
}

export function errorResult(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}
