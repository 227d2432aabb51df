/**
 * Write-behind, as `npm start` runs the stores (one process serves every call): ledger records and counter
 * additions wait and are written together — records in one BatchWriteItem, one ADD per counter item however many
 * calls it sums — while reservation writes never wait; a read on the same store writes what waits first; a new
 * conversation is written after append() returns, and every later use of that user's conversations waits for it.
 * Also the recent usage read that admission reuses while no cap applies, and how a settings change drops it.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { newSecretString, parseKeyring } from '../../lambda/crypto/keyring.js';
import { startLocalDynamo, type LocalDynamo } from '../../lambda/local/dynalite.js';
import { createLogger, silentLogger } from '../../lambda/observability/logger.js';
import { OPEN_POLICY, createPolicy } from '../../lambda/policy/policy.js';
import { TeamControl } from '../../lambda/team/guard.js';
import { AccountStore } from '../../lambda/store/account-store.js';
import { ConversationStore } from '../../lambda/store/conversation-store.js';
import { LedgerStore, type LedgerRecordInput } from '../../lambda/store/ledger-store.js';
import { keys } from '../../lambda/store/schema.js';
import { scanAll } from '../support/table.js';

const T0 = new Date('2026-12-06T15:30:00.000Z');

let dynamo: LocalDynamo;
let accounts: AccountStore;
let users = 0;

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  accounts = new AccountStore({ client: dynamo.client, tableName: dynamo.tableName, keyring: parseKeyring(newSecretString()) });
});

afterAll(async () => {
  await dynamo.close();
});

async function newUser(): Promise<string> {
  users += 1;
  return (await accounts.createUser(`wb-user-${users}`)).userId;
}

/** The table's document client, naming each command it sends (and optionally holding them until released). */
function watched(): { client: DynamoDBDocumentClient; sent: string[]; hold(op: string): () => void; fail(op: string): void; recover(op: string): void } {
  const sent: string[] = [];
  const held = new Map<string, Promise<void>>();
  const failing = new Set<string>();
  const client = {
    async send(command: { constructor: { name: string } }, options?: unknown) {
      const op = command.constructor.name;
      sent.push(op);
      await held.get(op);
      if (failing.has(op)) throw Object.assign(new Error('the table is unavailable'), { name: 'InternalServerError' });
      return (dynamo.client.send as (c: unknown, o?: unknown) => Promise<unknown>)(command, options);
    },
  } as unknown as DynamoDBDocumentClient;
  return {
    client,
    sent,
    hold(op) {
      let release!: () => void;
      held.set(op, new Promise<void>((r) => (release = r)));
      return () => {
        held.delete(op);
        release();
      };
    },
    fail: (op) => failing.add(op),
    recover: (op) => failing.delete(op),
  };
}

const call = (userId: string, over: Partial<LedgerRecordInput> = {}): LedgerRecordInput => ({
  time: T0,
  userId,
  tool: 'send_chat_completion_request',
  requestedModel: 'openai/gpt-4o',
  servedModel: 'openai/gpt-4o',
  outcome: 'ok',
  tokensIn: 100,
  tokensOut: 50,
  costUsd: 0.001,
  ...over,
});

async function ledgerItems(userId: string): Promise<Record<string, unknown>[]> {
  return (await scanAll(dynamo.client, dynamo.tableName)).filter((i) => i.pk === `USER#${userId}` && String(i.sk).startsWith('LEDGER#'));
}

