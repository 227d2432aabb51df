/** The pure limit arithmetic (windows, leases, Retry-After), the refusal text, and the single-process limiter. */
import { MemoryLimiter } from '../../lambda/limits/memory-limiter.js';
import { NO_LIMITS, describeRefusal, limitsEnabled, type Permit, type Refusal } from '../../lambda/limits/limiter.js';
import {
  CONCURRENCY_RETRY_AFTER_SECONDS,
  ITEM_GRACE_SECONDS,
  RATE_WINDOW_MS,
  itemTtl,
  leaseAttribute,
  rateAttribute,
  rateWindow,
  renewEveryMs,
  retryAfterSeconds,
  scanLeases,
  staleRateCounters,
} from '../../lambda/limits/math.js';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');

describe('rate windows', () => {
  test('a window is the minute the time falls into, start inclusive, end exclusive', () => {
    expect(rateWindow(T0)).toEqual({ startMs: T0, endMs: T0 + RATE_WINDOW_MS });
    expect(rateWindow(T0 + 59_999)).toEqual({ startMs: T0, endMs: T0 + RATE_WINDOW_MS });
    expect(rateWindow(T0 + 60_000).startMs).toBe(T0 + 60_000);
    expect(rateWindow(T0 + 1234, 1000)).toEqual({ startMs: T0 + 1000, endMs: T0 + 2000 });
  });

  test('Retry-After rounds up to whole seconds and is never 0', () => {
    expect(retryAfterSeconds(T0, T0 + 60_000)).toBe(60);
    expect(retryAfterSeconds(T0 + 59_001, T0 + 60_000)).toBe(1);
    expect(retryAfterSeconds(T0 + 58_999, T0 + 60_000)).toBe(2);
    expect(retryAfterSeconds(T0 + 60_000, T0 + 60_000)).toBe(1);
    expect(retryAfterSeconds(T0 + 70_000, T0 + 60_000)).toBe(1);
  });

  test('counters are named by their window; those older than the previous window are stale, nothing else is', () => {
    expect(rateAttribute(T0)).toBe(`r_${T0}`);
    const item = {
      pk: 'LIMIT#u',
      w: T0 - 180_000,
      [rateAttribute(T0)]: 1,
      [rateAttribute(T0 - 60_000)]: 2,
      [rateAttribute(T0 - 120_000)]: 3,
      [rateAttribute(T0 - 180_000)]: 4,
      r_garbage: 5,
      [leaseAttribute('aa')]: T0,
    };
    expect(staleRateCounters(item, T0).sort()).toEqual([rateAttribute(T0 - 120_000), rateAttribute(T0 - 180_000), 'r_garbage'].sort());
    expect(staleRateCounters({ [rateAttribute(T0)]: 1 }, T0)).toEqual([]);
  });

  test('items outlive their last use by the grace period (TTL in epoch seconds)', () => {
    expect(itemTtl(T0 + 60_000)).toBe((T0 + 60_000) / 1000 + ITEM_GRACE_SECONDS);
    expect(itemTtl(T0 + 1)).toBe(T0 / 1000 + 1 + ITEM_GRACE_SECONDS);
  });
});

describe('leases', () => {
  test('renewal every third of the lease', () => {
    expect(renewEveryMs(60_000)).toBe(20_000);
    expect(renewEveryMs(2)).toBe(1);
  });

  test('scan splits lease attributes into live and lapsed, ignores the rest, treats garbage as lapsed', () => {
    const item = {
      pk: 'LIMIT#u',
      sk: 'STATE',
      c: 4,
      w: T0,
      [rateAttribute(T0)]: 3,
      ttl: 1,
      [leaseAttribute('aa')]: T0 + 1,
      [leaseAttribute('bb')]: T0,
      [leaseAttribute('cc')]: T0 - 5,
      [leaseAttribute('dd')]: 'not a number',
    };
    const scan = scanLeases(item, T0);
    expect(scan.live).toEqual(['l_aa']);
    expect(scan.expired).toEqual([
      { name: 'l_bb', expiresAtMs: T0 },
      { name: 'l_cc', expiresAtMs: T0 - 5 },
      { name: 'l_dd', expiresAtMs: 0 },
    ]);
    expect(scanLeases({}, T0)).toEqual({ live: [], expired: [] });
  });
});

