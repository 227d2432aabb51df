/**
 * Per-user limits that hold across Lambda instances, kept in the app's one DynamoDB table on ONE item per user
 * (`LIMIT#<user>` / `STATE`) with single-item conditional writes (atomic in DynamoDB; no transactions, which
 * dynalite lacks). A call pays one write before it runs; a generation's release is a second write that its caller
 * does not wait for.
 *
 * The item:
 * - `r_<window start>`: calls counted in that fixed one-minute window. Named by its window, so the first call of
 *   a new minute counts from nothing in the same write — `SET r_W = if_not_exists(r_W, 0) + 1` — and that write
 *   also REMOVEs the previous minute's counter. `w` is the window of the last write: when a user was idle for
 *   longer, its old value names the counter left behind, which is then removed in the background (never needed
 *   for correct counts, only to keep the item small). The price of a fixed window is that a burst straddling a
 *   boundary may see up to 2 × max calls in a short span (and an instance whose clock is a little ahead may clear
 *   the minute others still count in, which is the same kind of boundary slack).
 * - `l_<random id>` = expiry (epoch ms), one lease per running generation, and their count `c` (a condition cannot
 *   count attributes, so every write that adds or removes a lease moves `c` with it, in the same item). Leases
 *   expire so a Lambda killed mid-call (crash, OOM, timeout) cannot hold a slot forever: the holder renews its
 *   lease every LEASE_MS / 3.
 *
 * Acquire is one UpdateItem: count the call, take the lease (generations), on condition
 * `(attribute_not_exists(r_W) OR r_W < :rate) AND (attribute_not_exists(c) OR c < :slots)`. Both limits are
 * checked and both changes made in one atomic step, so instances racing on the same user can never let more
 * through than either limit allows, and a call one limit refuses leaves nothing behind for the other. When the
 * condition fails the limiter reads the item (consistently) to say which limit refused and when to retry; if the
 * slots are full only of lapsed leases it retries once with those leases removed in the same write — conditional
 * on the exact expiries it read, so a lease renewed meanwhile survives, and on `c < slots + removed`.
 *
 * Release: `REMOVE l_x ADD c -1` on `attribute_exists(l_x)` (a second release, or one after a reclaim, changes
 * nothing). It runs in the background (see `settle()`), and an acquire for the same user on this instance first
 * waits for that user's releases still in flight, so a client calling one generation after another never trips
 * over its own previous slot.
 *
 * Failure policy: the limits protect the service, they are not an authorization check, so when the table cannot
 * be reached in time the call is allowed (fail open) and the error is logged. Authentication needs the same table
 * anyway, so a dead table mostly refuses requests before they get here.
 *
 * Migration: the items of the earlier layout (`LIMIT#<user>` / `RATE#<window>` and `/ CONCURRENCY`) are no longer
 * read or written; their TTL deletes them.
 */
import { randomBytes } from 'node:crypto';
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import type { Logger } from '../observability/logger.js';
import { errorName } from '../observability/error-name.js';
import { silentLogger } from '../observability/logger.js';
import { keys } from '../store/schema.js';
import { freePermit, type AcquireOptions, type LimitSettings, type Limiter, type Permit, type Refusal } from './limiter.js';
import {
  CONCURRENCY_RETRY_AFTER_SECONDS,
  LEASE_MS,
  RATE_WINDOW_MS,
  itemTtl,
  leaseAttribute,
  rateAttribute,
  rateWindow,
  renewEveryMs,
  retryAfterSeconds,
  scanLeases,
  staleRateCounters,
  type RateWindow,
} from './math.js';

export interface DynamoLimiterOptions extends LimitSettings {
  client: DynamoDBDocumentClient;
  tableName: string;
  logger?: Logger;
  /** Clock (epoch ms); tests move it to expire leases and windows. */
  now?: () => number;
  leaseMs?: number;
  /** Budget for one acquire, all its steps together: past it the call is allowed (fail open) rather than held up. */
  timeoutMs?: number;
  /** Runs `task` every `everyMs` until the returned function is called (lease renewal); tests drive it by hand. */
  schedule?: (task: () => void, everyMs: number) => () => void;
}

