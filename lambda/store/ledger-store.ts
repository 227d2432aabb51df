/**
 * The usage ledger and the budget counters, beside each user in the single table (keys in schema.ts):
 *
 *   ledger records   USER#<id> / LEDGER#<ISO time>#<record id>  one per tool call that reached OpenRouter or was
 *                    refused before it; metadata only (never a prompt, completion, key or token: the zod schema below
 *                    is the only way in and has no field for them); TTL after `ledgerDays`.
 *   window usage     USER#<id> / USAGE#D#<day> | USAGE#W#<ISO week> | USAGE#M#<month>  atomic ADD counters: spend,
 *                    calls, tokens; kept forever (small, and the usage views read them).
 *   model usage      USER#<id> / USAGE#DM#<day>#<model>  the same counters per model and day.
 *   budget override  USER#<id> / BUDGET    caps the operator set for this user.
 *   defaults         USER#<id> / DEFAULTS  the user's own request defaults.
 *   missing cost     USER#<id> / GENCOST#<generation id>  which record a generation's cost is missing from (time,
 *                    record id), written only then; a later get_generation of it fills the cost (fillCostOfGeneration).
 *                    Same TTL as the record.
 *
 * Reservations. A call with a capped budget reserves its worst case before it starts and settles to its real cost
 * when it ends. Each window item keeps `committedNano` = spend + live reservations, and a reservation is one
 * conditional write per capped window: `ADD committedNano :worst SET r_<id> = expiry, ra_<id> = :worst` on
 * `committedNano <= cap - worst` (DynamoDB conditions cannot add, so the client subtracts). The windows are written
 * in parallel; if one refuses, the others are rolled back. Each item on its own never passes its cap, so a
 * half-done reservation can only refuse a concurrent call spuriously, never let one overspend. DynamoDB
 * transactions would make the three writes one, but the embedded DynamoDB (dynalite) lacks them.
 * A reservation expires (`r_<id>` holds its expiry) so a call whose Lambda died cannot hold budget forever: a
 * refused reservation reads the item, removes lapsed reservations (conditional on the exact expiry seen) and tries
 * once more.
 *
 * Write-behind (`writeBehindMs` > 0, what `npm start` sets): ledger records and plain counter additions wait up to
 * that long in memory and are written together (records 25 to a BatchWriteItem, one ADD per counter item however
 * many calls it sums), so the embedded table, which shares the local server's event loop, stays off the next call's
 * path. Reservation writes, which budgets rely on, are never deferred; reads on this instance write what waits first;
 * a stop writes it (`flush`). A killed process (SIGKILL, power loss) loses at most the last `writeBehindMs` of
 * records and counters. The Lambda writes at once (0): it may be frozen after its response.
 *
 * Over-spend bound: a settled cost above its reservation (the prompt estimate was low) raises spend past what was
 * reserved, so a window can end above its cap by at most the sum, over the calls reserved while the cap was nearly
 * reached, of (real cost - reserved worst case) — the prompt-estimate error at the prompt price (budget/estimate.ts).
 * A call that crashed after OpenRouter charged it is never settled: its cost is missing from the counters (its
 * reservation lapses), so the next calls may spend up to that call's worst case again.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import type { BudgetCaps, BudgetOverride, BudgetUsage } from '../budget/check.js';
import { formatUsd, fromNano, toNano, toNanoCeil } from '../budget/money.js';
import { WINDOWS, currentWindows, dayKey, windowRef, type BudgetWindow } from '../budget/windows.js';
import type { Logger } from '../observability/logger.js';
import { silentLogger } from '../observability/logger.js';
import { errorName } from '../observability/error-name.js';
import { UserDefaultsSchema, type UserDefaults } from '../policy/user-defaults.js';
import { StoreError } from './store-error.js';
import { BATCH_WRITE_MAX, ConditionFailedError, Table, expiresAfter, type Item } from './table.js';
import { keys } from './schema.js';

export const DEFAULT_LEDGER_DAYS = 90;
/** A reservation outlives the longest call (the upstream timeout is at most 15 minutes) before it lapses. */
export const RESERVATION_MS = 20 * 60_000;
const RESERVATION_PREFIX = 'r_';
const RESERVATION_AMOUNT_PREFIX = 'ra_';
/** Largest page a view may ask for; more needs paging by time. */
export const MAX_RECORDS = 5_000;
/** Widest date range a totals query reads (a little over a year of day items). */
export const MAX_DAYS = 400;
/** Users whose last usage read is kept for recentUsage() (the oldest read is forgotten first). */
const RECENT_USERS = 1_000;

const Text = (max: number) => z.string().min(1).max(max).regex(/^[^\u0000-\u001f]*$/, 'no control characters');
const Count = z.number().int().min(0).max(1e12);

