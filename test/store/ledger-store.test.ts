/**
 * The ledger store against a real DynamoDB API (dynalite): ledger records and their TTL, the per-window and
 * per-model aggregates under concurrent writers, reservations racing for a small cap, a crashed call's
 * reservation lapsing, unknown costs filled in later, overrides and defaults, the views' queries, and a raw scan
 * of the table that finds no prompt text.
 */
import { newSecretString, parseKeyring } from '../../lambda/crypto/keyring.js';
import { startLocalDynamo, type LocalDynamo } from '../../lambda/local/dynalite.js';
import { AccountStore, StoreError } from '../../lambda/store/account-store.js';
import { LedgerStore, type LedgerRecordInput } from '../../lambda/store/ledger-store.js';
import { keys } from '../../lambda/store/schema.js';
import { scanAll } from '../support/table.js';

const T0 = new Date('2026-12-06T15:30:00.000Z'); // a Sunday: day 2026-12-06, week 2026-W49, month 2026-12
const PROMPT = 'TOP-SECRET-PROMPT-do-not-store-7f3a';

let dynamo: LocalDynamo;
let accounts: AccountStore;
let clock: { now: Date };
let ledger: LedgerStore;
let userCounter = 0;

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  accounts = new AccountStore({ client: dynamo.client, tableName: dynamo.tableName, keyring: parseKeyring(newSecretString()) });
  clock = { now: T0 };
  ledger = new LedgerStore({ client: dynamo.client, tableName: dynamo.tableName, ledgerDays: 30, now: () => clock.now, reservationMs: 60_000 });
});

afterAll(async () => {
  await dynamo.close();
});

async function newUser(): Promise<string> {
  userCounter += 1;
  return (await accounts.createUser(`ledger-user-${userCounter}`)).userId;
}

function call(userId: string, over: Partial<LedgerRecordInput> = {}): LedgerRecordInput {
  return { time: T0, userId, tokenId: 'tok123', tool: 'send_chat_completion_request', requestedModel: 'openai/gpt-4o', servedModel: 'openai/gpt-4o', provider: 'OpenAI', generationId: 'gen-1', outcome: 'ok', tokensIn: 100, tokensOut: 50, costUsd: 0.0012, latencyMs: 850, ...over };
}

