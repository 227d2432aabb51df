/** `ormcp budget set | show`: a user's own caps over the operator's defaults, and where everyone stands. */
import { effectiveCaps, type BudgetOverride } from '../../budget/check.js';
import { WINDOWS, type BudgetWindow } from '../../budget/windows.js';
import { UsageError } from '../errors.js';
import { json, table } from '../format.js';
import { serverSettings } from '../server-settings.js';
import type { CommandSpec } from '../spec.js';
import { usdCell } from '../usage-report.js';
import { inBatches, scopeUsers } from './ledger-scope.js';
import { requireUser } from './users.js';

export type CapChange = number | null | 'default';

/** `2.5` → 2.5, `none` → no cap, `default` → the operator's default again. */
export function parseCap(value: string, flag: string): CapChange {
  if (value === 'none') return null;
  if (value === 'default') return 'default';
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !Number.isFinite(n) || n > 1_000_000) throw new UsageError(`${flag} takes an amount in USD (e.g. 2.50), "none" or "default"`, 'budget set');
  return n;
}

/** For people and the audit log: `daily=2.5 weekly=none monthly=default`. */
export function describeChange(change: Partial<Record<BudgetWindow, CapChange>>): string {
  return WINDOWS.filter((w) => change[w] !== undefined)
    .map((w) => `${w}=${change[w] === null ? 'none' : String(change[w])}`)
    .join(' ');
}

export const budgetSet: CommandSpec = {
  path: ['budget', 'set'],
  summary: "set a user's spending caps (over the operator's defaults)",
  synopsis: 'budget set <name> [--daily <usd>] [--weekly <usd>] [--monthly <usd>]',
  positionals: ['name'],
  options: { daily: { type: 'string' }, weekly: { type: 'string' }, monthly: { type: 'string' } },
  optionHelp: [
    ['--daily <usd>', 'cap per UTC day'],
    ['--weekly <usd>', 'cap per ISO week (Monday to Sunday, UTC)'],
    ['--monthly <usd>', 'cap per calendar month (UTC)'],
  ],
  details: [
    'Each takes an amount in USD, "none" (no cap for this user, whatever the default) or "default" (the',
    "operator's default again: ORMCP_BUDGET_DAILY_USD / _WEEKLY_USD / _MONTHLY_USD). Windows not named keep their",
    'setting. The change is written to the audit log (ormcp audit).',
  ].join('\n'),
  async run(ctx) {
    const change: Partial<Record<BudgetWindow, CapChange>> = {};
    for (const w of WINDOWS) {
      const v = ctx.values[w];
      if (typeof v === 'string') change[w] = parseCap(v, `--${w}`);
    }
    if (Object.keys(change).length === 0) throw new UsageError('name at least one of --daily, --weekly, --monthly', 'budget set');
    const name = ctx.args[0]!;
    const store = await ctx.openStore({ create: false });
    const ledger = await ctx.openLedger();
    const user = await requireUser(store, name);
    const override = await ledger.setBudgetOverride(user.userId, change);
    await ledger.recordAdminAction({ time: ctx.now(), actor: 'cli', action: 'budget.set', targetUserId: user.userId, detail: describeChange(change) });
    ctx.out(`Budget of "${name}": ${describeOverride(override)}.`);
    return 0;
  },
};

function describeOverride(o: BudgetOverride): string {
  const parts = WINDOWS.map((w) => `${w} ${o[w] === undefined ? 'default' : o[w] === null ? 'no cap' : usdCell(o[w]!)}`);
  return parts.join(', ');
}

export const budgetShow: CommandSpec = {
  path: ['budget', 'show'],
  summary: "each user's caps and spend in the current day, week and month",
  synopsis: 'budget show [<name>] [--json]',
  positionals: [],
  optionalPositionals: ['name'],
  options: { json: { type: 'boolean' } },
  optionHelp: [['--json', 'a JSON array: per user the override, the caps in force and the spend']],
  details: 'A cap in force is the user\'s own (ormcp budget set) or else the operator\'s default (ORMCP_BUDGET_*_USD).',
  async run(ctx) {
    const { budgetDefaults } = await serverSettings(ctx);
    const store = await ctx.openStore({ create: false });
    const ledger = await ctx.openLedger();
    const users = await scopeUsers(store, ctx.args[0]);
    const spend = await ledger.currentSpend(users.map((u) => u.userId), ctx.now());
    const overrides = await inBatches(users, (u) => ledger.getBudgetOverride(u.userId));
    const rows = users.map((u, i) => {
      const override = overrides[i]!;
      const caps = effectiveCaps(budgetDefaults, override);
      const s = spend.get(u.userId)!;
      return {
        name: u.name,
        userId: u.userId,
        override,
        caps: Object.fromEntries(WINDOWS.map((w) => [w, caps[w] ?? null])) as Record<BudgetWindow, number | null>,
        spent: Object.fromEntries(WINDOWS.map((w) => [w, s[w].spentUsd])) as Record<BudgetWindow, number>,
        reserved: Object.fromEntries(WINDOWS.map((w) => [w, s[w].reservedUsd])) as Record<BudgetWindow, number>,
      };
    });
    if (ctx.values.json) {
      ctx.out(json(rows));
      return 0;
    }
    if (rows.length === 0) {
      ctx.out('No users.');
      return 0;
    }
    const cell = (spent: number, cap: number | null) => `${usdCell(spent)} / ${cap === null ? 'no cap' : usdCell(cap)}`;
    ctx.out(table(['NAME', 'TODAY', 'THIS WEEK', 'THIS MONTH'], rows.map((r) => [r.name, ...WINDOWS.map((w) => cell(r.spent[w], r.caps[w]))])));
    return 0;
  },
};
