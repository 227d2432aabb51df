/**
 * The Table helper every store writes through, against a real DynamoDB API (dynalite, in memory): conditional
 * writes fail as ConditionFailedError and write nothing, updates return what they are asked for, revocation is
 * stamped once with a TTL, queries page and stop at their limit in either order, a BatchGet spans more than
 * DynamoDB's 100 keys per request, and errors other than a failed condition pass through unchanged.
 */
import { startLocalDynamo, type LocalDynamo } from '../../lambda/local/dynalite.js';
import { ConditionFailedError, Table, expiresAfter, isConditionFailure, type ItemKey } from '../../lambda/store/table.js';

let dynamo: LocalDynamo;
let table: Table;
let counter = 0;

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  table = new Table({ client: dynamo.client, tableName: dynamo.tableName });
});

afterAll(async () => {
  await dynamo.close();
});

function freshKey(kind = 'T'): ItemKey {
  counter += 1;
  return { pk: `TEST#${kind}#${counter}`, sk: 'ITEM' };
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (err: unknown) => err,
  );
}

describe('writes and conditions', () => {
  test('create writes once; a second create fails as ConditionFailedError and leaves the first item', async () => {
    const key = freshKey();
    await table.create({ ...key, value: 'first' });
    const err = await failure(table.create({ ...key, value: 'second' }));
    expect(err).toBeInstanceOf(ConditionFailedError);
    expect((err as Error).name).toBe('ConditionFailedError');
    expect(isConditionFailure(err)).toBe(true);
    expect(await table.get(key)).toMatchObject({ value: 'first' });
  });

  test('get of a missing item is undefined', async () => {
    expect(await table.get(freshKey())).toBeUndefined();
  });

  test('put with a condition on the stored value replaces only while it holds', async () => {
    const key = freshKey();
    await table.put({ ...key, holder: 'a' });
    await table.put({ ...key, holder: 'b' }, { condition: 'holder = :o', values: { ':o': 'a' } });
    expect(await failure(table.put({ ...key, holder: 'c' }, { condition: 'holder = :o', values: { ':o': 'a' } }))).toBeInstanceOf(ConditionFailedError);
    expect((await table.get(key))?.holder).toBe('b');
  });

  test('update returns the new item, the old item, or the changed attributes as they were', async () => {
    const key = freshKey();
    await table.put({ ...key, n: 1, keep: 'x' });
    expect(await table.update({ key, update: 'SET n = n + :one', values: { ':one': 1 }, returns: 'ALL_NEW' })).toMatchObject({ n: 2, keep: 'x' });
    expect(await table.update({ key, update: 'SET n = :v', values: { ':v': 10 }, returns: 'UPDATED_OLD' })).toEqual({ n: 2 });
    expect(await table.update({ key, update: 'REMOVE keep', returns: 'ALL_OLD' })).toMatchObject({ n: 10, keep: 'x' });
    expect(await table.update({ key, update: 'SET n = :v', values: { ':v': 11 } })).toBeUndefined();
    expect(await table.get(key)).toEqual({ ...key, n: 11 });
  });

  test('tryUpdate answers false for a failed condition and changes nothing', async () => {
    const key = freshKey();
    await table.put({ ...key, state: 'open' });
    expect(await table.tryUpdate({ key, update: 'SET #s = :closed', condition: '#s = :closed', names: { '#s': 'state' }, values: { ':closed': 'closed' } })).toBe(false);
    expect((await table.get(key))?.state).toBe('open');
    expect(await table.tryUpdate({ key, update: 'SET #s = :closed', condition: '#s = :open', names: { '#s': 'state' }, values: { ':closed': 'closed', ':open': 'open' } })).toBe(true);
    expect((await table.get(key))?.state).toBe('closed');
  });

  test('an update conditioned on existence does not create the item', async () => {
    const key = freshKey();
    expect(await failure(table.update({ key, update: 'SET a = :a', condition: 'attribute_exists(pk)', values: { ':a': 1 } }))).toBeInstanceOf(ConditionFailedError);
    expect(await table.get(key)).toBeUndefined();
  });

  test('delete honours its condition', async () => {
    const key = freshKey();
    await table.put({ ...key, userId: 'u1' });
    expect(await failure(table.delete(key, { condition: 'userId = :u', values: { ':u': 'u2' } }))).toBeInstanceOf(ConditionFailedError);
    expect(await table.get(key)).toBeDefined();
    await table.delete(key, { condition: 'userId = :u', values: { ':u': 'u1' } });
    expect(await table.get(key)).toBeUndefined();
  });

  test('an error that is not a failed condition passes through as the service named it', async () => {
    const err = await failure(table.update({ key: freshKey(), update: 'SET = broken' }));
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(ConditionFailedError);
    expect(isConditionFailure(err)).toBe(false);
    expect((err as Error).name).toBe('ValidationException');
  });
});

