/** What every tool handler gets: the caller, an OpenRouter client on the caller's key, and shared caches. */
import type { Principal } from '../auth/authenticator.js';
import type { CatalogCache } from '../catalog/catalog.js';
import type { Logger } from '../observability/logger.js';
import type { OpenRouterClient } from '../openrouter/client.js';

export interface ToolDeps {
  principal: Principal;
  openRouter: OpenRouterClient;
  catalog: CatalogCache;
  logger: Logger;
  /** Minimum gap between two progress notifications while streaming. */
  progressIntervalMs: number;
}

/** Tool annotations: lookups only read; generations spend the user's credit and are not idempotent. */
export const READ_ONLY = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true } as const;
export const PAID_CALL = { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true } as const;