/** Everything a ledger record may hold. Strict: a field not named here (a prompt, a key) is rejected, not stored. */
export const LedgerRecordInputSchema = z.strictObject({
  time: z.date(),
  userId: Text(200),
  tokenId: Text(100).optional(),
  // An OAuth client id may be a client metadata document URL, bounded as the token endpoint bounds client_id.
  clientId: Text(2000).optional(),
  tool: z.string().regex(/^[a-z0-9_:.-]{1,64}$/),
  requestedModel: Text(200).optional(),
  servedModel: Text(200).optional(),
  provider: Text(100).optional(),
  generationId: Text(200).optional(),
  outcome: z.enum(['ok', 'error', 'refused']),
  /** Why a call was refused or failed, as a short code (`budget:daily`, `policy:model_denied`, `upstream:402`). */
  reason: z.string().regex(/^[a-z0-9_:.-]{1,64}$/).optional(),
  tokensIn: Count.optional(),
  tokensOut: Count.optional(),
  tokensReasoning: Count.optional(),
  tokensCached: Count.optional(),
  /** OpenRouter's `usage.cost`; absent when the result did not report it. */
  costUsd: z.number().min(0).max(1e6).optional(),
  latencyMs: z.number().int().min(0).max(86_400_000).optional(),
});

export type LedgerRecordInput = z.input<typeof LedgerRecordInputSchema>;

/** An operator's action on a user (budget set, user disabled…), kept in that user's ledger as an audit record. */
export const AdminActionSchema = z.strictObject({
  time: z.date(),
  /** Who acted: a user id, or `cli` for the operator's CLI. */
  actor: Text(200),
  action: z.string().regex(/^[a-z0-9_.-]{1,48}$/),
  targetUserId: Text(200),
  /** What changed, for people (`daily=2.50 weekly=none`); never a secret. */
  detail: Text(500).optional(),
});

export type AdminActionInput = z.input<typeof AdminActionSchema>;

/** `reported`: OpenRouter's cost; `estimated`: not reported, the estimate given was counted; `unknown`: nothing counted. */
export type CostSource = 'reported' | 'estimated' | 'unknown';

export interface LedgerRecord extends Omit<LedgerRecordInput, 'time'> {
  recordId: string;
  /** Audit records of admin actions: who acted and what changed (their `tool` is `admin:<action>`). */
  actor?: string;
  detail?: string;
  time: string;
  costSource: CostSource;
  /** What the budget counters hold for this call. */
  countedUsd: number;
}

export interface Reservation {
  reservationId: string;
  userId: string;
  amountNano: number;
  /** The windows it was taken in (the capped ones) and their keys at reservation time. */
  windows: { window: BudgetWindow; key: string }[];
  /** The day/week/month keys the call's spend goes to (all three), fixed when it started. */
  keys: Record<BudgetWindow, string>;
  expiresAtMs: number;
}

export interface ReservationRefusal {
  ok: false;
  window: BudgetWindow;
  capUsd: number;
  spentUsd: number;
  reservedUsd: number;
  worstCaseUsd: number;
  resetsAt: string;
  message: string;
}

export interface WindowTotals {
  spentUsd: number;
  reservedUsd: number;
  calls: number;
}

/** What a budget check needs, read in one BatchGet. */
export interface UsageSnapshot {
  usage: BudgetUsage;
  windows: Record<BudgetWindow, WindowTotals & { key: string; resetsAt: string }>;
  override: BudgetOverride;
  defaults?: UserDefaults;
}

export interface DayTotal {
  day: string;
  spentUsd: number;
  calls: number;
  refused: number;
  tokensIn: number;
  tokensOut: number;
}

export interface ModelDayTotal {
  day: string;
  model: string;
  spentUsd: number;
  calls: number;
  tokensIn: number;
  tokensOut: number;
}

export interface LedgerStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** `ORMCP_LEDGER_DAYS`: records expire this many days after their call. */
  ledgerDays?: number;
  reservationMs?: number;
  /** How long records and counter additions may wait to be written together (see above); 0: at once. */
  writeBehindMs?: number;
  logger?: Logger;
  now?: () => Date;
}

/** Counter additions summed for one item. */
interface QueuedCounters {
  key: { pk: string; sk: string };
  counters: Record<string, number>;
  tags: Item;
}

/** Writes that wait for the next flush: whole records, and counter additions summed per item. */
interface WriteQueue {
  records: (Item & { pk: string; sk: string })[];
  counters: Map<string, QueuedCounters>;
}

/** Flushes in a row that may fail before what they hold is dropped (logged). */
const MAX_FLUSH_RETRIES = 3;

