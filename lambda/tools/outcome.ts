/**
 * What one tool run produces, and what the server reports about it once it ends: the typed usage of a paid call
 * (what metrics count as spend, and what a usage record would store) and the one summary an observer receives.
 */
import type { Refusal } from '../limits/limiter.js';
import type { ToolOutcomeKind } from '../observability/metrics.js';

/** What a generation consumed, as far as its result says; anything unknown is left out. */
export interface ToolUsage {
  /** The model and provider that served (which may differ from the requested one with fallbacks). */
  model?: string;
  provider?: string;
  /** OpenRouter's generation id, for get_generation's final billed figures. */
  generationId?: string;
  promptTokens?: number;
  completionTokens?: number;
  reasoningTokens?: number;
  cachedTokens?: number;
  /** Dollars, as OpenRouter reported them with the answer. */
  costUsd?: number;
}

export interface ToolOutcome<T extends Record<string, unknown>> {
  structured: T;
  /** Text blocks shown to the model/user; the first is the main answer. */
  text: string[];
  /** MCP image blocks, after the text blocks (base64 without the data: prefix). */
  images?: { data: string; mimeType: string }[];
  /** Mark the result as an error while still returning structured data (e.g. an empty generation). */
  isError?: boolean;
  /** Extra fields for the log line only; nothing else reads them. */
  log?: Record<string, unknown>;
  /**
   * What this call consumed; only paid tools report it (a get_generation lookup reports a past generation's
   * cost, already counted when it ran, so that one stays in its log line).
   */
  usage?: ToolUsage;
}

/** Why a call was refused before its tool ran. */
export type ToolRefusalReason = 'no_key' | Refusal['limit'] | 'budget' | 'policy';

/** One finished tool call, as the server saw it: what a usage record or an audit trail is built from. */
export interface ToolCallEvent {
  tool: string;
  paid: boolean;
  outcome: ToolOutcomeKind;
  /** Empty unless the tool ran and reported usage. */
  usage: ToolUsage;
  latencyMs: number;
  /** OpenRouter's side failed (see isUpstreamFault), as opposed to the user's key, credit or input. */
  upstreamError: boolean;
  /** The HTTP status of an upstream failure, when there was one. */
  upstreamStatus?: number;
  userId: string;
  /** Public id of the credential used (safe to store). */
  tokenId: string;
  requestId?: string;
  /** Set when the call was refused before it ran (outcome `no_key`, `throttled`, `budget_refused`, `policy_refused`). */
  refusal?: ToolRefusalReason;
}

/**
 * Told once about every tool call, after the result is decided and before it is returned. It must not throw and
 * must not block: work that needs I/O is the observer's to schedule; a throw or a rejected promise is logged and
 * never changes the caller's result.
 */
export interface ToolCallObserver {
  onToolCall(event: ToolCallEvent): void;
}

/** Prompt + completion tokens, when either is known. */
export function totalTokens(usage: ToolUsage): number | undefined {
  if (usage.promptTokens === undefined && usage.completionTokens === undefined) return undefined;
  return (usage.promptTokens ?? 0) + (usage.completionTokens ?? 0);
}

/** What a paid call sends upstream (ToolPolicy.upstream): a token-priced generation, or an image request. */
export type UpstreamRequestKind = 'generation' | 'image';
