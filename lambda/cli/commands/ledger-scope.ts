/** What the ledger views share: which users (`--user` or all) and which days (`--since`/`--until`, UTC). */
import { dayKey } from '../../budget/windows.js';
import type { AccountStore, User } from '../../store/account-store.js';
import { MAX_DAYS } from '../../store/ledger-store.js';
import { UsageError } from '../errors.js';
import type { CommandContext } from '../spec.js';
import { requireUser } from './users.js';

/** The default range: the last 30 days, today included. */
export const DEFAULT_DAYS = 30;
/** Users read at once (each is a few DynamoDB queries). */
export const USER_BATCH = 8;

export function parseDay(value: string | boolean | undefined, flag: string, command: string): string | undefined {
  if (value === undefined || typeof value === 'boolean') return undefined;
  const ms = Date.parse(`${value}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || !Number.isFinite(ms) || dayKey(new Date(ms)) !== value) throw new UsageError(`${flag} takes a date as YYYY-MM-DD`, command);
  return value;
}

export function dayRange(ctx: CommandContext, command: string): { since: string; until: string } {
  const until = parseDay(ctx.values.until, '--until', command) ?? dayKey(ctx.now());
  const since = parseDay(ctx.values.since, '--since', command) ?? dayKey(new Date(Date.parse(`${until}T00:00:00Z`) - (DEFAULT_DAYS - 1) * 86_400_000));
  if (since > until) throw new UsageError('--since is after --until', command);
  if ((Date.parse(until) - Date.parse(since)) / 86_400_000 + 1 > MAX_DAYS) throw new UsageError(`a range spans at most ${MAX_DAYS} days`, command);
  return { since, until };
}

/** `--user <name>` or every user. */
export async function scopeUsers(store: AccountStore, name: string | boolean | undefined): Promise<User[]> {
  if (typeof name === 'string') return [await requireUser(store, name)];
  return store.listUsers();
}

/** Maps users through `fn`, a few at a time (bounded fan-out). */
export async function inBatches<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += USER_BATCH) out.push(...(await Promise.all(items.slice(i, i + USER_BATCH).map(fn))));
  return out;
}