describe('ledger records and aggregates', () => {
  test('a call writes one record (with TTL) and moves the day, week, month and model counters', async () => {
    const user = await newUser();
    const rec = await ledger.record(call(user, { tokensReasoning: 20, tokensCached: 10 }));
    expect(rec).toMatchObject({ userId: user, tool: 'send_chat_completion_request', costUsd: 0.0012, costSource: 'reported', countedUsd: 0.0012, time: T0.toISOString() });
    const [listed] = await ledger.listRecords(user);
    expect(listed).toEqual(rec);
    const raw = (await scanAll(dynamo.client, dynamo.tableName)).find((i) => i.recordId === rec.recordId)!;
    expect(raw.ttl).toBe(Math.floor(T0.getTime() / 1000) + 30 * 86_400);

    const snap = await ledger.readUsage(user);
    for (const w of ['daily', 'weekly', 'monthly'] as const) expect(snap.windows[w]).toMatchObject({ spentUsd: 0.0012, reservedUsd: 0, calls: 1 });
    expect(snap.windows.weekly.key).toBe('2026-W49');
    expect(snap.windows.daily.resetsAt).toBe('2026-12-07T00:00:00.000Z');
    expect(await ledger.dailyTotals(user, '2026-12-01', '2026-12-31')).toEqual([{ day: '2026-12-06', spentUsd: 0.0012, calls: 1, refused: 0, tokensIn: 100, tokensOut: 50 }]);
    expect(await ledger.modelTotals(user, '2026-12-06', '2026-12-06')).toEqual([{ day: '2026-12-06', model: 'openai/gpt-4o', spentUsd: 0.0012, calls: 1, tokensIn: 100, tokensOut: 50 }]);
  });

  test('20 concurrent writers: counters add up exactly', async () => {
    const user = await newUser();
    const costs = Array.from({ length: 20 }, (_, i) => 0.0001 * (i + 1) + 0.00000001);
    await Promise.all(costs.map((c, i) => ledger.record(call(user, { costUsd: c, tokensIn: i + 1, servedModel: i % 2 ? 'openai/gpt-4o' : 'anthropic/claude-sonnet-4' }))));
    const total = costs.reduce((a, b) => a + b, 0);
    const snap = await ledger.readUsage(user);
    expect(snap.windows.daily.calls).toBe(20);
    expect(snap.windows.monthly.spentUsd).toBeCloseTo(total, 9);
    const [day] = await ledger.dailyTotals(user, '2026-12-06', '2026-12-06');
    expect(day).toMatchObject({ calls: 20, tokensIn: 210 });
    const byModel = await ledger.modelTotals(user, '2026-12-06', '2026-12-06');
    expect(byModel.map((m) => [m.model, m.calls])).toEqual([['anthropic/claude-sonnet-4', 10], ['openai/gpt-4o', 10]]);
    expect(byModel.reduce((a, m) => a + m.spentUsd, 0)).toBeCloseTo(total, 9);
    expect(await ledger.listRecords(user, { limit: 5 })).toHaveLength(5);
    expect(await ledger.listRecords(user)).toHaveLength(20);
  });

  test('a refused call is recorded with its reason and no cost; only the refusal counter moves', async () => {
    const user = await newUser();
    const rec = await ledger.record(call(user, { outcome: 'refused', reason: 'policy:model_denied', costUsd: undefined, tokensIn: undefined, tokensOut: undefined, servedModel: undefined, generationId: undefined }));
    expect(rec).toMatchObject({ outcome: 'refused', reason: 'policy:model_denied', costSource: 'unknown', countedUsd: 0 });
    expect((await ledger.readUsage(user)).windows.daily).toMatchObject({ spentUsd: 0, calls: 0 });
    expect(await ledger.dailyTotals(user, '2026-12-06', '2026-12-06')).toEqual([{ day: '2026-12-06', spentUsd: 0, calls: 0, refused: 1, tokensIn: 0, tokensOut: 0 }]);
  });

  test('records by time range, newest first; windows follow the call time across a week boundary', async () => {
    const user = await newUser();
    const sunday = new Date('2026-12-06T23:59:59.000Z');
    const monday = new Date('2026-12-07T00:00:01.000Z');
    await ledger.record(call(user, { time: sunday, costUsd: 0.5 }));
    await ledger.record(call(user, { time: monday, costUsd: 0.25 }));
    expect((await ledger.listRecords(user)).map((r) => r.time)).toEqual([monday.toISOString(), sunday.toISOString()]);
    expect((await ledger.listRecords(user, { oldestFirst: true })).map((r) => r.time)).toEqual([sunday.toISOString(), monday.toISOString()]);
    expect((await ledger.listRecords(user, { since: new Date('2026-12-07T00:00:00Z') })).map((r) => r.costUsd)).toEqual([0.25]);
    expect((await ledger.listRecords(user, { until: new Date('2026-12-07T00:00:00Z') })).map((r) => r.costUsd)).toEqual([0.5]);
    const onMonday = await ledger.readUsage(user, monday);
    expect(onMonday.windows.daily).toMatchObject({ key: '2026-12-07', spentUsd: 0.25 });
    expect(onMonday.windows.weekly).toMatchObject({ key: '2026-W50', spentUsd: 0.25 });
    expect(onMonday.windows.monthly).toMatchObject({ key: '2026-12', spentUsd: 0.75 });
  });

  test('an unknown cost counts the estimate, and is filled in once later', async () => {
    const user = await newUser();
    const rec = await ledger.record(call(user, { costUsd: undefined }), { estimatedCostUsd: 0.002 });
    expect(rec).toMatchObject({ costSource: 'estimated', countedUsd: 0.002 });
    expect(rec.costUsd).toBeUndefined();
    expect((await ledger.readUsage(user)).windows.weekly.spentUsd).toBe(0.002);
    expect(await ledger.fillCost(user, rec, 0.0015)).toBe(true);
    expect(await ledger.fillCost(user, rec, 0.9)).toBe(false);
    const [filled] = await ledger.listRecords(user);
    expect(filled).toMatchObject({ costUsd: 0.0015, costSource: 'reported', countedUsd: 0.0015 });
    const snap = await ledger.readUsage(user);
    for (const w of ['daily', 'weekly', 'monthly'] as const) expect(snap.windows[w].spentUsd).toBe(0.0015);
    expect((await ledger.modelTotals(user, '2026-12-06', '2026-12-06'))[0]!.spentUsd).toBe(0.0015);
    expect(await ledger.fillCost(user, { time: rec.time, recordId: 'no-such-record' }, 1)).toBe(false);
  });

  test('a record missing its cost is found by its generation id (and only then, and only for its user)', async () => {
    const user = await newUser();
    const pointers = async () => (await scanAll(dynamo.client, dynamo.tableName)).filter((i) => i.pk === `USER#${user}` && String(i.sk).startsWith('GENCOST#'));
    await ledger.record(call(user, { generationId: 'gen-priced' }));
    expect(await pointers()).toEqual([]);
    await ledger.record(call(user, { generationId: 'gen-unpriced', costUsd: undefined }));
    expect(await pointers()).toHaveLength(1);
    expect(await ledger.fillCostOfGeneration(await newUser(), 'gen-unpriced', 5)).toBe(false);
    expect(await ledger.fillCostOfGeneration(user, 'gen-priced', 5)).toBe(false);
    expect(await ledger.fillCostOfGeneration(user, 'gen-unpriced', 0.0007)).toBe(true);
    expect(await pointers()).toEqual([]);
    expect(await ledger.fillCostOfGeneration(user, 'gen-unpriced', 0.9)).toBe(false);
    expect((await ledger.readUsage(user)).windows.daily.spentUsd).toBeCloseTo(0.0012 + 0.0007, 12);
  });

  test('bad input is refused and nothing is written', async () => {
    const user = await newUser();
    await expect(ledger.record({ ...call(user), tool: 'Bad Tool!' })).rejects.toBeInstanceOf(StoreError);
    await expect(ledger.record({ ...call(user), costUsd: -1 })).rejects.toThrow(/costUsd/);
    await expect(ledger.dailyTotals(user, '2026-12-31', '2026-12-01')).rejects.toThrow(/ends before/);
    await expect(ledger.dailyTotals(user, '2020-01-01', '2026-12-01')).rejects.toThrow(/at most 400 days/);
    expect(await ledger.listRecords(user)).toEqual([]);
    expect((await ledger.readUsage(user)).windows.daily.calls).toBe(0);
  });
});

