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
