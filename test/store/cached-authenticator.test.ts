/**
 * The per-instance authentication cache: positive results only, for ttlMs (injected clock), bounded in size,
 * off with ttl 0; and against the real account store the documented staleness bound — a revocation or a
 * replaced OpenRouter key takes effect within ttlMs.
 */
import { randomBytes } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Authenticator, Principal } from '../../lambda/auth/authenticator.js';
import { CachedAuthenticator } from '../../lambda/auth/cached-authenticator.js';
import { newSecretString, parseKeyring } from '../../lambda/crypto/keyring.js';
import { startLocalDynamo, type LocalDynamo } from '../../lambda/local/dynalite.js';
import { AccountStore } from '../../lambda/store/account-store.js';

const TTL = 60_000;
const T0 = Date.parse('2030-06-01T00:00:00.000Z');

/** A fake inner authenticator over a mutable token table, counting calls per token. */
function fakeInner(initial: Record<string, Principal> = {}) {
  const known = new Map<string, Principal>(Object.entries(initial));
  const calls = new Map<string, number>();
  const inner: Authenticator = {
    authenticate: jest.fn(async (token: string) => {
      calls.set(token, (calls.get(token) ?? 0) + 1);
      const p = known.get(token);
      return p ? { ...p } : undefined;
    }),
  };
  return { inner, known, calls: (t: string) => calls.get(t) ?? 0, total: () => [...calls.values()].reduce((a, b) => a + b, 0) };
}

const principal = (n: string): Principal => ({ userId: `user-${n}`, tokenId: `${n}`.padEnd(16, '0'), openRouterKey: `sk-or-v1-${n}` });