describe('reservations', () => {
  test('20 concurrent reservations against one small cap: exactly as many as fit, and never more', async () => {
    const user = await newUser();
    const results = await Promise.all(Array.from({ length: 20 }, () => ledger.reserve(user, { daily: 0.1 }, 0.03)));
    const won = results.filter((r) => r.ok);
    expect(won).toHaveLength(3);
    const snap = await ledger.readUsage(user);
    expect(snap.windows.daily.reservedUsd).toBeCloseTo(0.09, 12);
    const refusal = results.find((r) => !r.ok)!;
    expect(refusal).toMatchObject({ ok: false, window: 'daily', capUsd: 0.1, worstCaseUsd: 0.03, resetsAt: '2026-12-07T00:00:00.000Z' });
    if (!refusal.ok) expect(refusal.message).toContain('daily cap of $0.1000 has $0.0100 left');
    // Settling to the real costs leaves spend only.
    await Promise.all(won.map((r) => r.ok && ledger.record(call(user, { costUsd: 0.01 }), { reservation: r.reservation })));
    const after = await ledger.readUsage(user);
    expect(after.windows.daily).toMatchObject({ spentUsd: 0.03, reservedUsd: 0, calls: 3 });
  });

  test('20 concurrent reservations against three capped windows: no window ever passes its cap', async () => {
    const user = await newUser();
    const caps = { daily: 0.1, weekly: 0.12, monthly: 0.11 };
    const results = await Promise.all(Array.from({ length: 20 }, () => ledger.reserve(user, caps, 0.03)));
    const won = results.filter((r) => r.ok).length;
    // A call refused by one window rolls back the others, so racing calls may refuse each other near the cap
    // (never over-admit): at most 3 win, and whatever lost is given back.
    expect(won).toBeLessThanOrEqual(3);
    const snap = await ledger.readUsage(user);
    for (const w of ['daily', 'weekly', 'monthly'] as const) {
      expect(snap.windows[w].reservedUsd).toBeCloseTo(0.03 * won, 12);
      expect(snap.windows[w].reservedUsd).toBeLessThanOrEqual(caps[w]);
    }
    // Rollbacks restored every lost slot: one at a time, exactly 3 fit in all.
    let more = 0;
    while (more < 10 && (await ledger.reserve(user, caps, 0.03)).ok) more += 1;
    expect(won + more).toBe(3);
  });

  test('20 concurrent calls settle above their reservations: the overspend is only the settled excess', async () => {
    const user = await newUser();
    // Each call reserves $0.02 but really costs $0.025 (the prompt estimate was 25 % low).
    const results = await Promise.all(Array.from({ length: 20 }, () => ledger.reserve(user, { daily: 0.1 }, 0.02)));
    const won = results.filter((r) => r.ok);
    expect(won).toHaveLength(5);
    await Promise.all(won.map((r) => r.ok && ledger.record(call(user, { costUsd: 0.025 }), { reservation: r.reservation })));
    const spent = (await ledger.readUsage(user)).windows.daily.spentUsd;
    expect(spent).toBeCloseTo(0.125, 12);
    expect(spent - 0.1).toBeLessThanOrEqual(won.length * (0.025 - 0.02) + 1e-12);
    expect(await ledger.reserve(user, { daily: 0.1 }, 0.001)).toMatchObject({ ok: false, window: 'daily' });
  });

  test('a crashed call stops counting once its reservation lapses', async () => {
    const user = await newUser();
    const crashed = await ledger.reserve(user, { monthly: 0.1 }, 0.08);
    expect(crashed.ok).toBe(true);
    expect(await ledger.reserve(user, { monthly: 0.1 }, 0.05)).toMatchObject({ ok: false, window: 'monthly' });
    // Past its expiry: the read ignores it, and the next reservation reclaims it.
    const later = new Date(T0.getTime() + 61_000);
    expect((await ledger.readUsage(user, later)).windows.monthly.reservedUsd).toBe(0);
    const next = await ledger.reserve(user, { monthly: 0.1 }, 0.05, later);
    expect(next.ok).toBe(true);
    expect((await ledger.readUsage(user, later)).windows.monthly.reservedUsd).toBe(0.05);
    // The crashed call finishing late after all: its cost still counts, and its reservation is not removed twice.
    if (crashed.ok) await ledger.record(call(user, { costUsd: 0.01 }), { reservation: crashed.reservation });
    const snap = await ledger.readUsage(user, later);
    expect(snap.windows.monthly).toMatchObject({ spentUsd: 0.01, reservedUsd: 0.05 });
    if (next.ok) await ledger.release(next.reservation);
    expect((await ledger.readUsage(user, later)).windows.monthly.reservedUsd).toBe(0);
    expect(await ledger.reserve(user, { monthly: 0.1 }, 0.09, later)).toMatchObject({ ok: true });
  });

  test('a refused call gives its reservation back; a worst case above the cap is refused without a write', async () => {
    const user = await newUser();
    const r = await ledger.reserve(user, { daily: 1 }, 0.4);
    expect(r.ok).toBe(true);
    if (r.ok) await ledger.record(call(user, { outcome: 'refused', reason: 'upstream:402', costUsd: undefined }), { reservation: r.reservation });
    expect((await ledger.readUsage(user)).windows.daily).toMatchObject({ spentUsd: 0, reservedUsd: 0 });
    expect(await ledger.reserve(user, { daily: 1 }, 1.5)).toMatchObject({ ok: false, window: 'daily', spentUsd: 0 });
    expect(await ledger.reserve(user, {}, 5)).toMatchObject({ ok: true, reservation: { windows: [] } });
  });

  test("a reservation cannot settle another user's call", async () => {
    const a = await newUser();
    const b = await newUser();
    const r = await ledger.reserve(a, { daily: 1 }, 0.1);
    if (!r.ok) throw new Error('expected a reservation');
    await expect(ledger.record(call(b), { reservation: r.reservation })).rejects.toThrow(/another user/);
  });
});