describe('revocation and TTL', () => {
  test('expiresAfter gives epoch seconds `keep` after the end', () => {
    expect(expiresAfter(new Date('2030-01-01T00:00:00.999Z'), 60)).toEqual({ ttl: Date.parse('2030-01-01T00:00:00Z') / 1000 + 60 });
    expect(expiresAfter(1_000_500, 1)).toEqual({ ttl: 1001 });
  });

  test('markRevoked stamps the first revocation and its TTL once; a missing item is a ConditionFailedError', async () => {
    const key = freshKey();
    await table.create({ ...key, label: 'x' });
    const first = new Date('2030-01-01T00:00:00Z');
    const revoked = await table.markRevoked(key, first, 3600);
    expect(revoked).toMatchObject({ label: 'x', revokedAt: first.toISOString(), ttl: first.getTime() / 1000 + 3600 });
    const again = await table.markRevoked(key, new Date('2031-01-01T00:00:00Z'), 7200);
    expect(again).toMatchObject({ revokedAt: first.toISOString(), ttl: first.getTime() / 1000 + 3600 });
    const missing = freshKey();
    expect(await failure(table.markRevoked(missing, first, 10))).toBeInstanceOf(ConditionFailedError);
    expect(await table.get(missing)).toBeUndefined();
  });
});

describe('queries', () => {
  test('an index partition comes back in sort order both ways', async () => {
    counter += 1;
    const partition = `TEST#INDEX#${counter}`;
    for (const s of ['b', 'a', 'c']) await table.put({ ...freshKey(), gsi1pk: partition, gsi1sk: s, s });
    expect((await table.query({ partition, ascending: true })).map((i) => i.s)).toEqual(['a', 'b', 'c']);
    expect((await table.query({ partition, ascending: false })).map((i) => i.s)).toEqual(['c', 'b', 'a']);
    expect((await table.query({ partition, ascending: false, limit: 2 })).map((i) => i.s)).toEqual(['c', 'b']);
  });

  test('a sort-key range of one partition, bounded by its limit and inclusive at both ends', async () => {
    counter += 1;
    const pk = `TEST#RANGE#${counter}`;
    for (let d = 1; d <= 9; d++) await table.put({ pk, sk: `DAY#0${d}`, d });
    const within = await table.query({ partition: pk, range: { from: 'DAY#03', to: 'DAY#06' }, ascending: true });
    expect(within.map((i) => i.d)).toEqual([3, 4, 5, 6]);
    const newest = await table.query({ partition: pk, range: { from: 'DAY#', to: 'DAY#~' }, ascending: false, limit: 3 });
    expect(newest.map((i) => i.d)).toEqual([9, 8, 7]);
  });

  test('an index partition larger than one page (1 MB) is read to the end', async () => {
    counter += 1;
    const partition = `TEST#PAGES#${counter}`;
    const blob = 'x'.repeat(100_000);
    await Promise.all(Array.from({ length: 14 }, (_, i) => table.put({ ...freshKey(), gsi1pk: partition, gsi1sk: String(i).padStart(2, '0'), blob })));
    const items = await table.query({ partition, ascending: true });
    expect(items.map((i) => i.gsi1sk)).toEqual(Array.from({ length: 14 }, (_, i) => String(i).padStart(2, '0')));
  });
});

describe('batchGet', () => {
  test('returns the items that exist among more keys than one request may carry', async () => {
    const present = Array.from({ length: 120 }, () => freshKey('B'));
    await Promise.all(present.map((k, i) => table.put({ ...k, i })));
    const absent = Array.from({ length: 30 }, () => freshKey('B'));
    const items = await table.batchGet([...present, ...absent]);
    expect(items).toHaveLength(120);
    expect(new Set(items.map((i) => i.i))).toEqual(new Set(present.map((_, i) => i)));
  });

  test('no keys, no request', async () => {
    expect(await table.batchGet([])).toEqual([]);
  });
});
