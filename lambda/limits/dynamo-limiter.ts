/**
 * Per-user limits that hold across Lambda instances, kept in the app's one DynamoDB table with single-item
 * conditional writes (atomic in DynamoDB; no transactions, which dynalite lacks).
 *
 * Rate: a fixed one-minute window per user, one counter item per window (`LIMIT#<user>` / `RATE#<start>`):
 * `ADD n 1` on condition `n < max`. One write per call, no read, no retry loop, and an exact Retry-After (the
 * window's end). The price of a fixed window is that a burst straddling a boundary may see up to 2 × max calls
 * in a short span; a sliding window would need a read of the previous window on every call. Old windows are
 * never read again; the TTL deletes them.
 *
 * Concurrency: one item per user (`LIMIT#<user>` / `CONCURRENCY`) holding a lease per running call
 * (`l_<random id>` = expiry, epoch ms) and their count `n`. Take: `SET l_x = expiry ADD n 1` on `n < max`;
 * release: `REMOVE l_x ADD n -1` on `attribute_exists(l_x)` (so a second release, or a release after a reclaim,
 * changes nothing). Leases expire so a Lambda killed mid-call (crash, OOM, timeout) cannot hold a slot forever:
 * the holder renews its lease every LEASE_MS / 3, and when a take is refused the limiter reads the item and
 * removes lapsed leases — conditional on the exact expiry it saw, so a lease renewed meanwhile survives — then
 * tries once more. The count `n` keeps the common path to one write (DynamoDB cannot count map entries or
 * attributes in a condition); every write that adds or removes a lease moves `n` with it, in the same item.
 *
 * Failure policy: the limits protect the service, they are not an authorization check, so when the table
 * cannot be reached in time the call is allowed (fail open) and the error is logged. Authentication needs the
 * same table anyway, so a dead table mostly refuses requests before they get here.
 */
import { randomBytes } from 'node:crypto';
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import type { Logger } from '../observability/logger.js';
import { errorName } from '../observability/error-name.js';
import { silentLogger } from '../observability/logger.js';
import { keys } from '../store/schema.js';
import { freePermit, type AcquireOptions, type LimitSettings, type Limiter, type Permit, type Refusal } from './limiter.js';
import { CONCURRENCY_RETRY_AFTER_SECONDS, LEASE_MS, itemTtl, leaseAttribute, rateWindow, renewEveryMs, retryAfterSeconds, scanLeases } from './math.js';

export interface DynamoLimiterOptions extends LimitSettings {
  client: DynamoDBDocumentClient;
  tableName: string;
  logger?: Logger;
  /** Clock (epoch ms); tests move it to expire leases and windows. */
  now?: () => number;
  leaseMs?: number;
  /** Budget per limiter write: past it the call is allowed (fail open) rather than held up. */
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

export class DynamoLimiter implements Limiter {
  private readonly db: DynamoDBDocumentClient;
  private readonly table: string;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly leaseMs: number;
  private readonly timeoutMs: number;
  private readonly schedule: NonNullable<DynamoLimiterOptions['schedule']>;

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
    const countRate = this.options.ratePerMinute > 0;
    const takeSlot = hold && this.options.maxConcurrent > 0;
    const leaseId = randomBytes(8).toString('hex');
    // Both writes at once: a generation pays one round trip for its limits, not two. A call the rate limit refuses
    // gives its slot straight back (in the background; the lease lapses on its own if even that fails).
    const [rate, slot] = await Promise.all([
      countRate ? this.guard('rate', () => this.countCall(userId)) : undefined,
      takeSlot ? this.guard('concurrency', () => this.takeSlot(userId, leaseId)) : undefined,
    ]);
    // Fail open, but keep the lease id: a take that timed out may still have landed, and this permit's release
    // removes the lease if it did (and changes nothing if it did not), so a slow table cannot leak a slot.
    const permit = takeSlot ? (slot ?? this.holding(userId, leaseId, { renew: false })) : freePermit();
    if (rate) {
      if (permit.ok) void permit.release();
      return rate;
    }
    return permit;
  }

  /** Runs one limiter step; a store failure is logged and reads as "allowed" (undefined). */
  private async guard<T>(limit: 'rate' | 'concurrency', step: () => Promise<T>): Promise<T | undefined> {
    try {
      return await step();
    } catch (err) {
      this.log.error('limit check failed; call allowed', { limit, error: errorName(err) });
      return undefined;
    }
  }

  private async update(input: UpdateCommandInput): Promise<void> {
    await this.db.send(new UpdateCommand(input), { abortSignal: AbortSignal.timeout(this.timeoutMs) });
  }