/** Records that make a flush start at once (one BatchWriteItem's worth), whatever the time left. */
const FLUSH_RECORDS = BATCH_WRITE_MAX;

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** Sort keys may not carry `#` inside a model id (it separates key parts); ids never contain one. */
function modelKeyPart(model: string): string {
  return model.replace(/#/g, '_');
}

export class LedgerStore {
  private readonly table: Table;
  private readonly ledgerDays: number;
  private readonly reservationMs: number;
  private readonly log: Logger;
  private readonly now: () => Date;
  /** Each user's last usage read on this instance and when it was made (see recentUsage()). */
  private readonly recent = new Map<string, { snapshot: UsageSnapshot; readAtMs: number }>();
  /** Moves on every settings change here, so a read that raced one is not remembered. */
  private settingsChanges = 0;
  private readonly writeBehindMs: number;
  private queue: WriteQueue = { records: [], counters: new Map() };
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly flushing = new Set<Promise<void>>();
  private failedFlushes = 0;

  constructor(options: LedgerStoreOptions) {
    this.table = new Table({ client: options.client, tableName: options.tableName });
    this.ledgerDays = options.ledgerDays ?? DEFAULT_LEDGER_DAYS;
    this.reservationMs = options.reservationMs ?? RESERVATION_MS;
    this.writeBehindMs = options.writeBehindMs ?? 0;
    this.log = options.logger ?? silentLogger;
    this.now = options.now ?? (() => new Date());
  }

  // ---- budget reads ------------------------------------------------------------------------------

  /** The three current windows, the user's override and defaults: one round trip. */
  async readUsage(userId: string, at: Date = this.now()): Promise<UsageSnapshot> {
    const refs = currentWindows(at);
    const wanted = [...WINDOWS.map((w) => keys.usageWindow(userId, w, refs[w].key)), keys.budgetOverride(userId), keys.userDefaults(userId)];
    const changesBefore = this.settingsChanges;
    // Dated when the read starts: recentUsage's age bound then covers the read's own time.
    const readAtMs = this.now().getTime();
    await this.written();
    const items = await this.table.batchGet(wanted);
    const find = (k: { pk: string; sk: string }) => items.find((i) => i.pk === k.pk && i.sk === k.sk);
    const nowMs = at.getTime();
    const windows = {} as UsageSnapshot['windows'];
    const usage = {} as BudgetUsage;
    for (const w of WINDOWS) {
      const totals = windowTotals(find(keys.usageWindow(userId, w, refs[w].key)), nowMs);
      windows[w] = { ...totals, key: refs[w].key, resetsAt: refs[w].resetsAt.toISOString() };
      usage[w] = { spentUsd: totals.spentUsd, reservedUsd: totals.reservedUsd };
    }
    const defaults = UserDefaultsSchema.safeParse(find(keys.userDefaults(userId))?.defaults);
    const snapshot: UsageSnapshot = { usage, windows, override: toOverride(find(keys.budgetOverride(userId))), ...(defaults.success && defaults.data ? { defaults: defaults.data } : {}) };
    if (changesBefore === this.settingsChanges) this.remember(userId, snapshot, readAtMs);
    return snapshot;
  }

  /**
   * This instance's last usage read for the user, if made within `maxAgeMs`. Its override and defaults are as
   * stored then, except that this instance's own setBudgetOverride() and setDefaults() drop it at once; its spend
   * is not kept current (records do not update it), so it may only stand in where spend does not matter.
   */
  recentUsage(userId: string, maxAgeMs: number): UsageSnapshot | undefined {
    const hit = this.recent.get(userId);
    return hit && this.now().getTime() - hit.readAtMs <= maxAgeMs ? hit.snapshot : undefined;
  }

  /** Before and after a settings write: neither an earlier read nor one racing the write is reused. */
  private forgetSettings(userId: string): void {
    this.settingsChanges++;
    this.recent.delete(userId);
  }

  private remember(userId: string, snapshot: UsageSnapshot, readAtMs: number): void {
    this.recent.delete(userId);
    if (this.recent.size >= RECENT_USERS) this.recent.delete(this.recent.keys().next().value!);
    this.recent.set(userId, { snapshot, readAtMs });
  }

  /** Every listed user's spend in the current windows, for the admin view (BatchGet, 33 users per round trip). */
  async currentSpend(userIds: readonly string[], at: Date = this.now()): Promise<Map<string, Record<BudgetWindow, WindowTotals>>> {
    const refs = currentWindows(at);
    const wanted = userIds.flatMap((u) => WINDOWS.map((w) => keys.usageWindow(u, w, refs[w].key)));
    await this.written();
    const items = await this.table.batchGet(wanted);
    const bySk = new Map(items.map((i) => [`${String(i.pk)}|${String(i.sk)}`, i]));
    const out = new Map<string, Record<BudgetWindow, WindowTotals>>();
    for (const u of userIds) {
      const row = {} as Record<BudgetWindow, WindowTotals>;
      for (const w of WINDOWS) {
        const k = keys.usageWindow(u, w, refs[w].key);
        row[w] = windowTotals(bySk.get(`${k.pk}|${k.sk}`), at.getTime());
      }
      out.set(u, row);
    }
    return out;
  }

  // ---- reservations ------------------------------------------------------------------------------

  /**
   * Reserves `worstCaseUsd` in every capped window, or refuses naming the first window it does not fit. With no
   * cap at all nothing is written and the reservation only fixes the call's windows.
   */
  async reserve(userId: string, caps: BudgetCaps, worstCaseUsd: number, at: Date = this.now()): Promise<{ ok: true; reservation: Reservation } | ReservationRefusal> {
    // Spend still waiting to be written (write-behind) must be in the items the conditions read.
    await this.written();
    const refs = currentWindows(at);
    const amountNano = toNanoCeil(Math.max(0, worstCaseUsd));
    const reservation: Reservation = {
      reservationId: randomBytes(8).toString('hex'),
      userId,
      amountNano,
      windows: [],
      keys: { daily: refs.daily.key, weekly: refs.weekly.key, monthly: refs.monthly.key },
      expiresAtMs: at.getTime() + this.reservationMs,
    };
    const capped = WINDOWS.filter((w) => caps[w] !== undefined);
    const results = await Promise.allSettled(capped.map((w) => this.reserveIn(reservation, w, toNano(caps[w]!), at.getTime())));
    const taken = capped.filter((_, i) => results[i]!.status === 'fulfilled' && (results[i] as PromiseFulfilledResult<boolean>).value);
    reservation.windows = taken.map((w) => ({ window: w, key: refs[w].key }));
    if (taken.length === capped.length) return { ok: true, reservation };
    await this.release(reservation);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const window = capped.find((_, i) => !(results[i] as PromiseFulfilledResult<boolean>).value)!;
    const snapshot = await this.readUsage(userId, at);
    const capUsd = caps[window]!;
    const { spentUsd, reservedUsd } = snapshot.usage[window];
    const left = Math.max(0, capUsd - spentUsd - reservedUsd);
    return {
      ok: false,
      window,
      capUsd,
      spentUsd,
      reservedUsd,
      worstCaseUsd,
      resetsAt: refs[window].resetsAt.toISOString(),
      message:
        `Budget: this call could cost up to ${formatUsd(worstCaseUsd)}, but your ${window} cap of ${formatUsd(capUsd)} has ${formatUsd(left)} left ` +
        `(spent ${formatUsd(spentUsd)}, reserved by running calls ${formatUsd(reservedUsd)}). Lower max_tokens, wait for running calls, or retry after ${refs[window].resetsAt.toISOString()}. Nothing was sent to OpenRouter.`,
    };
  }

  private async reserveIn(r: Reservation, window: BudgetWindow, capNano: number, nowMs: number): Promise<boolean> {
    const limit = capNano - r.amountNano;
    if (limit < 0) return false;
    const key = keys.usageWindow(r.userId, window, r.keys[window]);
    const attempt = () =>
      this.table.tryUpdate({
        key,
        update: 'ADD #c :amt SET #r = :exp, #ra = :amt, #type = :type, #win = :win, #wkey = :wkey',
        condition: 'attribute_not_exists(#c) OR #c <= :limit',
        names: { '#c': 'committedNano', '#r': RESERVATION_PREFIX + r.reservationId, '#ra': RESERVATION_AMOUNT_PREFIX + r.reservationId, '#type': 'type', '#win': 'window', '#wkey': 'windowKey' },
        values: { ':amt': r.amountNano, ':exp': r.expiresAtMs, ':limit': limit, ':type': 'usage', ':win': window, ':wkey': r.keys[window] },
      });
    if (await attempt()) return true;
    return (await this.reclaimLapsed(key, nowMs)) > 0 && attempt();
  }

  /** Removes reservations whose call stopped without settling; each only if unchanged since read. */
  async reclaimLapsed(key: { pk: string; sk: string }, nowMs: number = this.now().getTime()): Promise<number> {
    const item = (await this.table.get(key)) ?? {};
    const lapsed = Object.keys(item)
      .filter((name) => name.startsWith(RESERVATION_PREFIX) && !(num(item[name]) > nowMs))
      .slice(0, 50);
    if (lapsed.length === 0) return 0;
    const names: Record<string, string> = { '#c': 'committedNano' };
    const values: Record<string, unknown> = {};
    const conditions: string[] = [];
    const removes: string[] = [];
    let total = 0;
    lapsed.forEach((name, i) => {
      const amountName = RESERVATION_AMOUNT_PREFIX + name.slice(RESERVATION_PREFIX.length);
      names[`#r${i}`] = name;
      names[`#a${i}`] = amountName;
      values[`:e${i}`] = item[name];
      conditions.push(`#r${i} = :e${i}`);
      removes.push(`#r${i}`, `#a${i}`);
      total += num(item[amountName]);
    });
    values[':k'] = -total;
    // A failed condition: settled, released or reclaimed elsewhere meanwhile.
    if (!(await this.table.tryUpdate({ key, update: `ADD #c :k REMOVE ${removes.join(', ')}`, condition: conditions.join(' AND '), names, values }))) return 0;
    this.log.warn('reclaimed lapsed budget reservations', { reservations: lapsed.length });
    return lapsed.length;
  }

  /** Gives a reservation back without spending (a call refused or abandoned before OpenRouter charged it). */
  async release(r: Reservation): Promise<void> {
    await Promise.all(r.windows.map(({ window, key }) => this.dropReservation(keys.usageWindow(r.userId, window, key), r, 0, {})));
  }

  /**
   * Removes the reservation from one window item and adds `costNano` plus `counters`, in one write; if the
   * reservation was already reclaimed, adds them without it (committed then only grows by the cost).
   */
  private async dropReservation(key: { pk: string; sk: string }, r: Reservation, costNano: number, counters: Record<string, number>): Promise<void> {
    const { expr, names, values } = addExpression({ ...counters, ...(costNano ? { spendNano: costNano } : {}) });
    const dropped = await this.table.tryUpdate({
      key,
      update: `ADD #c :delta${expr ? `, ${expr}` : ''} REMOVE #r, #ra`,
      condition: 'attribute_exists(#r)',
      names: { ...names, '#c': 'committedNano', '#r': RESERVATION_PREFIX + r.reservationId, '#ra': RESERVATION_AMOUNT_PREFIX + r.reservationId },
      values: { ...values, ':delta': costNano - r.amountNano },
    });
    if (!dropped) {
      const rest = { ...counters, ...(costNano ? { spendNano: costNano, committedNano: costNano } : {}) };
      if (Object.keys(rest).length > 0) await this.addCounters(key, rest);
    }
  }

  // ---- ledger ------------------------------------------------------------------------------------

  /**
   * Writes one ledger record and moves the aggregates: settles `reservation` to the real cost (or releases it for a
   * refused call). The spend counts in the windows the call started in (the reservation's, else `time`'s). When the
   * cost was not reported, `estimatedCostUsd` (or else the reservation's worst case) is
   * counted and the record says so; fillCost() corrects it later. Throws on a store failure: the caller logs it
   * and counts a metric, never failing the user's call over it.
   */
  async record(input: LedgerRecordInput, options: { reservation?: Reservation; estimatedCostUsd?: number } = {}): Promise<LedgerRecord> {
    const parsed = LedgerRecordInputSchema.safeParse(input);
    if (!parsed.success) throw new StoreError('invalid_input', `invalid ledger record: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    const rec = parsed.data;
    const { reservation } = options;
    if (reservation && reservation.userId !== rec.userId) throw new StoreError('invalid_input', 'the reservation belongs to another user');
    const refused = rec.outcome === 'refused';
    let costSource: CostSource = 'reported';
    let countedNano = 0;
    if (!refused) {
      if (rec.costUsd !== undefined) countedNano = toNano(rec.costUsd);
      else if (options.estimatedCostUsd !== undefined) [costSource, countedNano] = ['estimated', toNanoCeil(options.estimatedCostUsd)];
      else if (reservation) [costSource, countedNano] = ['estimated', reservation.amountNano];
      else costSource = 'unknown';
    } else costSource = 'unknown';
    const time = rec.time.toISOString();
    const recordId = randomUUID();
    const { time: _t, ...fields } = rec;
    const record: LedgerRecord = { ...fields, recordId, time, costSource, countedUsd: fromNano(countedNano) };
    const ttl = expiresAfter(rec.time, this.ledgerDays * 86_400);
    const put = this.putRecord({ ...keys.ledgerRecord(rec.userId, time, recordId), type: 'ledger', ...record, countedNano, ...ttl });
    // A cost OpenRouter did not report can be filled from the generation's stats later: remember where it goes.
    const pointer = !refused && costSource !== 'reported' && rec.generationId ? this.putRecord({ ...keys.generationCost(rec.userId, rec.generationId), type: 'generation-cost', time, recordId, ...ttl }) : undefined;
    const windowKeys = reservation?.keys ?? keysAt(rec.time);
    const aggregates = refused
      ? [reservation ? this.release(reservation) : Promise.resolve(), this.addCounters(keys.usageWindow(rec.userId, 'daily', windowKeys.daily), { refused: 1 }, 'daily', windowKeys.daily)]
      : this.settle(rec, windowKeys, countedNano, reservation);
    await Promise.all([put, pointer, ...aggregates]);
    return record;
  }

  /** Writes an admin action into the target user's ledger (same TTL; no counters move). */
  async recordAdminAction(input: AdminActionInput): Promise<LedgerRecord> {
    const parsed = AdminActionSchema.safeParse(input);
    if (!parsed.success) throw new StoreError('invalid_input', `invalid admin action: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    const a = parsed.data;
    const time = a.time.toISOString();
    const recordId = randomUUID();
    const record: LedgerRecord = {
      recordId,
      time,
      userId: a.targetUserId,
      tool: `admin:${a.action}`,
      outcome: 'ok',
      actor: a.actor,
      ...(a.detail ? { detail: a.detail } : {}),
      costSource: 'unknown',
      countedUsd: 0,
    };
    await this.table.put({ ...keys.ledgerRecord(a.targetUserId, time, recordId), type: 'audit', ...record, countedNano: 0, ...expiresAfter(a.time, this.ledgerDays * 86_400) });
    return record;
  }

  private settle(rec: z.output<typeof LedgerRecordInputSchema>, windowKeys: Record<BudgetWindow, string>, costNano: number, reservation?: Reservation): Promise<void>[] {
    const counters = {
      calls: 1,
      ...(rec.tokensIn ? { tokensIn: rec.tokensIn } : {}),
      ...(rec.tokensOut ? { tokensOut: rec.tokensOut } : {}),
      ...(rec.tokensReasoning ? { tokensReasoning: rec.tokensReasoning } : {}),
      ...(rec.tokensCached ? { tokensCached: rec.tokensCached } : {}),
    };
    const writes = WINDOWS.map((w) => {
      const key = keys.usageWindow(rec.userId, w, windowKeys[w]);
      const held = reservation?.windows.some((x) => x.window === w);
      return held ? this.dropReservation(key, reservation!, costNano, counters) : this.addCounters(key, { ...counters, spendNano: costNano, committedNano: costNano }, w, windowKeys[w]);
    });
    const model = rec.servedModel ?? rec.requestedModel ?? 'unknown';
    writes.push(this.addCounters(keys.usageModelDay(rec.userId, windowKeys.daily, modelKeyPart(model)), { ...counters, spendNano: costNano }, undefined, undefined, { model, day: windowKeys.daily }));
    return writes;
  }

  /**
   * Replaces an estimated or unknown cost with OpenRouter's (from get_generation later), once: the record's
   * condition makes a second fill a no-op. Returns whether this call filled it.
   */
  async fillCost(userId: string, ref: { time: string; recordId: string }, costUsd: number): Promise<boolean> {
    if (!(Number.isFinite(costUsd) && costUsd >= 0 && costUsd <= 1e6)) throw new StoreError('invalid_input', 'a cost is a number of USD ≥ 0');
    const costNano = toNano(costUsd);
    await this.written();
    let old: Item;
    try {
      const res = await this.table.update({
        key: keys.ledgerRecord(userId, ref.time, ref.recordId),
        update: 'SET costUsd = :c, costSource = :reported, countedNano = :n, countedUsd = :cu',
        condition: 'attribute_exists(pk) AND costSource <> :reported AND outcome <> :refused',
        values: { ':c': costUsd, ':reported': 'reported', ':n': costNano, ':cu': fromNano(costNano), ':refused': 'refused' },
        returns: 'ALL_OLD',
      });
      old = res ?? {};
    } catch (err) {
      if (err instanceof ConditionFailedError) return false;
      throw err;
    }
    const delta = costNano - num(old.countedNano);
    if (delta !== 0) {
      const at = new Date(ref.time);
      const k = keysAt(at);
      const model = String(old.servedModel ?? old.requestedModel ?? 'unknown');
      await Promise.all([
        ...WINDOWS.map((w) => this.addCounters(keys.usageWindow(userId, w, k[w]), { spendNano: delta, committedNano: delta })),
        this.addCounters(keys.usageModelDay(userId, k.daily, modelKeyPart(model)), { spendNano: delta }),
      ]);
    }
    return true;
  }

  /**
   * Fills a record's missing cost from OpenRouter's stats of its generation (get_generation), once: false when no
   * record of this user misses that generation's cost, or it was filled already.
   */
  async fillCostOfGeneration(userId: string, generationId: string, costUsd: number): Promise<boolean> {
    if (generationId.length === 0 || generationId.length > 200) return false;
    await this.written();
    const key = keys.generationCost(userId, generationId);
    const pointer = await this.table.get(key);
    if (typeof pointer?.time !== 'string' || typeof pointer.recordId !== 'string') return false;
    const filled = await this.fillCost(userId, { time: pointer.time, recordId: pointer.recordId }, costUsd);
    await this.table.delete(key);
    return filled;
  }

  /** A user's records between `since` (inclusive) and `until` (exclusive), newest first unless told otherwise. */
  async listRecords(userId: string, options: { since?: Date; until?: Date; limit?: number; oldestFirst?: boolean } = {}): Promise<LedgerRecord[]> {
    const limit = Math.min(Math.max(1, options.limit ?? 1_000), MAX_RECORDS);
    await this.written();
    const from = `${keys.ledgerPrefix()}${options.since?.toISOString() ?? ''}`;
    const to = options.until ? `${keys.ledgerPrefix()}${options.until.toISOString()}` : `${keys.ledgerPrefix()}\uffff`;
    const items = await this.table.query({ partition: `USER#${userId}`, range: { from, to }, limit, ascending: Boolean(options.oldestFirst) });
    return items.map(toLedgerRecord);
  }

  /** Daily totals from `since` to `until` (`YYYY-MM-DD`, inclusive); days without calls are absent. */
  async dailyTotals(userId: string, since: string, until: string): Promise<DayTotal[]> {
    checkRange(since, until);
    await this.written();
    const items = await this.table.query({ partition: `USER#${userId}`, range: { from: keys.usageWindow(userId, 'daily', since).sk, to: keys.usageWindow(userId, 'daily', until).sk }, limit: MAX_DAYS + 1, ascending: true });
    return items.map((i) => ({ day: String(i.sk).slice('USAGE#D#'.length), spentUsd: fromNano(num(i.spendNano)), calls: num(i.calls), refused: num(i.refused), tokensIn: num(i.tokensIn), tokensOut: num(i.tokensOut) }));
  }

  /** Totals per model and day from `since` to `until` (inclusive). */
  async modelTotals(userId: string, since: string, until: string): Promise<ModelDayTotal[]> {
    checkRange(since, until);
    await this.written();
    const items = await this.table.query({ partition: `USER#${userId}`, range: { from: `USAGE#DM#${since}#`, to: `USAGE#DM#${until}#\uffff` }, limit: MAX_RECORDS, ascending: true });
    return items.map((i) => ({ day: String(i.day), model: String(i.model), spentUsd: fromNano(num(i.spendNano)), calls: num(i.calls), tokensIn: num(i.tokensIn), tokensOut: num(i.tokensOut) }));
  }

  // ---- budget overrides and defaults -------------------------------------------------------------

  async getBudgetOverride(userId: string): Promise<BudgetOverride> {
    return toOverride(await this.table.get(keys.budgetOverride(userId)));
  }

  /** Per window: a cap in USD, `null` for no cap, `'default'` to inherit the operator's default again. */
  async setBudgetOverride(userId: string, change: Partial<Record<BudgetWindow, number | null | 'default'>>): Promise<BudgetOverride> {
    const sets: string[] = [];
    const removes: string[] = [];
    const names: Record<string, string> = { '#type': 'type' };
    const values: Record<string, unknown> = { ':type': 'budget', ':t': this.now().toISOString() };
    for (const w of WINDOWS) {
      const v = change[w];
      if (v === undefined) continue;
      if (v !== null && v !== 'default' && !(typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1_000_000)) {
        throw new StoreError('invalid_input', `a ${w} cap is a number of USD from 0 to 1000000, "none" or "default"`);
      }
      names[`#${w}`] = w;
      if (v === 'default') removes.push(`#${w}`);
      else {
        sets.push(`#${w} = :${w}`);
        values[`:${w}`] = v;
      }
    }
    await this.requireUser(userId);
    this.forgetSettings(userId);
    const res = await this.table.update({
      key: keys.budgetOverride(userId),
      update: `SET ${['#type = :type', 'updatedAt = :t', ...sets].join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
      names,
      values,
      returns: 'ALL_NEW',
    });
    this.forgetSettings(userId);
    return toOverride(res);
  }

  async getDefaults(userId: string): Promise<UserDefaults | undefined> {
    const parsed = UserDefaultsSchema.safeParse((await this.table.get(keys.userDefaults(userId)))?.defaults);
    return parsed.success ? parsed.data : undefined;
  }

  /** Replaces the user's defaults (validated; an empty object clears them). */
  async setDefaults(userId: string, defaults: unknown): Promise<UserDefaults> {
    const parsed = UserDefaultsSchema.safeParse(defaults);
    if (!parsed.success) throw new StoreError('invalid_input', `invalid defaults: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'defaults'}: ${i.message}`).join('; ')}`);
    await this.requireUser(userId);
    this.forgetSettings(userId);
    await this.table.put({ ...keys.userDefaults(userId), type: 'defaults', defaults: parsed.data, updatedAt: this.now().toISOString() });
    this.forgetSettings(userId);
    return parsed.data;
  }

  // ---- plumbing ----------------------------------------------------------------------------------

  private async requireUser(userId: string): Promise<void> {
    if (!(await this.table.get(keys.user(userId)))) throw new StoreError('no_such_user', 'no such user');
  }

  /** ADD counters to one item (created on first use), tagging it so listings know what it is; deferred under write-behind. */
  private async addCounters(key: { pk: string; sk: string }, counters: Record<string, number>, window?: BudgetWindow, windowKey?: string, extra: Item = {}): Promise<void> {
    const tags: Item = { type: 'usage', ...(window ? { window, windowKey } : {}), ...extra };
    if (this.writeBehindMs <= 0) return this.writeCounters(key, counters, tags);
    this.queueCounters(key, counters, tags);
    this.scheduleFlush();
  }

  /** Adds to the item's queued sums (a new entry for its first). */
  private queueCounters(key: { pk: string; sk: string }, counters: Record<string, number>, tags: Item): void {
    const id = `${key.pk}|${key.sk}`;
    const queued = this.queue.counters.get(id);
    if (!queued) this.queue.counters.set(id, { key, counters: { ...counters }, tags: { ...tags } });
    else {
      for (const [name, n] of Object.entries(counters)) queued.counters[name] = (queued.counters[name] ?? 0) + n;
      Object.assign(queued.tags, tags);
    }
  }

  private async putRecord(item: Item & { pk: string; sk: string }): Promise<void> {
    if (this.writeBehindMs <= 0) return this.table.put(item);
    this.queue.records.push(item);
    this.scheduleFlush();
  }

  /**
   * Writes whatever waits (write-behind) and resolves once it and every flush still running have landed; rejects
   * if this flush's writes failed (what failed is queued again, see writeQueued).
   */
  async flush(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const { records, counters } = this.queue;
    this.queue = { records: [], counters: new Map() };
    const own = records.length + counters.size === 0 ? undefined : this.writeQueued(records, [...counters.values()]);
    if (own) {
      this.flushing.add(own);
      void own.then(
        () => this.flushing.delete(own),
        () => this.flushing.delete(own),
      );
    }
    await Promise.allSettled([...this.flushing]);
    await own;
  }

  /**
   * One flush's writes, all of them tried (and awaited) whatever fails. What failed goes back in the queue for the
   * next flush — a record is put again whole (a put of the same item is harmless), a counter's sums merge with the
   * ones queued since — up to MAX_FLUSH_RETRIES flushes in a row; then it is dropped, and the log says how much.
   * Rejects with the first failure.
   */
  private async writeQueued(records: WriteQueue['records'], counters: QueuedCounters[]): Promise<void> {
    const chunks: WriteQueue['records'][] = [];
    for (let i = 0; i < records.length; i += FLUSH_RECORDS) chunks.push(records.slice(i, i + FLUSH_RECORDS));
    const results = await Promise.allSettled([...chunks.map((chunk) => this.table.batchPut(chunk)), ...counters.map((c) => this.writeCounters(c.key, c.counters, c.tags))]);
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (!failure) {
      this.failedFlushes = 0;
      return;
    }
    const failedRecords = chunks.filter((_, i) => results[i]!.status === 'rejected').flat();
    const failedCounters = counters.filter((_, i) => results[chunks.length + i]!.status === 'rejected');
    if (++this.failedFlushes <= MAX_FLUSH_RETRIES) {
      this.queue.records.unshift(...failedRecords);
      for (const c of failedCounters) this.queueCounters(c.key, c.counters, c.tags);
      this.scheduleFlush();
    } else {
      this.failedFlushes = 0;
      this.log.error('ledger writes dropped after retries', { records: failedRecords.length, counter_items: failedCounters.length, error: errorName(failure.reason) });
    }
    throw failure.reason;
  }

  /** Before a read on this instance: what waits is written first (a failure is logged, not the reader's). */
  private async written(): Promise<void> {
    if (this.writeBehindMs <= 0) return;
    await this.flush().catch((err: unknown) => this.log.error('ledger write failed', { error: errorName(err) }));
  }

  private scheduleFlush(): void {
    if (this.queue.records.length >= FLUSH_RECORDS) void this.written();
    else if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => void this.written(), this.writeBehindMs);
      // A waiting flush never keeps the process alive: a stop writes it (flush) and a crash is the documented loss.
      this.flushTimer.unref();
    }
  }

  private async writeCounters(key: { pk: string; sk: string }, counters: Record<string, number>, tags: Item): Promise<void> {
    const { expr, names, values } = addExpression(counters);
    const setParts = Object.keys(tags).map((k, i) => {
      names[`#s${i}`] = k;
      values[`:s${i}`] = tags[k];
      return `#s${i} = :s${i}`;
    });
    await this.table.update({ key, update: `${expr ? `ADD ${expr} ` : ''}SET ${setParts.join(', ')}`, names, values });
  }
}