function everyInterval(task: () => void, everyMs: number): () => void {
  const timer = setInterval(task, everyMs);
  // A renewal must never keep a process (a test, a CLI) alive on its own.
  timer.unref();
  return () => clearInterval(timer);
}

/** DynamoDB answers in single-digit ms; this only bounds how long a sick table can hold a call up. */
const DEFAULT_TIMEOUT_MS = 2_000;
/** Writes after the first, when a refusal's read shows room after all (a release or reclaim raced it). */
const MAX_RETRIES = 2;
/** Lapsed leases removed per write: far below DynamoDB's expression limits however many lapsed. */
const RECLAIM_BATCH = 50;

/** What one acquire asks of the item. */
interface Ask {
  userId: string;
  now: number;
  window: RateWindow;
  /** Rate limit to check and count against; undefined when the rate limit is off. */
  rate: number | undefined;
  /** Concurrency limit to take a slot under; undefined for a lookup or when the limit is off. */
  slots: number | undefined;
  leaseId: string;
}

/** Lapsed leases to remove in the same write as a take: attribute name → the expiry read. */
type Lapsed = { name: string; expiresAtMs: number }[];

type Verdict = Refusal | { ok: 'retry'; lapsed: Lapsed };

export class DynamoLimiter implements Limiter {
  private readonly db: DynamoDBDocumentClient;
  private readonly table: string;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly leaseMs: number;
  private readonly timeoutMs: number;
  private readonly schedule: NonNullable<DynamoLimiterOptions['schedule']>;
  /** Writes left running after their caller moved on (releases, counter clean-ups), until they settle. */
  private readonly pending = new Set<Promise<void>>();
  /** The releases among them, by user: that user's next take on this instance waits for them. */
  private readonly releasing = new Map<string, Set<Promise<void>>>();

  constructor(private readonly options: DynamoLimiterOptions) {
    this.db = options.client;
    this.table = options.tableName;
    this.log = options.logger ?? silentLogger;
    this.now = options.now ?? Date.now;
    this.leaseMs = options.leaseMs ?? LEASE_MS;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.schedule = options.schedule ?? everyInterval;
  }

  async acquire(userId: string, { hold }: AcquireOptions): Promise<Permit | Refusal> {
    const rate = this.options.ratePerMinute > 0 ? this.options.ratePerMinute : undefined;
    const slots = hold && this.options.maxConcurrent > 0 ? this.options.maxConcurrent : undefined;
    if (rate === undefined && slots === undefined) return freePermit();
    if (slots !== undefined) await this.ownReleases(userId);
    const now = this.now();
    const ask: Ask = { userId, now, window: rateWindow(now, RATE_WINDOW_MS), rate, slots, leaseId: randomBytes(8).toString('hex') };
    const deadline = AbortSignal.timeout(this.timeoutMs);
    try {
      return await this.take(ask, deadline);
    } catch (err) {
      this.log.error('limit check failed; call allowed', { limit: [rate && 'rate', slots && 'concurrency'].filter(Boolean).join('+'), error: errorName(err) });
      // Fail open, but keep the lease id: a take that timed out may still have landed, and this permit's release
      // removes the lease if it did (and changes nothing if it did not), so a slow table cannot leak a slot.
      return slots !== undefined ? this.holding(userId, ask.leaseId, { renew: false }) : freePermit();
    }
  }

