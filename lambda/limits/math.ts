/**
 * The pure arithmetic of the per-user limits: fixed rate windows, concurrency leases and Retry-After.
 * No I/O and no clock of its own (every function takes `nowMs`), so the DynamoDB and in-memory limiters
 * agree by construction and the unit tests need no fake timers.
 */

/** The rate limit is counted per minute (`ORMCP_RATE_LIMIT_PER_MINUTE`). */
export const RATE_WINDOW_MS = 60_000;

/**
 * A concurrency lease lives this long unless its holder renews it. The holder renews every third of it, so a
 * live call never loses its slot to one missed write, and a slot whose Lambda died mid-call (crash, OOM, timeout)
 * is free again at most this long after the last renewal.
 */
export const LEASE_MS = 60_000;

/**
 * Retry-After for a concurrency refusal. How long the caller's other calls still run is unknowable (a generation
 * takes seconds to minutes), so this is a polite first back-off rather than a promise.
 */
export const CONCURRENCY_RETRY_AFTER_SECONDS = 5;

/** Limit items outlive their use by this much before DynamoDB's TTL may delete them (TTL is lazy anyway). */
export const ITEM_GRACE_SECONDS = 3600;

/** The prefix of a lease attribute on a user's limits item (`l_<lease id>` → expiry, epoch ms). */
export const LEASE_PREFIX = 'l_';

/** The prefix of a rate counter on a user's limits item (`r_<window start, epoch ms>` → calls counted in it). */
export const RATE_PREFIX = 'r_';

export interface RateWindow {
  /** Epoch ms of the window's first millisecond; also its id. */
  startMs: number;
  /** Epoch ms of the next window's start. */
  endMs: number;
}

/** The fixed window `nowMs` falls into. */
export function rateWindow(nowMs: number, windowMs: number = RATE_WINDOW_MS): RateWindow {
  const startMs = Math.floor(nowMs / windowMs) * windowMs;
  return { startMs, endMs: startMs + windowMs };
}

/** Whole seconds until `untilMs`, at least 1: a Retry-After of 0 would invite an immediate, equally refused retry. */
export function retryAfterSeconds(nowMs: number, untilMs: number): number {
  return Math.max(1, Math.ceil((untilMs - nowMs) / 1000));
}

/** A DynamoDB TTL (epoch seconds) for an item last needed at `lastNeededMs`. */
export function itemTtl(lastNeededMs: number): number {
  return Math.ceil(lastNeededMs / 1000) + ITEM_GRACE_SECONDS;
}

/** How often a lease holder renews: a third of the lease, so two renewals may fail before the lease lapses. */
export function renewEveryMs(leaseMs: number): number {
  return Math.max(1, Math.floor(leaseMs / 3));
}

export interface LeaseScan {
  /** Attribute names of leases still running. */
  live: string[];
  /** Lapsed leases: attribute name and the expiry seen, so a reclaim can be conditional on that exact value. */
  expired: { name: string; expiresAtMs: number }[];
}

/** Splits the lease attributes of a limits item into live and lapsed ones; other attributes are ignored. */
export function scanLeases(item: Record<string, unknown>, nowMs: number): LeaseScan {
  const scan: LeaseScan = { live: [], expired: [] };
  for (const [name, value] of Object.entries(item)) {
    if (!name.startsWith(LEASE_PREFIX)) continue;
    // A malformed value can never be renewed into a valid lease: treat it as lapsed so it is cleaned up.
    const expiresAtMs = typeof value === 'number' && Number.isFinite(value) ? value : 0;
    if (expiresAtMs > nowMs) scan.live.push(name);
    else scan.expired.push({ name, expiresAtMs });
  }
  return scan;
}

/** The attribute name of a lease. Ids are random hex, so the name is always a valid DynamoDB attribute name. */
export function leaseAttribute(leaseId: string): string {
  return `${LEASE_PREFIX}${leaseId}`;
}

/**
 * The attribute counting the calls of the window starting at `windowStartMs`. Named by its window, so a new
 * window's counter starts from nothing in the same write that counts its first call (no read, no reset).
 */
export function rateAttribute(windowStartMs: number): string {
  return `${RATE_PREFIX}${windowStartMs}`;
}

/**
 * Rate counters of windows before `windowStartMs`'s predecessor: left behind when a user was idle for more than a
 * window (each write removes only the previous window's counter), so a later write can clear them off the
 * critical path. Other attributes are ignored.
 */
export function staleRateCounters(item: Record<string, unknown>, windowStartMs: number, windowMs: number = RATE_WINDOW_MS): string[] {
  return Object.keys(item).filter((name) => {
    if (!name.startsWith(RATE_PREFIX)) return false;
    const start = Number(name.slice(RATE_PREFIX.length));
    return !(start >= windowStartMs - windowMs);
  });
}
