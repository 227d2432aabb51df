/**
 * Failed sign-ins counted in memory per user name and per client address, so the local sign-in cannot be
 * guessed at speed. One process serves every local sign-in, so memory is the whole truth; the map is bounded.
 */

export interface LoginLimits {
  /** Failures allowed per key within the window before it is locked until the window ends. */
  maxFailures: number;
  windowMs: number;
  /** Keys remembered at most; the oldest are forgotten first. */
  maxKeys: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = { maxFailures: 5, windowMs: 15 * 60_000, maxKeys: 10_000 };

interface Window {
  failures: number;
  startedAt: number;
}

export class LoginLimiter {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly limits: LoginLimits = DEFAULT_LOGIN_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds until a locked key may try again; 0 when any of `keys` may try now. */
  retryAfterMs(keys: string[]): number {
    return Math.max(0, ...keys.map((k) => this.lockedFor(k)));
  }

  fail(keys: string[]): void {
    for (const key of keys) {
      const current = this.active(key) ?? { failures: 0, startedAt: this.now() };
      current.failures += 1;
      this.windows.delete(key);
      this.windows.set(key, current);
    }
    while (this.windows.size > this.limits.maxKeys) this.windows.delete(this.windows.keys().next().value!);
  }

  succeed(keys: string[]): void {
    for (const key of keys) this.windows.delete(key);
  }

  private lockedFor(key: string): number {
    const w = this.active(key);
    if (!w || w.failures < this.limits.maxFailures) return 0;
    return w.startedAt + this.limits.windowMs - this.now();
  }

  private active(key: string): Window | undefined {
    const w = this.windows.get(key);
    if (w && this.now() - w.startedAt >= this.limits.windowMs) {
      this.windows.delete(key);
      return undefined;
    }
    return w;
  }
}