describe('overrides, defaults and the admin view', () => {
  test('budget overrides: set, lift, inherit; validated; only for existing users', async () => {
    const user = await newUser();
    expect(await ledger.getBudgetOverride(user)).toEqual({});
    expect(await ledger.setBudgetOverride(user, { daily: 2.5, weekly: null })).toEqual({ daily: 2.5, weekly: null });
    expect(await ledger.setBudgetOverride(user, { daily: 'default', monthly: 40 })).toEqual({ weekly: null, monthly: 40 });
    expect((await ledger.readUsage(user)).override).toEqual({ weekly: null, monthly: 40 });
    await expect(ledger.setBudgetOverride(user, { daily: -1 })).rejects.toThrow(/daily cap/);
    await expect(ledger.setBudgetOverride(user, { daily: Number.NaN })).rejects.toBeInstanceOf(StoreError);
    await expect(ledger.setBudgetOverride('no-such-user', { daily: 1 })).rejects.toMatchObject({ code: 'no_such_user' });
    expect(await ledger.getBudgetOverride(user)).toEqual({ weekly: null, monthly: 40 });
  });

  test('defaults: validated, replaced, read with the usage', async () => {
    const user = await newUser();
    expect(await ledger.getDefaults(user)).toBeUndefined();
    const d = { model: 'openai/gpt-4o-mini', max_tokens: 800, provider: { sort: 'price' as const, zdr: true }, reasoning_effort: 'low' as const };
    expect(await ledger.setDefaults(user, d)).toEqual(d);
    expect(await ledger.getDefaults(user)).toEqual(d);
    expect((await ledger.readUsage(user)).defaults).toEqual(d);
    await expect(ledger.setDefaults(user, { model: 'x/y', api_key: 'sk-or-v1-abc' })).rejects.toThrow(/invalid defaults/);
    await expect(ledger.setDefaults(user, { max_tokens: 0 })).rejects.toBeInstanceOf(StoreError);
    expect(await ledger.getDefaults(user)).toEqual(d);
    expect(await ledger.setDefaults(user, {})).toEqual({});
  });

  test('an admin action lands in the target user\'s ledger and moves no counter', async () => {
    const user = await newUser();
    const rec = await ledger.recordAdminAction({ time: T0, actor: 'cli', action: 'budget_set', targetUserId: user, detail: 'daily=2.50 weekly=none' });
    expect(rec).toMatchObject({ userId: user, tool: 'admin:budget_set', outcome: 'ok', actor: 'cli', detail: 'daily=2.50 weekly=none' });
    expect(await ledger.listRecords(user)).toEqual([rec]);
    expect((await ledger.readUsage(user)).windows.daily.calls).toBe(0);
    await expect(ledger.recordAdminAction({ time: T0, actor: 'cli', action: 'Budget Set!', targetUserId: user })).rejects.toBeInstanceOf(StoreError);
  });

  test("every user's current spend in one batched read", async () => {
    const ids = await Promise.all(Array.from({ length: 40 }, () => newUser()));
    await Promise.all(ids.map((u, i) => ledger.record(call(u, { costUsd: (i + 1) / 100 }))));
    const spend = await ledger.currentSpend(ids);
    expect(spend.size).toBe(40);
    ids.forEach((u, i) => expect(spend.get(u)!.daily).toEqual({ spentUsd: (i + 1) / 100, reservedUsd: 0, calls: 1 }));
  });
});

