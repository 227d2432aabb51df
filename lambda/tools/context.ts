/** What every tool handler gets: the caller, an OpenRouter client on the caller's key, and shared caches. */
import type { Principal } from '../auth/authenticator.js';
import type { CatalogCache } from '../catalog/catalog.js';
import type { ImageStore } from '../images/image-store.js';
import type { Limiter } from '../limits/limiter.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { UpstreamTrace } from '../observability/request-context.js';
import type { OpenRouterClient } from '../openrouter/client.js';
import type { ConversationStore } from '../store/conversation-store.js';
import type { TeamControl } from '../team/guard.js';
import type { ToolCallObserver } from './outcome.js';

export interface ToolDeps {
  principal: Principal;
  openRouter: OpenRouterClient;
  catalog: CatalogCache;
  logger: Logger;
  /** Minimum gap between two progress notifications while streaming. */
  progressIntervalMs: number;
  /** Per-user limits, checked before any upstream call (none when absent). */
  limiter?: Limiter | undefined;
  /** Where each tool call's metrics go (none when absent). */
  metrics?: Metrics | undefined;
  /** Correlation id of the HTTP request, for the log line. */
  requestId?: string | undefined;
  /** Counts the upstream calls `openRouter` makes for this request. */
  upstream?: UpstreamTrace | undefined;
  /** Where generated images are kept for their links (none: images come back inline only, with a notice). */
  images?: ImageStore | undefined;
  /** Told once about every finished tool call (e.g. to keep a usage record); none when absent. */
  observer?: ToolCallObserver | undefined;
  /** Team control (defaults, policy, budget, usage ledger) around paid calls; none when absent. */
  team?: TeamControl | undefined;
  /** Where conversations that continue are kept; absent when the operator turned storage off. */
  conversations?: ConversationStore | undefined;
}

/** Tool annotations: lookups only read; generations spend the user's credit and are not idempotent. */
export const READ_ONLY = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true } as const;
export const PAID_CALL = { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true } as const;