describe('CachedAuthenticator (fake inner)', () => {
  test('a positive result is served from the cache within ttlMs and looked up again after', async () => {
    const f = fakeInner({ tokA: principal('a') });
    const clock = { ms: T0 };
    const cached = new CachedAuthenticator(f.inner, TTL, 100, () => clock.ms);
    expect(await cached.authenticate('tokA')).toEqual(principal('a'));
    clock.ms = T0 + 1;
    expect(await cached.authenticate('tokA')).toEqual(principal('a'));
    clock.ms = T0 + TTL - 1;
    expect(await cached.authenticate('tokA')).toEqual(principal('a'));
    expect(f.calls('tokA')).toBe(1);
    clock.ms = T0 + TTL;
    expect(await cached.authenticate('tokA')).toEqual(principal('a'));
    expect(f.calls('tokA')).toBe(2);
    // The refreshed entry lives for another ttlMs from the refresh.
    clock.ms = T0 + 2 * TTL - 1;
    await cached.authenticate('tokA');
    expect(f.calls('tokA')).toBe(2);
  });

  test('after the ttl the inner answer wins, including a change of key or a revocation', async () => {
    const f = fakeInner({ tokA: principal('a') });
    const clock = { ms: T0 };
    const cached = new CachedAuthenticator(f.inner, TTL, 100, () => clock.ms);
    await cached.authenticate('tokA');
    f.known.set('tokA', { ...principal('a'), openRouterKey: 'sk-or-v1-replaced' });
    clock.ms = T0 + TTL;
    expect((await cached.authenticate('tokA'))?.openRouterKey).toBe('sk-or-v1-replaced');
    f.known.delete('tokA');
    clock.ms = T0 + 2 * TTL;
    expect(await cached.authenticate('tokA')).toBeUndefined();
  });

  test('failures are never cached: a token unknown at first works as soon as it is issued', async () => {
    const f = fakeInner();
    const clock = { ms: T0 };
    const cached = new CachedAuthenticator(f.inner, TTL, 100, () => clock.ms);
    expect(await cached.authenticate('tokNew')).toBeUndefined();
    expect(await cached.authenticate('tokNew')).toBeUndefined();
    expect(f.calls('tokNew')).toBe(2);
    f.known.set('tokNew', principal('n'));
    expect(await cached.authenticate('tokNew')).toEqual(principal('n'));
    expect(f.calls('tokNew')).toBe(3);
    // ...and that success is cached.
    expect(await cached.authenticate('tokNew')).toEqual(principal('n'));
    expect(f.calls('tokNew')).toBe(3);
  });

  test('each token gets its own principal; a near-identical token is a different entry', async () => {
    const f = fakeInner({ tokA: principal('a'), tokB: principal('b') });
    const cached = new CachedAuthenticator(f.inner, TTL, 100, () => T0);
    for (let i = 0; i < 3; i++) {
      expect(await cached.authenticate('tokA')).toEqual(principal('a'));
      expect(await cached.authenticate('tokB')).toEqual(principal('b'));
    }
    expect(await cached.authenticate('tokA ')).toBeUndefined();
    expect(await cached.authenticate('toka')).toBeUndefined();
    expect(f.calls('tokA')).toBe(1);
    expect(f.calls('tokB')).toBe(1);
  });

  test('holds at most maxEntries, evicting the oldest entry first', async () => {
    const f = fakeInner({ t1: principal('1'), t2: principal('2'), t3: principal('3') });
    const cached = new CachedAuthenticator(f.inner, TTL, 2, () => T0);
    await cached.authenticate('t1');
    await cached.authenticate('t2');
    await cached.authenticate('t3'); // evicts t1
    expect(f.total()).toBe(3);
    await cached.authenticate('t2');
    await cached.authenticate('t3');
    expect(f.total()).toBe(3);
    await cached.authenticate('t1'); // a miss again; evicts t2
    expect(f.calls('t1')).toBe(2);
    await cached.authenticate('t3');
    expect(f.calls('t3')).toBe(1);
    await cached.authenticate('t2');
    expect(f.calls('t2')).toBe(2);
    // Cached now: t1, t2 (t3 was evicted). Never more than two are held, so cycling through three tokens
    // in the order t3, t1, t2 always asks for the one just evicted: every call is a lookup.
    const before = f.total();
    for (const t of ['t3', 't1', 't2', 't3', 't1', 't2']) await cached.authenticate(t);
    expect(f.total() - before).toBe(6);
  });

  test('ttl 0 disables caching', async () => {
    const f = fakeInner({ tokA: principal('a') });
    const cached = new CachedAuthenticator(f.inner, 0, 100, () => T0);
    for (let i = 0; i < 5; i++) expect(await cached.authenticate('tokA')).toEqual(principal('a'));
    expect(f.calls('tokA')).toBe(5);
  });

  test('inner errors propagate and are not cached', async () => {
    let fail = true;
    const inner: Authenticator = {
      authenticate: jest.fn(async () => {
        if (fail) throw new Error('dynamo down');
        return principal('a');
      }),
    };
    const cached = new CachedAuthenticator(inner, TTL, 100, () => T0);
    await expect(cached.authenticate('tokA')).rejects.toThrow('dynamo down');
    fail = false;
    expect(await cached.authenticate('tokA')).toEqual(principal('a'));
    expect(inner.authenticate).toHaveBeenCalledTimes(2);
  });
});