  async settle(): Promise<void> {
    // A settling write may start another (a release of a permit handed out meanwhile): wait until none is left.
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  /** The common path is the first write; the rest runs only when its condition failed. */
  private async take(ask: Ask, deadline: AbortSignal): Promise<Permit | Refusal> {
    let lapsed: Lapsed = [];
    for (let attempt = 0; ; attempt++) {
      if (await this.tryTake(ask, lapsed, deadline)) {
        if (lapsed.length > 0) this.log.warn('reclaimed lapsed concurrency leases', { user_id: ask.userId, leases: lapsed.length });
        return ask.slots !== undefined ? this.holding(ask.userId, ask.leaseId) : freePermit();
      }
      const verdict = this.judge(ask, await this.read(ask.userId, deadline));
      if (verdict.ok === false) return verdict;
      // Room after all, or room once lapsed leases go. Bounded: a user whose item keeps changing under us is busy.
      if (attempt === MAX_RETRIES) return ask.slots !== undefined ? this.concurrencyRefusal(ask.slots) : this.rateRefusal(ask);
      lapsed = verdict.lapsed;
    }
  }

  /** The one conditional write: count the call and take the lease; false when a limit (or a lapsed lease read) said no. */
  private async tryTake(ask: Ask, lapsed: Lapsed, deadline: AbortSignal): Promise<boolean> {
    const names: Record<string, string> = { '#ttl': 'ttl', '#type': 'type' };
    const values: Record<string, unknown> = { ':type': 'limits' };
    const set = ['#ttl = :ttl', '#type = :type'];
    const add: string[] = [];
    const remove: string[] = [];
    const conditions: string[] = [];
    let lastNeeded = ask.window.endMs;

    if (ask.rate !== undefined) {
      Object.assign(names, { '#r': rateAttribute(ask.window.startMs), '#prev': rateAttribute(ask.window.startMs - RATE_WINDOW_MS), '#w': 'w' });
      Object.assign(values, { ':zero': 0, ':one': 1, ':rate': ask.rate, ':w': ask.window.startMs });
      set.push('#r = if_not_exists(#r, :zero) + :one', '#w = :w');
      remove.push('#prev');
      conditions.push('(attribute_not_exists(#r) OR #r < :rate)');
    }
    if (ask.slots !== undefined) {
      const expires = ask.now + this.leaseMs;
      lastNeeded = Math.max(lastNeeded, expires);
      Object.assign(names, { '#c': 'c', '#lease': leaseAttribute(ask.leaseId) });
      // Each lapsed lease removed makes room for one more: c − removed < slots.
      Object.assign(values, { ':exp': expires, ':delta': 1 - lapsed.length, ':slots': ask.slots + lapsed.length });
      set.push('#lease = :exp');
      add.push('#c :delta');
      conditions.push('(attribute_not_exists(#c) OR #c < :slots)');
      lapsed.forEach((lease, i) => {
        names[`#x${i}`] = lease.name;
        values[`:x${i}`] = lease.expiresAtMs;
        remove.push(`#x${i}`);
        conditions.push(`#x${i} = :x${i}`);
      });
    }
    values[':ttl'] = itemTtl(lastNeeded);

    let res;
    try {
      res = await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keys.limits(ask.userId),
          UpdateExpression: [`SET ${set.join(', ')}`, add.length ? `ADD ${add.join(', ')}` : '', remove.length ? `REMOVE ${remove.join(', ')}` : ''].filter(Boolean).join(' '),
          ConditionExpression: conditions.join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          // The old `w`: the window of the user's previous call, to clear its counter if this write did not.
          ...(ask.rate !== undefined ? { ReturnValues: 'UPDATED_OLD' } : {}),
        }),
        { abortSignal: deadline },
      );
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
    const previous = res.Attributes?.w;
    if (typeof previous === 'number' && previous < ask.window.startMs - RATE_WINDOW_MS) this.clearCounters(ask.userId, [rateAttribute(previous)]);
    return true;
  }

  private async read(userId: string, deadline: AbortSignal): Promise<Record<string, unknown>> {
    const res = await this.db.send(new GetCommand({ TableName: this.table, Key: keys.limits(userId), ConsistentRead: true }), { abortSignal: deadline });
    return res.Item ?? {};
  }

  /** Why the write was refused, from the item as it is now: a limit (rate first: it says when), or room to retry. */
  private judge(ask: Ask, item: Record<string, unknown>): Verdict {
    if (ask.rate !== undefined && Number(item[rateAttribute(ask.window.startMs)] ?? 0) >= ask.rate) return this.rateRefusal(ask);
    const stale = staleRateCounters(item, ask.window.startMs);
    if (stale.length > 0) this.clearCounters(ask.userId, stale);
    if (ask.slots === undefined || Number(item.c ?? 0) < ask.slots) return { ok: 'retry', lapsed: [] };
    const { expired } = scanLeases(item, ask.now);
    if (expired.length === 0) return this.concurrencyRefusal(ask.slots);
    return { ok: 'retry', lapsed: expired.slice(0, RECLAIM_BATCH) };
  }

  private rateRefusal(ask: Ask): Refusal {
    return { ok: false, limit: 'rate', max: ask.rate ?? 0, retryAfterSeconds: retryAfterSeconds(ask.now, ask.window.endMs) };
  }

  private concurrencyRefusal(max: number): Refusal {
    return { ok: false, limit: 'concurrency', max, retryAfterSeconds: CONCURRENCY_RETRY_AFTER_SECONDS };
  }

  private async update(input: UpdateCommandInput): Promise<void> {
    await this.db.send(new UpdateCommand(input), { abortSignal: AbortSignal.timeout(this.timeoutMs) });
  }

  /** Removes rate counters of past windows, off the caller's path; a failure only leaves them for the TTL. */
  private clearCounters(userId: string, names: string[]): void {
    const batch = names.slice(0, RECLAIM_BATCH);
    const attributes = Object.fromEntries(batch.map((name, i) => [`#s${i}`, name]));
    this.track(
      this.update({
        TableName: this.table,
        Key: keys.limits(userId),
        UpdateExpression: `REMOVE ${Object.keys(attributes).join(', ')}`,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: attributes,
      }).catch(() => undefined),
    );
  }

  /** Keeps `work` (which never rejects) in `pending` until it settles. */
  private track(work: Promise<void>): Promise<void> {
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
    return work;
  }

  /** Waits for this user's releases still in flight on this instance (usually none; at most one round trip). */
  private async ownReleases(userId: string): Promise<void> {
    const own = this.releasing.get(userId);
    if (own) await Promise.all([...own]);
  }

  /** The permit for a taken slot: renews the lease while the call runs, gives it back on release. */
  private holding(userId: string, leaseId: string, { renew: renewing = true } = {}): Permit {
    const lease = leaseAttribute(leaseId);
    const key = keys.limits(userId);
    const renew = async () => {
      const expires = this.now() + this.leaseMs;
      try {
        await this.update({
          TableName: this.table,
          Key: key,
          UpdateExpression: 'SET #lease = :exp, #ttl = :ttl',
          ConditionExpression: 'attribute_exists(#lease)',
          ExpressionAttributeNames: { '#lease': lease, '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':exp': expires, ':ttl': itemTtl(expires) },
        });
      } catch (err) {
        // Reclaimed after missed renewals (a stalled instance): the call finishes, the slot is already free.
        this.log.warn('concurrency lease renewal failed', { user_id: userId, error: errorName(err) });
      }
    };
    const stopRenewing = renewing ? this.schedule(() => void renew(), renewEveryMs(this.leaseMs)) : () => undefined;
    const giveBack = async () => {
      stopRenewing();
      try {
        await this.update({
          TableName: this.table,
          Key: key,
          UpdateExpression: 'ADD #c :minus REMOVE #lease',
          ConditionExpression: 'attribute_exists(#lease)',
          ExpressionAttributeNames: { '#c': 'c', '#lease': lease },
          ExpressionAttributeValues: { ':minus': -1 },
        });
      } catch (err) {
        // Already reclaimed (condition) or the table is unreachable: the lease lapses on its own within leaseMs.
        if (!isConditionFailure(err)) this.log.warn('concurrency lease release failed', { user_id: userId, error: errorName(err) });
      }
    };
    let released: Promise<void> | undefined;
    return {
      ok: true,
      release: () => {
        if (released) return released;
        const work = this.track(giveBack());
        released = work;
        const own = this.releasing.get(userId) ?? new Set<Promise<void>>();
        own.add(work);
        this.releasing.set(userId, own);
        void work.finally(() => {
          own.delete(work);
          if (own.size === 0 && this.releasing.get(userId) === own) this.releasing.delete(userId);
        });
        return work;
      },
    };
  }
}

function isConditionFailure(err: unknown): boolean {
  return (err as { name?: string } | null)?.name === 'ConditionalCheckFailedException';
}
