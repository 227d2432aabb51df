/** `ormcp usage` (spend from the ledger's aggregates) and `ormcp audit` (the ledger's records). */
import type { LedgerRecord } from '../../store/ledger-store.js';
import { UsageError } from '../errors.js';
import { json, shortTime, table } from '../format.js';
import type { CommandSpec } from '../spec.js';
import { usageReport, usdCell, type UsageGrouping } from '../usage-report.js';
import { DEFAULT_DAYS, dayRange, inBatches, parseDay, scopeUsers } from './ledger-scope.js';

const GROUPINGS: readonly UsageGrouping[] = ['day', 'model', 'user'];
/** Records shown per user by `audit` (the newest). */
export const AUDIT_LIMIT = 1_000;

export const usage: CommandSpec = {
  path: ['usage'],
  summary: 'spend, calls and tokens per day, model or user (from the usage ledger)',
  synopsis: 'usage [--user <name>] [--since YYYY-MM-DD] [--until YYYY-MM-DD] [--by day|model|user] [--json]',
  positionals: [],
  options: { user: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' }, by: { type: 'string' }, json: { type: 'boolean' } },
  optionHelp: [
    ['--user <name>', 'one user (default: everyone)'],
    ['--since <YYYY-MM-DD>', `first day, UTC (default: ${DEFAULT_DAYS} days before --until)`],
    ['--until <YYYY-MM-DD>', 'last day, UTC, included (default: today)'],
    ['--by day|model|user', 'one row per day (default), model or user'],
    ['--json', 'JSON: {since, until, by, rows: [...], total}'],
  ],
  details: 'Costs are what OpenRouter reported per call (or the estimate counted when it reported none), summed exactly.',
  async run(ctx) {
    const by = (ctx.values.by ?? 'day') as string;
    if (!GROUPINGS.includes(by as UsageGrouping)) throw new UsageError('--by takes day, model or user', 'usage');
    const { since, until } = dayRange(ctx, 'usage');
    const store = await ctx.openStore({ create: false });
    const ledger = await ctx.openLedger();
    const users = await scopeUsers(store, ctx.values.user);
    const per = await inBatches(users, async (u) => ({
      user: u.name,
      days: await ledger.dailyTotals(u.userId, since, until),
      models: by === 'model' ? await ledger.modelTotals(u.userId, since, until) : [],
    }));
    const report = usageReport(per, by as UsageGrouping, since, until);
    if (ctx.values.json) {
      ctx.out(json({ ...report, rows: report.rows.map(({ key, ...r }) => ({ [by]: key, ...r })) }));
      return 0;
    }
    if (report.rows.length === 0) {
      ctx.out(`No usage from ${since} to ${until}.`);
      return 0;
    }
    const row = (key: string, r: { spentUsd: number; calls: number; tokensIn: number; tokensOut: number }) => [key, usdCell(r.spentUsd), String(r.calls), String(r.tokensIn), String(r.tokensOut)];
    ctx.out(table([by.toUpperCase(), 'SPENT', 'CALLS', 'TOKENS IN', 'TOKENS OUT'], [...report.rows.map((r) => row(r.key, r)), row('TOTAL', report.total)]));
    return 0;
  },
};

export const audit: CommandSpec = {
  path: ['audit'],
  summary: 'the ledger records: every call (metadata only) and every admin action',
  synopsis: 'audit [--user <name>] [--since YYYY-MM-DD] [--json]',
  positionals: [],
  options: { user: { type: 'string' }, since: { type: 'string' }, json: { type: 'boolean' } },
  optionHelp: [
    ['--user <name>', 'one user (default: everyone)'],
    ['--since <YYYY-MM-DD>', `from this day on, UTC (default: the last ${DEFAULT_DAYS} days)`],
    ['--json', 'a JSON array of records, newest first'],
  ],
  details: `Newest first, at most ${AUDIT_LIMIT} records per user. Records expire after ORMCP_LEDGER_DAYS days (stack: context ledgerDays).`,
  async run(ctx) {
    const since = parseDay(ctx.values.since, '--since', 'audit') ?? new Date(ctx.now().getTime() - DEFAULT_DAYS * 86_400_000).toISOString().slice(0, 10);
    const store = await ctx.openStore({ create: false });
    const ledger = await ctx.openLedger();
    const users = await scopeUsers(store, ctx.values.user);
    const names = new Map(users.map((u) => [u.userId, u.name]));
    const lists = await inBatches(users, (u) => ledger.listRecords(u.userId, { since: new Date(`${since}T00:00:00Z`), limit: AUDIT_LIMIT }));
    const records: LedgerRecord[] = lists.flat().sort((a, b) => b.time.localeCompare(a.time));
    if (ctx.values.json) {
      ctx.out(json(records.map((r) => ({ user: names.get(r.userId) ?? null, ...r }))));
      return 0;
    }
    if (records.length === 0) {
      ctx.out(`No records since ${since}.`);
      return 0;
    }
    ctx.out(
      table(
        ['TIME', 'USER', 'TOOL', 'MODEL', 'OUTCOME', 'COST', 'BY', 'DETAIL'],
        records.map((r) => [
          shortTime(r.time),
          names.get(r.userId) ?? r.userId,
          r.tool,
          r.servedModel ?? r.requestedModel ?? '-',
          r.reason ? `${r.outcome} (${r.reason})` : r.outcome,
          r.costUsd !== undefined ? usdCell(r.costUsd) : r.tool.startsWith('admin:') ? '-' : `${usdCell(r.countedUsd)} ${r.costSource}`,
          r.actor ?? '-',
          r.detail ?? '',
        ]),
      ),
    );
    return 0;
  },
};