async function until(check: () => Promise<boolean>, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('ledger write-behind', () => {
  test('records wait, then land together: one BatchWriteItem for the records, one update per counter item', async () => {
    const user = await newUser();
    const w = watched();
    const ledger = new LedgerStore({ client: w.client, tableName: dynamo.tableName, writeBehindMs: 60_000, now: () => T0 });
    for (let i = 0; i < 3; i++) await ledger.record(call(user));
    expect(w.sent).toEqual([]);
    expect(await ledgerItems(user)).toHaveLength(0);

    await ledger.flush();
    expect(w.sent.filter((op) => op === 'BatchWriteCommand')).toHaveLength(1);
    // day, week, month and the model's day: one ADD each, summing the three calls.
    expect(w.sent.filter((op) => op === 'UpdateCommand')).toHaveLength(4);
    expect(await ledgerItems(user)).toHaveLength(3);
    expect(await ledger.dailyTotals(user, '2026-12-06', '2026-12-06')).toEqual([{ day: '2026-12-06', spentUsd: 0.003, calls: 3, refused: 0, tokensIn: 300, tokensOut: 150 }]);
    expect(await ledger.modelTotals(user, '2026-12-06', '2026-12-06')).toEqual([{ day: '2026-12-06', model: 'openai/gpt-4o', spentUsd: 0.003, calls: 3, tokensIn: 300, tokensOut: 150 }]);
  });

  test('a read on the same store writes what waits first; the timer writes it on its own', async () => {
    const user = await newUser();
    const ledger = new LedgerStore({ client: dynamo.client, tableName: dynamo.tableName, writeBehindMs: 60_000, now: () => T0 });
    await ledger.record(call(user));
    expect((await ledger.readUsage(user, T0)).windows.daily).toMatchObject({ calls: 1, spentUsd: 0.001 });
    expect(await ledger.listRecords(user)).toHaveLength(1);

    const other = await newUser();
    const timed = new LedgerStore({ client: dynamo.client, tableName: dynamo.tableName, writeBehindMs: 50, now: () => T0 });
    await timed.record(call(other));
    await until(async () => (await ledgerItems(other)).length === 1);
  });

  test('25 waiting records are written at once, without waiting for the timer', async () => {
    const user = await newUser();
    const ledger = new LedgerStore({ client: dynamo.client, tableName: dynamo.tableName, writeBehindMs: 60_000, now: () => T0 });
    await Promise.all(Array.from({ length: 25 }, () => ledger.record(call(user))));
    await until(async () => (await ledgerItems(user)).length === 25);
  });

  test('a reservation is taken and settled at once: only the record and the uncapped windows wait', async () => {
    const user = await newUser();
    const w = watched();
    const ledger = new LedgerStore({ client: w.client, tableName: dynamo.tableName, writeBehindMs: 60_000, now: () => T0 });
    const reserved = await ledger.reserve(user, { daily: 1 }, 0.5, T0);
    if (!reserved.ok) throw new Error('not reserved');
    await ledger.record(call(user, { costUsd: 0.002 }), { reservation: reserved.reservation });
    // Read straight from the table (not through the store, which would write what waits first).
    const daily = (await scanAll(dynamo.client, dynamo.tableName)).find((i) => i.pk === `USER#${user}` && i.sk === keys.usageWindow(user, 'daily', '2026-12-06').sk)!;
    expect(daily).toMatchObject({ committedNano: 2_000_000, spendNano: 2_000_000, calls: 1 });
    expect(await ledgerItems(user)).toHaveLength(0);
    await ledger.flush();
    expect(await ledgerItems(user)).toHaveLength(1);
  });

  test('a failed flush is the flusher\'s error, and a read logs it instead of failing', async () => {
    const user = await newUser();
    const w = watched();
    const lines: string[] = [];
    const ledger = new LedgerStore({ client: w.client, tableName: dynamo.tableName, writeBehindMs: 60_000, now: () => T0, logger: createLogger({ write: (l) => lines.push(l) }) });
    w.fail('BatchWriteCommand');
    await ledger.record(call(user));
    await expect(ledger.flush()).rejects.toThrow('the table is unavailable');
    await ledger.record(call(user));
    expect(await ledger.listRecords(user)).toEqual([]);
    expect(lines.join('\n')).toContain('ledger write failed');
  });
});

describe('a failed flush', () => {
  test('goes back in the queue: the next flush writes the records once and the counters summed once', async () => {
    const user = await newUser();
    const w = watched();
    const ledger = new LedgerStore({ client: w.client, tableName: dynamo.tableName, writeBehindMs: 60_000, now: () => T0 });
    await ledger.record(call(user));
    w.fail('BatchWriteCommand');
    w.fail('UpdateCommand');
    await expect(ledger.flush()).rejects.toThrow('the table is unavailable');
    w.recover('BatchWriteCommand');
    w.recover('UpdateCommand');
    await ledger.record(call(user));
    await ledger.flush();
    expect(await ledgerItems(user)).toHaveLength(2);
    expect(await ledger.dailyTotals(user, '2026-12-06', '2026-12-06')).toEqual([{ day: '2026-12-06', spentUsd: 0.002, calls: 2, refused: 0, tokensIn: 200, tokensOut: 100 }]);
  });

  test('is dropped after three in a row, and the log says how much', async () => {
    const user = await newUser();
    const w = watched();
    const lines: string[] = [];
    const ledger = new LedgerStore({ client: w.client, tableName: dynamo.tableName, writeBehindMs: 60_000, now: () => T0, logger: createLogger({ write: (l) => lines.push(l) }) });
    await ledger.record(call(user));
    w.fail('BatchWriteCommand');
    for (let i = 0; i < 4; i++) await expect(ledger.flush()).rejects.toThrow('the table is unavailable');
    expect(lines.join('\n')).toContain('ledger writes dropped after retries');
    w.recover('BatchWriteCommand');
    await ledger.flush();
    expect(await ledgerItems(user)).toHaveLength(0);
    // The counters, which did land on the first flush, are not written again.
    expect((await ledger.dailyTotals(user, '2026-12-06', '2026-12-06'))[0]).toMatchObject({ calls: 1 });
  });

  test('a reservation first writes the spend still waiting, so its condition sees it', async () => {
    const user = await newUser();
    const ledger = new LedgerStore({ client: dynamo.client, tableName: dynamo.tableName, writeBehindMs: 60_000, now: () => T0 });
    await ledger.record(call(user, { costUsd: 0.9 }));
    const refused = await ledger.reserve(user, { daily: 1 }, 0.5, T0);
    expect(refused).toMatchObject({ ok: false, window: 'daily', spentUsd: 0.9 });
  });
});

describe('the recent usage read', () => {
  test('is what the last read saw until it ages out; a settings change on the store drops it, even mid-read', async () => {
    const user = await newUser();
    let now = T0;
    const w = watched();
    const ledger = new LedgerStore({ client: w.client, tableName: dynamo.tableName, now: () => now });
    expect(ledger.recentUsage(user, 5_000)).toBeUndefined();
    const read = await ledger.readUsage(user, T0);
    expect(ledger.recentUsage(user, 5_000)).toBe(read);
    now = new Date(T0.getTime() + 5_001);
    expect(ledger.recentUsage(user, 5_000)).toBeUndefined();

    await ledger.readUsage(user, now);
    await ledger.setDefaults(user, { model: 'openai/gpt-4o-mini' });
    expect(ledger.recentUsage(user, 5_000)).toBeUndefined();
    await ledger.readUsage(user, now);
    await ledger.setBudgetOverride(user, { daily: 2 });
    expect(ledger.recentUsage(user, 5_000)).toBeUndefined();

    // A read that started before a change and ends after it is not remembered.
    const release = w.hold('BatchGetCommand');
    const racing = ledger.readUsage(user, now);
    await until(async () => w.sent.includes('BatchGetCommand'));
    await ledger.setBudgetOverride(user, { daily: 3 });
    release();
    await racing;
    expect(ledger.recentUsage(user, 5_000)).toBeUndefined();
    expect((await ledger.readUsage(user, now)).override).toEqual({ daily: 3 });
  });
});

describe('conversation write-behind', () => {
  const exchange = (text: string) => ({ turns: [{ role: 'user', content: text }, { role: 'assistant', content: `re: ${text}` }], model: 'openai/gpt-4o', costUsd: 0.01 });
  const store = (client: DynamoDBDocumentClient, logger?: ReturnType<typeof createLogger>) =>
    new ConversationStore({ client, tableName: dynamo.tableName, keyring: parseKeyring(JSON.stringify({ current: 'v1', v1: 'c'.repeat(48) })), writeBehind: true, ...(logger ? { logger } : {}) });

  test('a new conversation is answered before its write lands; the next use of it waits for the write', async () => {
    const w = watched();
    const s = store(w.client);
    const release = w.hold('PutCommand');
    const id = s.newId();
    const created = await s.append('u-wb', id, exchange('first'), { create: true });
    expect(created).toMatchObject({ droppedTurns: 0, conversation: { id, title: 'first', turnCount: 2, models: ['openai/gpt-4o'], costUsd: 0.01 } });
    const [head] = (await scanAll(dynamo.client, dynamo.tableName)).filter((i) => i.sk === `CONV#${id}`);
    expect(head).toBeUndefined();

    let loaded = false;
    const load = s.load('u-wb', id).then((c) => ((loaded = true), c));
    await new Promise((r) => setTimeout(r, 50));
    expect(loaded).toBe(false);
    release();
    expect((await load)!.turns.map((t) => t.content)).toEqual(['first', 're: first']);
    await s.append('u-wb', id, exchange('second'));
    await s.settle();
    expect((await s.load('u-wb', id))!.turnCount).toBe(4);
  });

  test('at most 16 creations are in flight: the next one waits for its own write', async () => {
    const w = watched();
    const s = store(w.client);
    const release = w.hold('PutCommand');
    for (let i = 0; i < 16; i++) await s.append('u-wb3', s.newId(), exchange(`n${i}`), { create: true });
    let seventeenth = false;
    const last = s.append('u-wb3', s.newId(), exchange('n16'), { create: true }).then(() => (seventeenth = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(seventeenth).toBe(false);
    release();
    await last;
    await s.settle();
    expect((await s.list('u-wb3', { limit: 100 })).conversations).toHaveLength(17);
  });

  test('an exchange too large is still refused at once; a failed write is logged and the id reads as unknown', async () => {
    const w = watched();
    const lines: string[] = [];
    const s = store(w.client, createLogger({ write: (l) => lines.push(l) }));
    await expect(s.append('u-wb2', s.newId(), exchange('x'.repeat(2 * 1024 * 1024)), { create: true })).rejects.toMatchObject({ code: 'too_large' });
    w.fail('PutCommand');
    const id = s.newId();
    await s.append('u-wb2', id, exchange('lost'), { create: true });
    await s.settle();
    expect(lines.join('\n')).toContain('conversation not stored');
    expect(await s.load('u-wb2', id)).toBeUndefined();
  });
});

describe('admission reuses a recent settings read only while no cap applies', () => {
  const args = { model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'hi' }] };
  const models = async () => [];

  test('no BatchGet per call; a cap set here applies at once, one set elsewhere within settingsCacheMs', async () => {
    const user = await newUser();
    let now = T0;
    const w = watched();
    const ledger = new LedgerStore({ client: w.client, tableName: dynamo.tableName, now: () => now });
    const team = new TeamControl({ ledger, policy: createPolicy(OPEN_POLICY), budgetDefaults: {}, logger: silentLogger, settingsCacheMs: 5_000, now: () => now });
    const admit = () => team.begin({ userId: user, tokenId: 't' }, 'send_chat_completion_request', args).admit(args, models);
    const reads = () => w.sent.filter((op) => op === 'BatchGetCommand').length;

    expect((await admit()).ok).toBe(true);
    expect((await admit()).ok).toBe(true);
    expect(reads()).toBe(1);

    // Defaults set through this store: the next call reads them at once.
    await ledger.setDefaults(user, { model: 'openai/gpt-4o-mini' });
    const withDefaults = await team.begin({ userId: user, tokenId: 't' }, 'send_chat_completion_request', {}).admit({ messages: args.messages }, models);
    expect(withDefaults).toMatchObject({ ok: true, args: { model: 'openai/gpt-4o-mini' } });
    expect(reads()).toBe(2);

    // A zero cap set by another process (the CLI's own store): within the bound the old read still serves...
    const cli = new LedgerStore({ client: dynamo.client, tableName: dynamo.tableName, now: () => now });
    await cli.setBudgetOverride(user, { daily: 0 });
    now = new Date(T0.getTime() + 4_000);
    expect((await admit()).ok).toBe(true);
    // ...and once it has aged out the cap holds, and every later call reads afresh.
    now = new Date(T0.getTime() + 5_001);
    expect(await admit()).toMatchObject({ ok: false, kind: 'budget' });
    const before = reads();
    await admit();
    expect(reads()).toBe(before + 1);
  });

  test('is reused for 5 s at most, whatever the token cache time', async () => {
    const user = await newUser();
    let now = T0;
    const w = watched();
    const ledger = new LedgerStore({ client: w.client, tableName: dynamo.tableName, now: () => now });
    const team = new TeamControl({ ledger, policy: createPolicy(OPEN_POLICY), budgetDefaults: {}, logger: silentLogger, settingsCacheMs: 60_000, now: () => now });
    const admit = () => team.begin({ userId: user, tokenId: 't' }, 'send_chat_completion_request', args).admit(args, models);
    await admit();
    now = new Date(T0.getTime() + 5_001);
    await admit();
    expect(w.sent.filter((op) => op === 'BatchGetCommand')).toHaveLength(2);
  });

  test('under an operator default cap every call reads its usage', async () => {
    const user = await newUser();
    const w = watched();
    const ledger = new LedgerStore({ client: w.client, tableName: dynamo.tableName, now: () => T0 });
    const team = new TeamControl({ ledger, policy: createPolicy(OPEN_POLICY), budgetDefaults: { monthly: 100 }, logger: silentLogger, settingsCacheMs: 5_000, now: () => T0 });
    const priced = async () => [{ id: 'openai/gpt-4o', name: 'GPT-4o', pricing: { prompt: '0.000001', completion: '0.000002' }, context_length: 1000 }] as never;
    for (let i = 0; i < 3; i++) expect((await team.begin({ userId: user, tokenId: 't' }, 'send_chat_completion_request', args).admit(args, priced)).ok).toBe(true);
    expect(w.sent.filter((op) => op === 'BatchGetCommand')).toHaveLength(3);
  });
});
