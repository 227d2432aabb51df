/**
 * The per-user limiter as seen by one call that runs several generations at once (compare_models): each
 * generation still asks the real limiter for its own slot, but a refusal for concurrency while another generation
 * of the same fan-out is running is not final — it waits for that one to give its slot back and asks again. So
 * eight models under a limit of four run four at a time instead of four being refused, and a fan-out never waits
 * on anything but its own generations: when none of them is running (the user's other calls hold every slot), or
 * when the rate limit refuses, the refusal stands.
 *
 * Bounded: a generation asks again only after a sibling released a slot (or one was released while it asked), and
 * each sibling releases once, so a fan-out of n makes at most n² asks.
 */
import type { AcquireOptions, Limiter, Permit, Refusal } from './limiter.js';

export class FanOutLimiter implements Limiter {
  /** Siblings holding a permit of the real limiter. */
  private running = 0;
  /** Counts releases, so an ask that was refused while a sibling released knows to ask again at once. */
  private releases = 0;
  private waiters: (() => void)[] = [];

  constructor(private readonly inner: Limiter) {}

  async acquire(userId: string, options: AcquireOptions): Promise<Permit | Refusal> {
    for (;;) {
      const releasesBefore = this.releases;
      const permit = await this.inner.acquire(userId, options);
      if (permit.ok) return options.hold ? this.track(permit) : permit;
      if (permit.limit !== 'concurrency') return permit;
      if (this.releases !== releasesBefore) continue;
      if (this.running === 0) return permit;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  settle(): Promise<void> {
    return this.inner.settle();
  }

  private track(permit: Permit): Permit {
    this.running++;
    let released: Promise<void> | undefined;
    return {
      ok: true,
      release: () => {
        // Every waiter asks again once the slot is really free (the table write done), not before.
        released ??= permit.release().finally(() => {
          this.running--;
          this.releases++;
          const waiting = this.waiters;
          this.waiters = [];
          for (const wake of waiting) wake();
        });
        return released;
      },
    };
  }
}