describe('CachedAuthenticator over the real AccountStore', () => {
  let dynamo: LocalDynamo;
  let store: AccountStore;
  const clock = { ms: T0 };
  const pending: Promise<unknown>[] = [];
  let storeAuth: jest.SpyInstance;

  beforeAll(async () => {
    dynamo = await startLocalDynamo();
    // Remember every request so fire-and-forget lastUsedAt writes land before the database closes.
    const client = {
      send(command: unknown) {
        const p = (dynamo.client.send as (c: unknown) => Promise<unknown>).call(dynamo.client, command);
        pending.push(p.catch(() => undefined));
        return p;
      },
    } as unknown as DynamoDBDocumentClient;
    store = new AccountStore({ client, tableName: dynamo.tableName, keyring: parseKeyring(newSecretString()), now: () => new Date(clock.ms) });
    storeAuth = jest.spyOn(store, 'authenticate');
  });

  afterAll(async () => {
    while (pending.length) await Promise.all(pending.splice(0));
    await dynamo.close();
  });

  async function newUser() {
    const u = await store.createUser(`cache-${randomBytes(4).toString('hex')}`);
    const key = `sk-or-v1-${randomBytes(16).toString('hex')}`;
    await store.setOpenRouterKey(u.userId, key);
    const { token, info } = await store.issueToken(u.userId);
    return { userId: u.userId, key, token, tokenId: info.tokenId };
  }

  test('a revocation takes effect on a warm cache within ttlMs (the documented staleness bound)', async () => {
    clock.ms = T0;
    const u = await newUser();
    const cached = new CachedAuthenticator(store, TTL, 100, () => clock.ms);
    expect(await cached.authenticate(u.token)).toEqual({ userId: u.userId, tokenId: u.tokenId, openRouterKey: u.key });
    clock.ms = T0 + 1_000;
    await store.revokeToken(u.tokenId);
    // The store itself refuses at once...
    expect(await store.authenticate(u.token)).toBeUndefined();
    // ...while the warm cache may still answer until ttlMs after it cached the principal.
    clock.ms = T0 + TTL - 1;
    expect((await cached.authenticate(u.token))?.userId).toBe(u.userId);
    clock.ms = T0 + TTL;
    expect(await cached.authenticate(u.token)).toBeUndefined();
    clock.ms = T0 + TTL + 1;
    expect(await cached.authenticate(u.token)).toBeUndefined();
    // A cold cache refuses straight away.
    expect(await new CachedAuthenticator(store, TTL, 100, () => clock.ms).authenticate(u.token)).toBeUndefined();
  });

  test('a replaced OpenRouter key is picked up within ttlMs', async () => {
    clock.ms = T0;
    const u = await newUser();
    const cached = new CachedAuthenticator(store, TTL, 100, () => clock.ms);
    expect((await cached.authenticate(u.token))?.openRouterKey).toBe(u.key);
    const next = `sk-or-v1-${randomBytes(16).toString('hex')}`;
    await store.setOpenRouterKey(u.userId, next);
    clock.ms = T0 + TTL - 1;
    expect((await cached.authenticate(u.token))?.openRouterKey).toBe(u.key);
    clock.ms = T0 + TTL;
    expect((await cached.authenticate(u.token))?.openRouterKey).toBe(next);
  });

  test('a token issued after a failed attempt works immediately; repeated hits do not reach the store', async () => {
    clock.ms = T0;
    const u = await newUser();
    const cached = new CachedAuthenticator(store, TTL, 100, () => clock.ms);
    const unknown = `ormcp_${randomBytes(8).toString('hex')}_${randomBytes(32).toString('base64url')}`;
    storeAuth.mockClear();
    expect(await cached.authenticate(unknown)).toBeUndefined();
    expect(await cached.authenticate(unknown)).toBeUndefined();
    expect(storeAuth).toHaveBeenCalledTimes(2);
    const fresh = await store.issueToken(u.userId, { label: 'fresh' });
    storeAuth.mockClear();
    expect((await cached.authenticate(fresh.token))?.tokenId).toBe(fresh.info.tokenId);
    for (let i = 0; i < 5; i++) expect((await cached.authenticate(fresh.token))?.tokenId).toBe(fresh.info.tokenId);
    expect(storeAuth).toHaveBeenCalledTimes(1);
  });

  test('an expiring token is refused at most ttlMs after its expiry on a warm cache', async () => {
    clock.ms = T0;
    const u = await newUser();
    const expiresAt = new Date(T0 + 10_000);
    const { token } = await store.issueToken(u.userId, { expiresAt });
    const cached = new CachedAuthenticator(store, TTL, 100, () => clock.ms);
    expect((await cached.authenticate(token))?.userId).toBe(u.userId);
    clock.ms = expiresAt.getTime();
    expect(await store.authenticate(token)).toBeUndefined();
    // Cached at T0, so refused from T0 + ttl at the latest (the cache does not know the expiry).
    clock.ms = T0 + TTL;
    expect(await cached.authenticate(token)).toBeUndefined();
  });
});
