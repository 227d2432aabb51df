/**
 * Per-user limits behind one small interface: a rate limit (tool calls per minute) and a concurrency limit
 * (generations in flight). Tools ask before any upstream call; a refusal becomes a tool error with Retry-After.
 * Implementations: `DynamoLimiter` (shared by every Lambda instance through the table), `MemoryLimiter`
 * (one process: `npm start`), and `NO_LIMITS`.
 */

export interface LimitSettings {
  /** Tool calls per user per minute; 0 turns the rate limit off. */
  ratePerMinute: number;
  /** Generations one user may have in flight at once; 0 turns the concurrency limit off. */
  maxConcurrent: number;
}

export interface AcquireOptions {
  /** Also take a concurrency slot, held until the permit is released (generations). */
  hold: boolean;
}

export interface Permit {
  readonly ok: true;
  /**
   * Gives the concurrency slot back (if one was taken). Safe to call more than once; never rejects. A caller may
   * leave it running (the result need not wait for it): the limiter tracks it until `settle()`.
   */
  release(): Promise<void>;
}

export interface Refusal {
  readonly ok: false;
  readonly limit: 'rate' | 'concurrency';
  /** The configured limit that was reached. */
  readonly max: number;
  readonly retryAfterSeconds: number;
}

export interface Limiter {
  /** Counts one call against the user's rate and, with `hold`, takes a concurrency slot. */
  acquire(userId: string, options: AcquireOptions): Promise<Permit | Refusal>;
  /**
   * Resolves once the store writes this limiter started in the background (releases left running by their
   * callers) have finished. A host whose process may freeze after a response (the Lambda) awaits it first.
   */
  settle(): Promise<void>;
}

const RELEASED: Permit = { ok: true, release: async () => undefined };

/** A permit with nothing to give back. */
export function freePermit(): Permit {
  return RELEASED;
}

/** Limits off: every call is allowed and nothing is stored. */
export const NO_LIMITS: Limiter = { acquire: async () => RELEASED, settle: async () => undefined };

export function limitsEnabled(settings: LimitSettings): boolean {
  return settings.ratePerMinute > 0 || settings.maxConcurrent > 0;
}

/** The text a refused caller (a user, or the model acting for them) reads: what happened, and when to retry. */
export function describeRefusal(refusal: Refusal): string {
  const wait = `Retry after ${refusal.retryAfterSeconds} second${refusal.retryAfterSeconds === 1 ? '' : 's'} (Retry-After: ${refusal.retryAfterSeconds}).`;
  if (refusal.limit === 'rate') {
    return `Rate limit reached: this server allows ${refusal.max} tool call${refusal.max === 1 ? '' : 's'} per minute per user, and this minute's are used up. ${wait} Nothing was sent to OpenRouter.`;
  }
  return `Too many generations at once: this server runs at most ${refusal.max} generation${refusal.max === 1 ? '' : 's'} per user at a time, and that many are still running. Wait for one to finish, then try again. ${wait} Nothing was sent to OpenRouter.`;
}
