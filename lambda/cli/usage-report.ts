/**
 * The usage and audit views as pure functions over the ledger's totals: group day (or model-day) rows by day,
 * model or user, and sum them in whole nano-dollars so a report's total is exactly the sum of what was counted.
 */
import { fromNano, toNano } from '../budget/money.js';
import type { DayTotal, ModelDayTotal } from '../store/ledger-store.js';

export type UsageGrouping = 'day' | 'model' | 'user';

export interface UsageRow {
  /** The day, model id or user name the row sums. */
  key: string;
  spentUsd: number;
  calls: number;
  tokensIn: number;
  tokensOut: number;
}

export interface UsageReport {
  since: string;
  until: string;
  by: UsageGrouping;
  rows: UsageRow[];
  total: Omit<UsageRow, 'key'>;
}

/** One user's rows: day totals for `day` and `user`, model-day totals for `model`. */
export interface UserTotals {
  user: string;
  days: readonly DayTotal[];
  models: readonly ModelDayTotal[];
}

interface Acc {
  nano: number;
  calls: number;
  tokensIn: number;
  tokensOut: number;
}

const empty = (): Acc => ({ nano: 0, calls: 0, tokensIn: 0, tokensOut: 0 });

function add(acc: Acc, t: { spentUsd: number; calls: number; tokensIn: number; tokensOut: number }): void {
  acc.nano += toNano(t.spentUsd);
  acc.calls += t.calls;
  acc.tokensIn += t.tokensIn;
  acc.tokensOut += t.tokensOut;
}

const out = (a: Acc) => ({ spentUsd: fromNano(a.nano), calls: a.calls, tokensIn: a.tokensIn, tokensOut: a.tokensOut });

export function usageReport(per: readonly UserTotals[], by: UsageGrouping, since: string, until: string): UsageReport {
  const groups = new Map<string, Acc>();
  const total = empty();
  const into = (key: string, t: Parameters<typeof add>[1]) => {
    let acc = groups.get(key);
    if (!acc) groups.set(key, (acc = empty()));
    add(acc, t);
  };
  for (const u of per) {
    if (by === 'model') for (const m of u.models) into(m.model, m);
    else for (const d of u.days) into(by === 'day' ? d.day : u.user, d);
    for (const d of u.days) add(total, d);
  }
  const rows = [...groups].map(([key, acc]) => ({ key, ...out(acc) }));
  // Days read in date order; models and users by spend, the largest first.
  rows.sort(by === 'day' ? (a, b) => a.key.localeCompare(b.key) : (a, b) => b.spentUsd - a.spentUsd || a.key.localeCompare(b.key));
  return { since, until, by, rows, total: out(total) };
}

/** Dollars with up to six decimals, trailing zeros dropped to cents: `$0.000123`, `$1.50`. */
export function usdCell(usd: number): string {
  const fixed = usd.toFixed(6).replace(/(\.\d\d\d*?)0+$/, '$1');
  return `$${fixed}`;
}