function keysAt(t: Date): Record<BudgetWindow, string> {
  return { daily: dayKey(t), weekly: windowRef('weekly', t).key, monthly: windowRef('monthly', t).key };
}

function addExpression(counters: Record<string, number>): { expr: string; names: Record<string, string>; values: Record<string, unknown> } {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const parts = Object.entries(counters).map(([k, v], i) => {
    names[`#n${i}`] = k;
    values[`:n${i}`] = v;
    return `#n${i} :n${i}`;
  });
  return { expr: parts.join(', '), names, values };
}

function windowTotals(item: Item | undefined, nowMs: number): WindowTotals {
  if (!item) return { spentUsd: 0, reservedUsd: 0, calls: 0 };
  let reservedNano = 0;
  for (const [name, value] of Object.entries(item)) {
    if (name.startsWith(RESERVATION_PREFIX) && num(value) > nowMs) reservedNano += num(item[RESERVATION_AMOUNT_PREFIX + name.slice(RESERVATION_PREFIX.length)]);
  }
  return { spentUsd: fromNano(num(item.spendNano)), reservedUsd: fromNano(reservedNano), calls: num(item.calls) };
}

function toOverride(item: Item | undefined): BudgetOverride {
  const out: BudgetOverride = {};
  for (const w of WINDOWS) {
    const v = item?.[w];
    if (v === null) out[w] = null;
    else if (typeof v === 'number') out[w] = v;
  }
  return out;
}

