/**
 * The same limits for one process (`npm start`): every request of the local server passes through this
 * process, so counters in memory are exact and cost no DynamoDB round trip. Not for the Lambda, where each
 * instance would only see its own share (that is what DynamoLimiter is for). No leases: if the process dies,
 * its counters die with it.
 */
import { freePermit, type AcquireOptions, type LimitSettings, type Limiter, type Permit, type Refusal } from './limiter.js';
import { CONCURRENCY_RETRY_AFTER_SECONDS, rateWindow, retryAfterSeconds } from './math.js';

export class MemoryLimiter implements Limiter {
  private readonly windows = new Map<string, { startMs: number; count: number }>();
  private readonly running = new Map<string, number>();

  constructor(
    private readonly settings: LimitSettings,
    private readonly now: () => number = Date.now,
  ) {}

  async acquire(userId: string, { hold }: AcquireOptions): Promise<Permit | Refusal> {
    const now = this.now();
    const window = rateWindow(now);
    const counting = this.settings.ratePerMinute > 0;
    const holding = hold && this.settings.maxConcurrent > 0;
    const current = this.windows.get(userId);
    const count = current?.startMs === window.startMs ? current.count : 0;
    const running = this.running.get(userId) ?? 0;
    // Both limits are checked before either is changed, as the table's single write does: a refused call leaves nothing.
    if (counting && count >= this.settings.ratePerMinute) {
      return { ok: false, limit: 'rate', max: this.settings.ratePerMinute, retryAfterSeconds: retryAfterSeconds(now, window.endMs) };
    }
    if (holding && running >= this.settings.maxConcurrent) {
      return { ok: false, limit: 'concurrency', max: this.settings.maxConcurrent, retryAfterSeconds: CONCURRENCY_RETRY_AFTER_SECONDS };
    }
    // One entry per user, replaced when its window passes: memory stays bounded by the number of users.
    if (counting) this.windows.set(userId, { startMs: window.startMs, count: count + 1 });
    if (!holding) return freePermit();
    this.running.set(userId, running + 1);
    let released = false;
    return {
      ok: true,
      release: async () => {
        if (released) return;
        released = true;
        const left = (this.running.get(userId) ?? 1) - 1;
        if (left > 0) this.running.set(userId, left);
        else this.running.delete(userId);
      },
    };
  }

  /** Releases happen in memory at once: nothing is ever left running. */
  async settle(): Promise<void> {}
}