describe('refusal text', () => {
  test('rate: names the limit and the Retry-After seconds', () => {
    const text = describeRefusal({ ok: false, limit: 'rate', max: 60, retryAfterSeconds: 23 });
    expect(text).toMatch(/60 tool calls per minute per user/);
    expect(text).toMatch(/Retry after 23 seconds \(Retry-After: 23\)/);
    expect(text).toMatch(/Nothing was sent to OpenRouter/);
  });

  test('concurrency: says to wait for a running generation, singular when 1', () => {
    const text = describeRefusal({ ok: false, limit: 'concurrency', max: 1, retryAfterSeconds: 1 });
    expect(text).toMatch(/at most 1 generation per user/);
    expect(text).toMatch(/Wait for one to finish/);
    expect(text).toMatch(/Retry after 1 second \(Retry-After: 1\)/);
  });

  test('limits are on when either is non-zero', () => {
    expect(limitsEnabled({ ratePerMinute: 0, maxConcurrent: 0 })).toBe(false);
    expect(limitsEnabled({ ratePerMinute: 1, maxConcurrent: 0 })).toBe(true);
    expect(limitsEnabled({ ratePerMinute: 0, maxConcurrent: 1 })).toBe(true);
  });
});

describe('NO_LIMITS', () => {
  test('allows everything', async () => {
    for (let i = 0; i < 5; i++) {
      const p = await NO_LIMITS.acquire('u', { hold: true });
      expect(p.ok).toBe(true);
      await (p as Permit).release();
    }
  });
});

describe('MemoryLimiter (one process)', () => {
  test('rate: max calls per window per user, then Retry-After to the window end; the next window starts fresh', async () => {
    let now = T0 + 45_000;
    const limiter = new MemoryLimiter({ ratePerMinute: 3, maxConcurrent: 0 }, () => now);
    for (let i = 0; i < 3; i++) expect((await limiter.acquire('alice', { hold: false })).ok).toBe(true);
    const refused = (await limiter.acquire('alice', { hold: false })) as Refusal;
    expect(refused).toEqual({ ok: false, limit: 'rate', max: 3, retryAfterSeconds: 15 });
    // Another user has their own budget.
    expect((await limiter.acquire('bob', { hold: false })).ok).toBe(true);
    now = T0 + 60_000;
    expect((await limiter.acquire('alice', { hold: false })).ok).toBe(true);
  });

  test('concurrency: max held permits per user; release frees one slot, twice frees it once', async () => {
    const limiter = new MemoryLimiter({ ratePerMinute: 0, maxConcurrent: 2 }, () => T0);
    const a = (await limiter.acquire('alice', { hold: true })) as Permit;
    const b = (await limiter.acquire('alice', { hold: true })) as Permit;
    expect(await limiter.acquire('alice', { hold: true })).toEqual({ ok: false, limit: 'concurrency', max: 2, retryAfterSeconds: CONCURRENCY_RETRY_AFTER_SECONDS });
    // Calls that do not hold a slot (lookups) are not limited by concurrency.
    expect((await limiter.acquire('alice', { hold: false })).ok).toBe(true);
    expect((await limiter.acquire('bob', { hold: true })).ok).toBe(true);
    await a.release();
    await a.release();
    const c = (await limiter.acquire('alice', { hold: true })) as Permit;
    expect(c.ok).toBe(true);
    expect((await limiter.acquire('alice', { hold: true })).ok).toBe(false);
    await b.release();
    await c.release();
  });

  test('both limits at once: a call refused by one is not counted by the other', async () => {
    const limiter = new MemoryLimiter({ ratePerMinute: 2, maxConcurrent: 1 }, () => T0);
    const a = (await limiter.acquire('alice', { hold: true })) as Permit;
    expect(((await limiter.acquire('alice', { hold: true })) as Refusal).limit).toBe('concurrency');
    // The refused generation did not use up the minute: one call is left.
    expect((await limiter.acquire('alice', { hold: false })).ok).toBe(true);
    await a.release();
    // A rate refusal takes no slot either.
    expect(((await limiter.acquire('alice', { hold: true })) as Refusal).limit).toBe('rate');
    await limiter.settle();
  });
});