  private async countCall(userId: string): Promise<Refusal | undefined> {
    const now = this.now();
    const window = rateWindow(now);
    const max = this.options.ratePerMinute;
    try {
      await this.update({
        TableName: this.table,
        Key: keys.rateWindow(userId, window.startMs),
        UpdateExpression: 'ADD #n :one SET #ttl = :ttl, #type = :type',
        ConditionExpression: 'attribute_not_exists(#n) OR #n < :max',
        ExpressionAttributeNames: { '#n': 'n', '#ttl': 'ttl', '#type': 'type' },
        ExpressionAttributeValues: { ':one': 1, ':max': max, ':ttl': itemTtl(window.endMs), ':type': 'rate' },
      });
      return undefined;
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      return { ok: false, limit: 'rate', max, retryAfterSeconds: retryAfterSeconds(now, window.endMs) };
    }
  }

  private async takeSlot(userId: string, leaseId: string): Promise<Permit | Refusal> {
    if (await this.tryTake(userId, leaseId)) return this.holding(userId, leaseId);
    // Refused: free any lease whose holder stopped renewing it, then try once more (no loop: a busy user is refused).
    if ((await this.reclaimLapsed(userId)) > 0 && (await this.tryTake(userId, leaseId))) return this.holding(userId, leaseId);
    return { ok: false, limit: 'concurrency', max: this.options.maxConcurrent, retryAfterSeconds: CONCURRENCY_RETRY_AFTER_SECONDS };
  }

  private async tryTake(userId: string, leaseId: string): Promise<boolean> {
    const expires = this.now() + this.leaseMs;
    try {
      await this.update({
        TableName: this.table,
        Key: keys.concurrency(userId),
        UpdateExpression: 'ADD #n :one SET #lease = :exp, #ttl = :ttl, #type = :type',
        ConditionExpression: 'attribute_not_exists(#n) OR #n < :max',
        ExpressionAttributeNames: { '#n': 'n', '#lease': leaseAttribute(leaseId), '#ttl': 'ttl', '#type': 'type' },
        ExpressionAttributeValues: { ':one': 1, ':max': this.options.maxConcurrent, ':exp': expires, ':ttl': itemTtl(expires), ':type': 'concurrency' },
      });
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  /** Removes lapsed leases (each only if unchanged since read); returns how many were removed. */
  async reclaimLapsed(userId: string): Promise<number> {
    const res = await this.db.send(new GetCommand({ TableName: this.table, Key: keys.concurrency(userId), ConsistentRead: true }), {
      abortSignal: AbortSignal.timeout(this.timeoutMs),
    });
    const { expired } = scanLeases(res.Item ?? {}, this.now());
    if (expired.length === 0) return 0;
    // Bounded so one update stays far below DynamoDB's expression limits however many leases lapsed.
    const batch = expired.slice(0, 50);
    const names: Record<string, string> = { '#n': 'n' };
    const values: Record<string, unknown> = { ':k': -batch.length };
    const conditions: string[] = [];
    batch.forEach((lease, i) => {
      names[`#l${i}`] = lease.name;
      values[`:e${i}`] = res.Item![lease.name];
      conditions.push(`#l${i} = :e${i}`);
    });
    try {
      await this.update({
        TableName: this.table,
        Key: keys.concurrency(userId),
        UpdateExpression: `ADD #n :k REMOVE ${batch.map((_, i) => `#l${i}`).join(', ')}`,
        ConditionExpression: conditions.join(' AND '),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      });
    } catch (err) {
      // Another instance released, renewed or reclaimed one of them first: nothing was removed here.
      if (isConditionFailure(err)) return 0;
      throw err;
    }
    this.log.warn('reclaimed lapsed concurrency leases', { user_id: userId, leases: batch.length });
    return batch.length;
  }

  /** The permit for a taken slot: renews the lease while the call runs, gives it back on release. */
  private holding(userId: string, leaseId: string, { renew: renewing = true } = {}): Permit {
    const lease = leaseAttribute(leaseId);
    const key = keys.concurrency(userId);
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
    let released: Promise<void> | undefined;
    return {
      ok: true,
      release: () =>
        (released ??= (async () => {
          stopRenewing();
          try {
            await this.update({
              TableName: this.table,
              Key: key,
              UpdateExpression: 'ADD #n :minus REMOVE #lease',
              ConditionExpression: 'attribute_exists(#lease)',
              ExpressionAttributeNames: { '#n': 'n', '#lease': lease },
              ExpressionAttributeValues: { ':minus': -1 },
            });
          } catch (err) {
            // Already reclaimed (condition) or the table is unreachable: the lease lapses on its own within leaseMs.
            if (!isConditionFailure(err)) this.log.warn('concurrency lease release failed', { user_id: userId, error: errorName(err) });
          }
        })()),
    };
  }
}

function isConditionFailure(err: unknown): boolean {
  return (err as { name?: string } | null)?.name === 'ConditionalCheckFailedException';
}