describe('nothing secret in the table', () => {
  test('a record carrying a prompt, a completion or a key is refused; a raw scan finds none of them', async () => {
    const user = await newUser();
    for (const extra of [{ prompt: PROMPT }, { messages: [{ role: 'user', content: PROMPT }] }, { completion: PROMPT }, { openRouterKey: `sk-or-v1-${PROMPT}` }, { token: `ormcp_${PROMPT}` }]) {
      await expect(ledger.record({ ...call(user), ...extra } as LedgerRecordInput)).rejects.toThrow(/Unrecognized key/);
    }
    await ledger.record(call(user));
    const dump = JSON.stringify(await scanAll(dynamo.client, dynamo.tableName));
    expect(dump).toContain(user);
    expect(dump).not.toContain(PROMPT);
    expect(dump).not.toContain('TOP-SECRET');
  });

  test('the keys sit beside the user', () => {
    expect(keys.usageWindow('u1', 'weekly', '2026-W49')).toEqual({ pk: 'USER#u1', sk: 'USAGE#W#2026-W49' });
    expect(keys.ledgerRecord('u1', '2026-12-06T00:00:00.000Z', 'r')).toEqual({ pk: 'USER#u1', sk: 'LEDGER#2026-12-06T00:00:00.000Z#r' });
  });
});