const RECORD_FIELDS = ['userId', 'tokenId', 'clientId', 'tool', 'requestedModel', 'servedModel', 'provider', 'generationId', 'outcome', 'reason', 'tokensIn', 'tokensOut', 'tokensReasoning', 'tokensCached', 'costUsd', 'latencyMs', 'actor', 'detail'] as const;

function toLedgerRecord(item: Item): LedgerRecord {
  const out: Item = { recordId: item.recordId, time: item.time, costSource: item.costSource, countedUsd: fromNano(num(item.countedNano)) };
  for (const f of RECORD_FIELDS) if (item[f] !== undefined) out[f] = item[f];
  return out as unknown as LedgerRecord;
}

function checkRange(since: string, until: string): void {
  const day = /^\d{4}-\d{2}-\d{2}$/;
  const a = Date.parse(`${since}T00:00:00Z`);
  const b = Date.parse(`${until}T00:00:00Z`);
  if (!day.test(since) || !day.test(until) || !Number.isFinite(a) || !Number.isFinite(b)) throw new StoreError('invalid_input', 'dates are YYYY-MM-DD');
  if (b < a) throw new StoreError('invalid_input', 'the range ends before it starts');
  if ((b - a) / 86_400_000 + 1 > MAX_DAYS) throw new StoreError('invalid_input', `a range spans at most ${MAX_DAYS} days`);
}
