/**
 * Whether a user may start a call: spend plus what running calls have reserved, per window, against the caps.
 * A refusal names the window, the cap, the spend and when the window resets, so the user knows when to retry.
 */
import { formatUsd } from './money.js';
import { WINDOWS, currentWindows, type BudgetWindow } from './windows.js';

/** Caps in USD per window; a missing one is no cap. */
export type BudgetCaps = Partial<Record<BudgetWindow, number>>;

/** An operator's per-user override: a number replaces the default cap, `null` lifts it, a missing window inherits it. */
export type BudgetOverride = Partial<Record<BudgetWindow, number | null>>;

export interface WindowUsage {
  spentUsd: number;
  /** Worst cases reserved by calls still running. */
  reservedUsd: number;
}

export type BudgetUsage = Record<BudgetWindow, WindowUsage>;

export interface BudgetRefusal {
  ok: false;
  window: BudgetWindow;
  capUsd: number;
  spentUsd: number;
  reservedUsd: number;
  /** ISO time the window resets. */
  resetsAt: string;
  message: string;
}

export type BudgetCheck = { ok: true; remainingUsd: number | null; tightest?: BudgetWindow } | BudgetRefusal;

/** Whether no window has a cap (then only the user's override and defaults matter, never their spend). */
export function uncapped(caps: BudgetCaps): boolean {
  return Object.keys(caps).length === 0;
}

export function effectiveCaps(defaults: BudgetCaps, override: BudgetOverride = {}): BudgetCaps {
  const caps: BudgetCaps = {};
  for (const w of WINDOWS) {
    const o = override[w];
    const cap = o === undefined ? defaults[w] : o;
    if (cap !== null && cap !== undefined) caps[w] = cap;
  }
  return caps;
}

const WINDOW_WORDS: Record<BudgetWindow, { name: string; period: string }> = {
  daily: { name: 'daily', period: 'today (UTC)' },
  weekly: { name: 'weekly', period: 'this week (ISO week, UTC)' },
  monthly: { name: 'monthly', period: 'this month (UTC)' },
};

/** The remaining budget (smallest over the capped windows), or the first window already used up. */
export function checkBudget(caps: BudgetCaps, usage: BudgetUsage, now: Date): BudgetCheck {
  const windows = currentWindows(now);
  let remainingUsd: number | null = null;
  let tightest: BudgetWindow | undefined;
  for (const w of WINDOWS) {
    const cap = caps[w];
    if (cap === undefined) continue;
    const { spentUsd, reservedUsd } = usage[w];
    const left = cap - spentUsd - reservedUsd;
    if (left <= 0) {
      const resetsAt = windows[w].resetsAt.toISOString();
      const words = WINDOW_WORDS[w];
      const running = reservedUsd > 0 ? ` and calls still running have reserved ${formatUsd(reservedUsd)}` : '';
      const message =
        `Budget reached: your ${words.name} cap is ${formatUsd(cap)} and you have spent ${formatUsd(spentUsd)} ${words.period}${running}. ` +
        `It resets at ${resetsAt}${reservedUsd > 0 && spentUsd < cap ? ', or sooner when your running calls finish' : ''}. Nothing was sent to OpenRouter.`;
      return { ok: false, window: w, capUsd: cap, spentUsd, reservedUsd, resetsAt, message };
    }
    if (remainingUsd === null || left < remainingUsd) {
      remainingUsd = left;
      tightest = w;
    }
  }
  return tightest ? { ok: true, remainingUsd, tightest } : { ok: true, remainingUsd: null };
}
