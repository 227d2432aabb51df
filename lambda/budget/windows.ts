/**
 * Budget windows in UTC: the calendar day, the ISO week (Monday to Sunday, numbered by the ISO week-year, so
 * 2027-01-01 belongs to 2026-W53) and the calendar month. Each window has a stable key (the DynamoDB sort-key
 * suffix of its aggregate) and the instant it resets. Pure: every function takes the time.
 */

export type BudgetWindow = 'daily' | 'weekly' | 'monthly';

export const WINDOWS: readonly BudgetWindow[] = ['daily', 'weekly', 'monthly'];

export interface WindowRef {
  window: BudgetWindow;
  /** `2026-12-06`, `2026-W49`, `2026-12`. */
  key: string;
  /** The window's first instant. */
  start: Date;
  /** The next window's first instant: when this window's spend stops counting. */
  resetsAt: Date;
}

const DAY_MS = 86_400_000;
const pad = (n: number, width = 2) => String(n).padStart(width, '0');

function utcMidnight(t: Date): number {
  return Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate());
}

/** ISO week-year and week number of a UTC date: the week belongs to the year of its Thursday. */
export function isoWeek(t: Date): { year: number; week: number; mondayMs: number } {
  const midnight = utcMidnight(t);
  const dayFromMonday = (new Date(midnight).getUTCDay() + 6) % 7;
  const mondayMs = midnight - dayFromMonday * DAY_MS;
  const thursday = new Date(mondayMs + 3 * DAY_MS);
  const year = thursday.getUTCFullYear();
  const week = Math.floor((thursday.getTime() - Date.UTC(year, 0, 1)) / (7 * DAY_MS)) + 1;
  return { year, week, mondayMs };
}

export function windowRef(window: BudgetWindow, now: Date): WindowRef {
  switch (window) {
    case 'daily': {
      const start = utcMidnight(now);
      return { window, key: dayKey(now), start: new Date(start), resetsAt: new Date(start + DAY_MS) };
    }
    case 'weekly': {
      const { year, week, mondayMs } = isoWeek(now);
      return { window, key: `${year}-W${pad(week)}`, start: new Date(mondayMs), resetsAt: new Date(mondayMs + 7 * DAY_MS) };
    }
    case 'monthly': {
      const y = now.getUTCFullYear();
      const m = now.getUTCMonth();
      return { window, key: `${y}-${pad(m + 1)}`, start: new Date(Date.UTC(y, m, 1)), resetsAt: new Date(Date.UTC(y, m + 1, 1)) };
    }
  }
}

/** The three windows `now` falls in. */
export function currentWindows(now: Date): Record<BudgetWindow, WindowRef> {
  return { daily: windowRef('daily', now), weekly: windowRef('weekly', now), monthly: windowRef('monthly', now) };
}

/** `YYYY-MM-DD` of a UTC date. */
export function dayKey(t: Date): string {
  return `${pad(t.getUTCFullYear(), 4)}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}`;
}

/** The day keys from `since` to `until` inclusive (both `YYYY-MM-DD`), at most `max` of them. */
export function dayKeysBetween(since: string, until: string, max = 400): string[] {
  const out: string[] = [];
  for (let t = Date.parse(`${since}T00:00:00Z`), end = Date.parse(`${until}T00:00:00Z`); t <= end && out.length < max; t += DAY_MS) out.push(dayKey(new Date(t)));
  return out;
}
