/**
 * The account store against a real DynamoDB API (dynalite, in memory): users and unique names, encrypted
 * OpenRouter keys, token issue / authenticate / expiry / revocation, listing through the index, the
 * throttled lastUsedAt write, concurrency, per-user isolation (AAD binding), and finally a raw scan of the
 * whole table proving no token, token secret or plaintext key was ever stored.
 */
import { randomBytes } from 'node:crypto';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { newSecretString, parseKeyring, type Keyring } from '../../lambda/crypto/keyring.js';
import { startLocalDynamo, type LocalDynamo } from '../../lambda/local/dynalite.js';
import { AccountStore, StoreError, type User } from '../../lambda/store/account-store.js';
import { keys } from '../../lambda/store/schema.js';
import { scanAll } from '../support/table.js';

const TOKEN_FORMAT = /^ormcp_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const MINUTE = 60_000;
const THIRTY_DAYS_S = 30 * 24 * 3600;

let dynamo: LocalDynamo;
let keyring: Keyring;
let store: AccountStore;
/** Every command the shared store sent, so fire-and-forget writes (lastUsedAt) finish before dynalite closes. */
let shared: ReturnType<typeof tracking>;

/** Everything secret this file handed to or got from the store: none of it may appear in the table. */
const secrets = new Set<string>();

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  keyring = parseKeyring(newSecretString());
  shared = tracking(dynamo.client);
  store = new AccountStore({ client: shared.client, tableName: dynamo.tableName, keyring });
});

afterAll(async () => {
  await shared.settle();
  await dynamo.close();
});

// ---- helpers ---------------------------------------------------------------------------------------

let nameCounter = 0;
function uniqueName(prefix: string): string {
  nameCounter += 1;
  return `${prefix}-${nameCounter}-${randomBytes(3).toString('hex')}`;
}

function orKey(): string {
  const k = `sk-or-v1-${randomBytes(24).toString('hex')}`;
  secrets.add(k);
  return k;
}

function secretPart(token: string): string {
  const m = /^ormcp_[0-9a-f]{16}_(.+)$/.exec(token);
  if (!m) throw new Error('not a token');
  return m[1]!;
}

function remember(token: string): string {
  secrets.add(token);
  secrets.add(secretPart(token));
  return token;
}

/** A store with its own settable clock, over the same table. */
function clockedStore(startMs = T0, client: DynamoDBDocumentClient = shared.client) {
  const clock = { ms: startMs };
  const s = new AccountStore({ client, tableName: dynamo.tableName, keyring, now: () => new Date(clock.ms) });
  return { store: s, clock };
}

/** Wraps the document client to record every command and await fire-and-forget writes (e.g. lastUsedAt). */
function tracking(inner: DynamoDBDocumentClient) {
  const commands: unknown[] = [];
  const pending: Promise<unknown>[] = [];
  const client = {
    send(command: unknown) {
      commands.push(command);
      const p = (inner.send as (c: unknown) => Promise<unknown>).call(inner, command);
      pending.push(p.catch(() => undefined));
      return p;
    },
  } as unknown as DynamoDBDocumentClient;
  return {
    client,
    commands,
    async settle() {
      while (pending.length) await Promise.all(pending.splice(0));
    },
  };
}

async function expectStoreError(promise: Promise<unknown>, code: StoreError['code']): Promise<StoreError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StoreError);
  expect((err as StoreError).code).toBe(code);
  return err as StoreError;
}

async function rawGet(key: Record<string, string>): Promise<Record<string, unknown> | undefined> {
  const res = await dynamo.client.send(new GetCommand({ TableName: dynamo.tableName, Key: key, ConsistentRead: true }));
  return res.Item as Record<string, unknown> | undefined;
}

async function userWithKey(prefix: string, s: AccountStore = store): Promise<{ user: User; key: string; token: string; tokenId: string }> {
  const user = await s.createUser(uniqueName(prefix));
  const key = orKey();
  await s.setOpenRouterKey(user.userId, key);
  const { token, info } = await s.issueToken(user.userId);
  return { user, key, token: remember(token), tokenId: info.tokenId };
}

// ---- users -------------------------------------------------------------------------------------------

describe('users', () => {
  test('createUser generates a UUID id, stamps createdAt from the clock and starts without a key', async () => {
    const { store: s } = clockedStore(T0 + 1234);
    const name = uniqueName('gen');
    const u = await s.createUser(name);
    expect(u.userId).toMatch(UUID);
    expect(u).toEqual({ userId: u.userId, name, createdAt: new Date(T0 + 1234).toISOString(), hasKey: false });
    const other = await s.createUser(uniqueName('gen'));
    expect(other.userId).not.toBe(u.userId);
    expect(await store.getUser(u.userId)).toEqual(u);
    expect(await store.findUserByName(name)).toEqual(u);
  });

  test('createUser takes a given id (e.g. a Cognito sub)', async () => {
    const sub = `eu-west-1:${randomBytes(8).toString('hex')}`;
    const name = uniqueName('cognito');
    const u = await store.createUser(name, sub);
    expect(u.userId).toBe(sub);
    expect((await store.getUser(sub))?.name).toBe(name);
    expect((await store.findUserByName(name))?.userId).toBe(sub);
  });

  test('a duplicate name is refused with user_exists and the original user is untouched', async () => {
    const name = uniqueName('dup');
    const first = await store.createUser(name);
    await expectStoreError(store.createUser(name), 'user_exists');
    await expectStoreError(store.createUser(name, `sub-${randomBytes(4).toString('hex')}`), 'user_exists');
    expect(await store.findUserByName(name)).toEqual(first);
    const named = (await store.listUsers()).filter((u) => u.name === name);
    expect(named).toEqual([first]);
  });

  test('a second user with an id that already exists is refused with user_exists', async () => {
    const existing = await store.createUser(uniqueName('sameid'));
    await expectStoreError(store.createUser(uniqueName('sameid'), existing.userId), 'user_exists');
    expect(await store.getUser(existing.userId)).toEqual(existing);
  });

  test('a create refused for an existing id does not leave the new name reserved to that user', async () => {
    const existing = await store.createUser(uniqueName('leak'));
    const newName = uniqueName('leak-new');
    await expectStoreError(store.createUser(newName, existing.userId), 'user_exists');
    expect(await store.findUserByName(newName)).toBeUndefined();
    const later = await store.createUser(newName);
    expect(later.name).toBe(newName);
  });

  test('invalid names are refused with invalid_input and nothing is stored', async () => {
    const bad = ['', ' alice', 'alice ', 'al ice', '-lead', '.dot', '_under', 'a'.repeat(129), 'ünïcode', 'a/b', 'a#b', 'a:b', 'line\nbreak', 'tab\there', 'nul\u0000'];
    for (const name of bad) {
      await expectStoreError(store.createUser(name), 'invalid_input');
      expect(await store.findUserByName(name)).toBeUndefined();
    }
    // The edges of the rule are accepted.
    const longest = `z${randomBytes(4).toString('hex')}${'a'.repeat(119)}`;
    expect(longest).toHaveLength(128);
    expect((await store.createUser(longest)).name).toBe(longest);
    const punctuated = `a.b_c@d+e-${randomBytes(3).toString('hex')}`;
    expect((await store.createUser(punctuated)).name).toBe(punctuated);
  });

  test('a name left reserved by an interrupted create (no profile) can be taken over', async () => {
    const name = uniqueName('orphan');
    const ghost = `ghost-${randomBytes(6).toString('hex')}`;
    await dynamo.client.send(new PutCommand({ TableName: dynamo.tableName, Item: { ...keys.userName(name), type: 'username', userId: ghost } }));
    expect(await store.findUserByName(name)).toBeUndefined();
    const u = await store.createUser(name);
    expect(u.userId).not.toBe(ghost);
    expect((await rawGet(keys.userName(name)))?.userId).toBe(u.userId);
    expect(await store.findUserByName(name)).toEqual(u);
    expect(await store.getUser(ghost)).toBeUndefined();
  });

  test('an interrupted create retried with the same id completes', async () => {
    const name = uniqueName('retry');
    const id = `sub-${randomBytes(6).toString('hex')}`;
    await dynamo.client.send(new PutCommand({ TableName: dynamo.tableName, Item: { ...keys.userName(name), type: 'username', userId: id } }));
    const u = await store.createUser(name, id);
    expect(u.userId).toBe(id);
    expect(await store.findUserByName(name)).toEqual(u);
  });

  test('two concurrent creates of the same name never both succeed', async () => {
    const name = uniqueName('race');
    let reached!: () => void;
    const atGate = new Promise<void>((r) => (reached = r));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const gated = {
      async send(command: unknown) {
        if (command instanceof PutCommand && command.input.Item?.type === 'user') {
          reached();
          await gate;
        }
        return (dynamo.client.send as (c: unknown) => Promise<unknown>).call(dynamo.client, command);
      },
    } as unknown as DynamoDBDocumentClient;
    const slow = new AccountStore({ client: gated, tableName: dynamo.tableName, keyring });
    const settle = (p: Promise<User>) => p.then((u) => ({ ok: true as const, u }), (e: unknown) => ({ ok: false as const, e }));
    const first = settle(slow.createUser(name));
    await atGate;
    const second = await settle(store.createUser(name));
    release();
    const results = [await first, second];
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect((await store.listUsers()).filter((u) => u.name === name)).toHaveLength(1);
  });

  test('findUserByName and getUser return undefined for unknown users', async () => {
    expect(await store.findUserByName(uniqueName('nobody'))).toBeUndefined();
    expect(await store.getUser(`no-such-${randomBytes(4).toString('hex')}`)).toBeUndefined();
  });

  test('listUsers returns every user sorted by name, with hasKey', async () => {
    const tag = `list${randomBytes(3).toString('hex')}`;
    const names = [`${tag}-c`, `${tag}-a`, `${tag}-d`, `${tag}-b`];
    const created: User[] = [];
    for (const n of names) created.push(await store.createUser(n));
    await store.setOpenRouterKey(created[1]!.userId, orKey());
    const listed = (await store.listUsers()).filter((u) => u.name.startsWith(`${tag}-`));
    expect(listed.map((u) => u.name)).toEqual([`${tag}-a`, `${tag}-b`, `${tag}-c`, `${tag}-d`]);
    expect(listed.map((u) => u.hasKey)).toEqual([true, false, false, false]);
    expect(listed[0]!.userId).toBe(created[1]!.userId);
    // The whole list is sorted too (not just this test's users).
    const all = (await store.listUsers()).map((u) => u.name);
    expect(all).toEqual([...all].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
    // Only profiles are listed: no name reservations or tokens.
    for (const u of await store.listUsers()) expect(Object.keys(u).sort()).toEqual(expect.arrayContaining(['createdAt', 'hasKey', 'name', 'userId']));
  });
});

// ---- OpenRouter keys ---------------------------------------------------------------------------------

describe('OpenRouter keys', () => {
  test('setOpenRouterKey stores the key encrypted under the current version; authenticate yields it', async () => {
    const { store: s } = clockedStore(T0 + 5 * MINUTE);
    const u = await s.createUser(uniqueName('key'));
    const key = orKey();
    await s.setOpenRouterKey(u.userId, key);
    expect(await s.getUser(u.userId)).toEqual({ ...u, hasKey: true, keyUpdatedAt: new Date(T0 + 5 * MINUTE).toISOString() });
    const raw = await rawGet(keys.user(u.userId));
    expect(raw?.keyVersion).toBe(keyring.currentVersion);
    expect(typeof raw?.keyCiphertext).toBe('string');
    expect(JSON.stringify(raw)).not.toContain(key);
    const token = remember((await s.issueToken(u.userId)).token);
    expect((await s.authenticate(token))?.openRouterKey).toBe(key);
  });

  test('replacing the key takes effect at once', async () => {
    const { user, key, token } = await userWithKey('replace');
    expect((await store.authenticate(token))?.openRouterKey).toBe(key);
    const next = orKey();
    await store.setOpenRouterKey(user.userId, next);
    expect((await store.authenticate(token))?.openRouterKey).toBe(next);
  });

  test('setOpenRouterKey for an unknown user is no_such_user and creates nothing', async () => {
    const ghost = `no-such-${randomBytes(4).toString('hex')}`;
    await expectStoreError(store.setOpenRouterKey(ghost, orKey()), 'no_such_user');
    expect(await rawGet(keys.user(ghost))).toBeUndefined();
    expect(await store.getUser(ghost)).toBeUndefined();
  });

  test('badly shaped keys are invalid_input and the stored key is unchanged', async () => {
    const { user, key, token } = await userWithKey('badkey');
    const r = randomBytes(6).toString('hex');
    const bad = ['', 'short', `sk-or ${r}`, `sk-or\t${r}`, `sk-or\n${r}`, ` sk-or-v1-${r}`, `sk-or-v1-${r} `, 'x'.repeat(513)];
    for (const k of bad) {
      if (k.length >= 10) secrets.add(k);
      await expectStoreError(store.setOpenRouterKey(user.userId, k), 'invalid_input');
    }
    expect((await store.authenticate(token))?.openRouterKey).toBe(key);
    // Edges of the rule are accepted.
    secrets.add('k'.repeat(8)).add('k'.repeat(512));
    await store.setOpenRouterKey(user.userId, 'k'.repeat(8));
    await store.setOpenRouterKey(user.userId, 'k'.repeat(512));
    expect((await store.authenticate(token))?.openRouterKey).toBe('k'.repeat(512));
  });

  test('removeOpenRouterKey removes the ciphertext; a user without a key authenticates with no openRouterKey', async () => {
    const { user, token, tokenId } = await userWithKey('rmkey');
    await store.removeOpenRouterKey(user.userId);
    const raw = await rawGet(keys.user(user.userId));
    expect(raw).toBeDefined();
    expect(raw).not.toHaveProperty('keyCiphertext');
    expect(raw).not.toHaveProperty('keyVersion');
    expect(raw).not.toHaveProperty('keyUpdatedAt');
    const got = await store.getUser(user.userId);
    expect(got?.hasKey).toBe(false);
    expect(got).not.toHaveProperty('keyUpdatedAt');
    const principal = await store.authenticate(token);
    expect(principal).toEqual({ userId: user.userId, tokenId });
    expect(principal).not.toHaveProperty('openRouterKey');
    // Removing again is harmless; an unknown user is an error and nothing is created.
    await store.removeOpenRouterKey(user.userId);
    const ghost = `no-such-${randomBytes(4).toString('hex')}`;
    await expectStoreError(store.removeOpenRouterKey(ghost), 'no_such_user');
    expect(await rawGet(keys.user(ghost))).toBeUndefined();
  });
});

// ---- tokens --------------------------------------------------------------------------------------------

describe('issueToken and authenticate', () => {
  test('the token has the documented format; authenticate returns exactly {userId, tokenId, openRouterKey}', async () => {
    const { store: s } = clockedStore(T0 + 7 * MINUTE);
    const u = await s.createUser(uniqueName('issue'));
    const key = orKey();
    await s.setOpenRouterKey(u.userId, key);
    const { token, info } = await s.issueToken(u.userId, { label: 'laptop' });
    remember(token);
    expect(token).toMatch(TOKEN_FORMAT);
    expect(token.slice(6, 22)).toBe(info.tokenId);
    expect(info).toEqual({ tokenId: info.tokenId, userId: u.userId, label: 'laptop', kind: 'personal', createdAt: new Date(T0 + 7 * MINUTE).toISOString() });
    expect(await s.authenticate(token)).toEqual({ userId: u.userId, tokenId: info.tokenId, openRouterKey: key });
    expect(await s.getToken(info.tokenId)).toEqual(info);
  });

  test('a user who never set a key authenticates with no openRouterKey', async () => {
    const u = await store.createUser(uniqueName('nokey'));
    const { token, info } = await store.issueToken(u.userId);
    remember(token);
    const p = await store.authenticate(token);
    expect(p).toEqual({ userId: u.userId, tokenId: info.tokenId });
    expect(p).not.toHaveProperty('openRouterKey');
  });

  test('labels: default, trimmed, up to 100 printable characters; anything else is invalid_input', async () => {
    const u = await store.createUser(uniqueName('label'));
    const issue = async (label?: string) => {
      const r = await store.issueToken(u.userId, label === undefined ? {} : { label });
      remember(r.token);
      return r.info.label;
    };
    expect(await issue()).toBe('default');
    expect(await issue('  ci runner  ')).toBe('ci runner');
    expect(await issue('x'.repeat(100))).toBe('x'.repeat(100));
    expect(await issue("bob's 💻")).toBe("bob's 💻");
    for (const bad of ['', '   ', 'x'.repeat(101), 'a\nb', 'a\u0000b', 'tab\tlabel', '\u001b[31mred']) {
      await expectStoreError(store.issueToken(u.userId, { label: bad }), 'invalid_input');
    }
    expect(await store.listTokens(u.userId)).toHaveLength(4);
  });

  test('an OAuth access token is bound to its grant and audience, unlisted, and dies with the grant', async () => {
    const u = await store.createUser(uniqueName('oauth'));
    const grant = await store.createGrant(u.userId, { clientId: 'c1', clientName: 'Claude', audience: 'https://mcp.example/mcp', scope: 'mcp' });
    const { token, info } = await store.issueToken(u.userId, { grant, expiresAt: new Date(Date.now() + 3600_000) });
    remember(token);
    expect(info.kind).toBe('oauth');
    expect(info.label).toBe('OAuth: Claude');
    expect(await store.listTokens(u.userId)).toEqual([]);
    expect((await store.authenticate(token))?.audience).toBe('https://mcp.example/mcp');
    expect((await store.listGrants(u.userId)).map((g) => g.grantId)).toEqual([grant.grantId]);
    await store.revokeGrant(grant.grantId);
    expect(await store.authenticate(token)).toBeUndefined();
    expect((await store.getGrant(grant.grantId))?.revokedAt).toBeDefined();
  });

  test('revoking all of a user\'s tokens also ends their OAuth grants', async () => {
    const u = await store.createUser(uniqueName('oauth-all'));
    const grant = await store.createGrant(u.userId, { clientId: 'c2', clientName: 'ChatGPT', audience: 'https://mcp.example/mcp', scope: 'mcp' });
    const oauth = await store.issueToken(u.userId, { grant, expiresAt: new Date(Date.now() + 3600_000) });
    const personal = await store.issueToken(u.userId, { label: 'cli' });
    remember(oauth.token);
    remember(personal.token);
    expect(await store.revokeAllTokens(u.userId)).toBe(2);
    expect(await store.authenticate(oauth.token)).toBeUndefined();
    expect(await store.authenticate(personal.token)).toBeUndefined();
  });

  test('a grant of another user cannot mint tokens', async () => {
    const a = await store.createUser(uniqueName('grant-a'));
    const b = await store.createUser(uniqueName('grant-b'));
    const grant = await store.createGrant(a.userId, { clientId: 'c3', clientName: 'X', audience: 'https://mcp.example/mcp', scope: 'mcp' });
    await expectStoreError(store.issueToken(b.userId, { grant }), 'invalid_input');
  });

  test('sign-in identities: created once, adopted by verified email, stable afterwards', async () => {
    const issuer = 'https://idp.example';
    const email = `${uniqueName('pre')}@example.com`;
    const pre = await store.createUser(email);
    const first = await store.userForIdentity({ issuer, subject: 'sub-1', email, emailVerified: true });
    expect(first.userId).toBe(pre.userId);
    expect((await store.userForIdentity({ issuer, subject: 'sub-1', email })).userId).toBe(pre.userId);
    // A second identity with the same email does not take over the adopted user.
    const other = await store.userForIdentity({ issuer, subject: 'sub-2', email, emailVerified: true });
    expect(other.userId).not.toBe(pre.userId);
    // An unverified email never adopts anyone.
    const email2 = `${uniqueName('unverified')}@example.com`;
    const victim = await store.createUser(email2);
    const stranger = await store.userForIdentity({ issuer, subject: 'sub-3', email: email2, emailVerified: false });
    expect(stranger.userId).not.toBe(victim.userId);
  });

  test('an expiry in the past or now is refused; an unknown user is refused; nothing is written', async () => {
    const { store: s } = clockedStore(T0);
    const u = await s.createUser(uniqueName('expiry-refused'));
    await expectStoreError(s.issueToken(u.userId, { expiresAt: new Date(T0 - 1) }), 'invalid_input');
    await expectStoreError(s.issueToken(u.userId, { expiresAt: new Date(T0) }), 'invalid_input');
    expect(await s.listTokens(u.userId)).toEqual([]);
    const ghost = `no-such-${randomBytes(4).toString('hex')}`;
    await expectStoreError(s.issueToken(ghost), 'no_such_user');
    expect(await s.listTokens(ghost)).toEqual([]);
  });

  test('an invalid expiry date is invalid_input, not a RangeError', async () => {
    const u = await store.createUser(uniqueName('nan-expiry'));
    await expectStoreError(store.issueToken(u.userId, { expiresAt: new Date(Number.NaN) }), 'invalid_input');
  });

  test('wrong, unknown, malformed, empty and padded tokens are all undefined; the real token still works', async () => {
    const { user, key, token, tokenId } = await userWithKey('wrong');
    const other = remember((await store.issueToken(user.userId)).token);
    const secret = secretPart(token);
    const flipped = secret.slice(0, -1) + (secret.endsWith('A') ? 'B' : 'A');
    const unknownId = randomBytes(8).toString('hex');
    const candidates = [
      `ormcp_${tokenId}_${flipped}`, // wrong secret part
      `ormcp_${tokenId}_${secretPart(other)}`, // another token's secret under this id
      `ormcp_${other.slice(6, 22)}_${secret}`, // this secret under another token's id
      `ormcp_${unknownId}_${secret}`, // unknown id
      '',
      ' ',
      `${token} `,
      ` ${token}`,
      `${token}\n`,
      `\t${token}`,
      `Bearer ${token}`,
      `${token}A`,
      token.slice(0, -1),
      token.toUpperCase(),
      `ORMCP_${tokenId}_${secret}`,
      `ormcp_${tokenId.toUpperCase()}_${secret}`,
      `ormcp-${tokenId}-${secret}`,
      `ormcp_${tokenId}_${secret.slice(0, 42)}=`,
      `ormcp_${tokenId}`,
      'ormcp__',
      'not a token at all',
      'x'.repeat(10_000),
    ];
    for (const c of candidates) expect(await store.authenticate(c)).toBeUndefined();
    expect(await store.authenticate(token)).toEqual({ userId: user.userId, tokenId, openRouterKey: key });
  });

  test('expiry through the injected clock: valid just before, invalid at and after', async () => {
    const { store: s, clock } = clockedStore(T0);
    const u = await s.createUser(uniqueName('expiry'));
    const expiresAt = new Date(T0 + 60 * MINUTE);
    const { token, info } = await s.issueToken(u.userId, { expiresAt });
    remember(token);
    expect(info.expiresAt).toBe(expiresAt.toISOString());
    // The item carries a DynamoDB TTL (epoch seconds) a while after the expiry.
    expect((await rawGet(keys.token(info.tokenId)))?.ttl).toBe(Math.floor(expiresAt.getTime() / 1000) + THIRTY_DAYS_S);
    clock.ms = expiresAt.getTime() - 1;
    expect((await s.authenticate(token))?.userId).toBe(u.userId);
    clock.ms = expiresAt.getTime();
    expect(await s.authenticate(token)).toBeUndefined();
    clock.ms = expiresAt.getTime() + 24 * 60 * MINUTE;
    expect(await s.authenticate(token)).toBeUndefined();
    // Still listable (with its expiry) until the TTL removes it.
    expect((await s.listTokens(u.userId)).map((t) => t.expiresAt)).toEqual([expiresAt.toISOString()]);
  });
});

// ---- revocation ----------------------------------------------------------------------------------------

describe('revocation', () => {
  test('revokeToken stops authentication; revoking again keeps the first revokedAt; unknown id is no_such_token', async () => {
    const { store: s, clock } = clockedStore(T0);
    const u = await s.createUser(uniqueName('revoke'));
    const { token, info } = await s.issueToken(u.userId);
    remember(token);
    expect(await s.authenticate(token)).toBeDefined();
    clock.ms = T0 + 3 * MINUTE;
    const first = await s.revokeToken(info.tokenId);
    expect(first).toMatchObject({ tokenId: info.tokenId, userId: u.userId, revokedAt: new Date(T0 + 3 * MINUTE).toISOString() });
    expect(first).not.toHaveProperty('hash');
    expect(await s.authenticate(token)).toBeUndefined();
    const raw1 = await rawGet(keys.token(info.tokenId));
    expect(raw1?.ttl).toBe(Math.floor((T0 + 3 * MINUTE) / 1000) + THIRTY_DAYS_S);
    clock.ms = T0 + 9 * MINUTE;
    const second = await s.revokeToken(info.tokenId);
    expect(second.revokedAt).toBe(first.revokedAt);
    expect((await s.getToken(info.tokenId))?.revokedAt).toBe(first.revokedAt);
    expect(await s.authenticate(token)).toBeUndefined();
    const unknown = randomBytes(8).toString('hex');
    await expectStoreError(s.revokeToken(unknown), 'no_such_token');
    expect(await rawGet(keys.token(unknown))).toBeUndefined();
  });

  test('revoking twice keeps the ttl a number (first revocation + 30 days)', async () => {
    const { store: s, clock } = clockedStore(T0);
    const u = await s.createUser(uniqueName('revoke-ttl'));
    const { token, info } = await s.issueToken(u.userId);
    remember(token);
    clock.ms = T0 + MINUTE;
    await s.revokeToken(info.tokenId);
    clock.ms = T0 + 2 * MINUTE;
    await s.revokeToken(info.tokenId);
    expect((await rawGet(keys.token(info.tokenId)))?.ttl).toBe(Math.floor((T0 + MINUTE) / 1000) + THIRTY_DAYS_S);
  });

  test('revokeAllTokens revokes every live token of that user only', async () => {
    const u = await store.createUser(uniqueName('revall'));
    const other = await userWithKey('revall-other');
    const tokens: string[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await store.issueToken(u.userId, { label: `t${i}` });
      tokens.push(remember(r.token));
      ids.push(r.info.tokenId);
    }
    const firstRevokedAt = (await store.revokeToken(ids[0]!)).revokedAt;
    expect(await store.revokeAllTokens(u.userId)).toBe(3);
    for (const t of tokens) expect(await store.authenticate(t)).toBeUndefined();
    const listed = await store.listTokens(u.userId);
    expect(listed).toHaveLength(4);
    expect(listed.every((t) => t.revokedAt)).toBe(true);
    expect(listed.find((t) => t.tokenId === ids[0])?.revokedAt).toBe(firstRevokedAt);
    expect(await store.revokeAllTokens(u.userId)).toBe(0);
    expect((await store.authenticate(other.token))?.openRouterKey).toBe(other.key);
  });

  test('removeUser: tokens stop authenticating, the name is free again, other users are unaffected', async () => {
    const victim = await userWithKey('remove');
    const extra = remember((await store.issueToken(victim.user.userId, { label: 'second' })).token);
    const bystander = await userWithKey('remove-bystander');
    await store.removeUser(victim.user.userId);
    expect(await store.authenticate(victim.token)).toBeUndefined();
    expect(await store.authenticate(extra)).toBeUndefined();
    expect(await store.getUser(victim.user.userId)).toBeUndefined();
    expect(await store.findUserByName(victim.user.name)).toBeUndefined();
    expect((await store.listUsers()).some((u) => u.userId === victim.user.userId)).toBe(false);
    expect((await store.listTokens(victim.user.userId)).every((t) => t.revokedAt)).toBe(true);
    // The name can be reused by a new user, who does not inherit anything.
    const reborn = await store.createUser(victim.user.name);
    expect(reborn.userId).not.toBe(victim.user.userId);
    expect(reborn.hasKey).toBe(false);
    expect(await store.authenticate(victim.token)).toBeUndefined();
    expect(await store.authenticate(bystander.token)).toEqual({ userId: bystander.user.userId, tokenId: bystander.tokenId, openRouterKey: bystander.key });
    await expectStoreError(store.removeUser(victim.user.userId), 'no_such_user');
  });

  test('a user removed and re-created with the same id (Cognito sub) does not revive old tokens', async () => {
    const sub = `sub-${randomBytes(6).toString('hex')}`;
    const name = uniqueName('resub');
    await store.createUser(name, sub);
    await store.setOpenRouterKey(sub, orKey());
    const old = remember((await store.issueToken(sub)).token);
    await store.removeUser(sub);
    await store.createUser(name, sub);
    expect(await store.authenticate(old)).toBeUndefined();
    const fresh = remember((await store.issueToken(sub)).token);
    expect(await store.authenticate(fresh)).toEqual({ userId: sub, tokenId: fresh.slice(6, 22) });
  });
});

// ---- listing -------------------------------------------------------------------------------------------

describe('listTokens', () => {
  test('newest first, through the gsi1 index, only that user, never the hash or the token', async () => {
    const { store: s, clock } = clockedStore(T0);
    const t = tracking(dynamo.client);
    const listing = new AccountStore({ client: t.client, tableName: dynamo.tableName, keyring, now: () => new Date(clock.ms) });
    const a = await s.createUser(uniqueName('list-a'));
    const b = await s.createUser(uniqueName('list-b'));
    const issuedA: string[] = [];
    const tokensA: string[] = [];
    for (let i = 0; i < 3; i++) {
      clock.ms = T0 + i * MINUTE;
      const r = await s.issueToken(a.userId, { label: `a${i}` });
      issuedA.push(r.info.tokenId);
      tokensA.push(remember(r.token));
      const rb = await s.issueToken(b.userId, { label: `b${i}` });
      remember(rb.token);
    }
    const listed = await listing.listTokens(a.userId);
    expect(listed.map((x) => x.tokenId)).toEqual([...issuedA].reverse());
    expect(listed.map((x) => x.label)).toEqual(['a2', 'a1', 'a0']);
    expect(listed.every((x) => x.userId === a.userId)).toBe(true);
    const allowed = ['tokenId', 'userId', 'label', 'kind', 'createdAt', 'expiresAt', 'revokedAt', 'lastUsedAt'];
    for (const x of listed) {
      for (const k of Object.keys(x)) expect(allowed).toContain(k);
      expect(x).not.toHaveProperty('hash');
      expect(x).not.toHaveProperty('token');
      expect(x).not.toHaveProperty('keyVersion');
    }
    const json = JSON.stringify(listed);
    for (const tok of tokensA) {
      expect(json).not.toContain(tok);
      expect(json).not.toContain(secretPart(tok));
    }
    // Exactly one Query on the index, keyed by this user's gsi1pk; no scan.
    expect(t.commands).toHaveLength(1);
    const q = t.commands[0];
    expect(q).toBeInstanceOf(QueryCommand);
    expect((q as QueryCommand).input.IndexName).toBe('gsi1');
    expect((q as QueryCommand).input.ExpressionAttributeValues).toEqual({ ':pk': keys.userTokensIndex(a.userId) });
    expect((await rawGet(keys.token(issuedA[0]!)))?.gsi1pk).toBe(keys.userTokensIndex(a.userId));
    // The other user's list holds only theirs.
    const listedB = await s.listTokens(b.userId);
    expect(listedB.map((x) => x.label)).toEqual(['b2', 'b1', 'b0']);
    expect(listedB.some((x) => issuedA.includes(x.tokenId))).toBe(false);
  });
});

// ---- lastUsedAt --------------------------------------------------------------------------------------

describe('lastUsedAt', () => {
  test('set on first use, not rewritten within 15 minutes, rewritten after', async () => {
    const t = tracking(dynamo.client);
    const { store: s, clock } = clockedStore(T0, t.client);
    const u = await s.createUser(uniqueName('lastused'));
    const { token, info } = await s.issueToken(u.userId);
    remember(token);
    const rawLastUsed = async () => (await rawGet(keys.token(info.tokenId)))?.lastUsedAt;
    const lastUsedWrites = () => t.commands.filter((c) => c instanceof UpdateCommand && /lastUsedAt/.test(c.input.UpdateExpression ?? '')).length;
    expect(await rawLastUsed()).toBeUndefined();

    clock.ms = T0 + MINUTE;
    expect(await s.authenticate(token)).toBeDefined();
    await t.settle();
    expect(await rawLastUsed()).toBe(new Date(T0 + MINUTE).toISOString());
    expect(lastUsedWrites()).toBe(1);

    clock.ms = T0 + 2 * MINUTE;
    expect(await s.authenticate(token)).toBeDefined();
    clock.ms = T0 + 15 * MINUTE;
    expect(await s.authenticate(token)).toBeDefined();
    await t.settle();
    expect(await rawLastUsed()).toBe(new Date(T0 + MINUTE).toISOString());
    expect(lastUsedWrites()).toBe(1);

    clock.ms = T0 + 17 * MINUTE;
    expect(await s.authenticate(token)).toBeDefined();
    await t.settle();
    expect(await rawLastUsed()).toBe(new Date(T0 + 17 * MINUTE).toISOString());
    expect((await s.listTokens(u.userId))[0]?.lastUsedAt).toBe(new Date(T0 + 17 * MINUTE).toISOString());
  });

  test('the conditional write never moves lastUsedAt back (a stale instance writing late)', async () => {
    const t = tracking(dynamo.client);
    const { store: s, clock } = clockedStore(T0, t.client);
    const u = await s.createUser(uniqueName('lastused-late'));
    const { token, info } = await s.issueToken(u.userId);
    remember(token);
    clock.ms = T0 + 30 * MINUTE;
    await s.authenticate(token);
    await t.settle();
    // Another instance whose clock lags and whose read predates that write (simulated: its reads of the token
    // item come back without lastUsedAt) does send a write, but the condition keeps the newer value.
    const staleReads = {
      async send(command: unknown) {
        const res = (await (dynamo.client.send as (c: unknown) => Promise<unknown>).call(dynamo.client, command)) as { Item?: Record<string, unknown> };
        if (command instanceof GetCommand && res.Item?.type === 'token') {
          const { lastUsedAt: _dropped, ...rest } = res.Item;
          return { ...res, Item: rest };
        }
        return res;
      },
    } as unknown as DynamoDBDocumentClient;
    const lagging = tracking(staleReads);
    const { store: late } = clockedStore(T0 + 20 * MINUTE, lagging.client);
    expect((await late.authenticate(token))?.tokenId).toBe(info.tokenId);
    await lagging.settle();
    expect(lagging.commands.filter((c) => c instanceof UpdateCommand)).toHaveLength(1);
    expect((await rawGet(keys.token(info.tokenId)))?.lastUsedAt).toBe(new Date(T0 + 30 * MINUTE).toISOString());
  });
});

// ---- concurrency -----------------------------------------------------------------------------------------

describe('concurrency', () => {
  test('20 tokens issued in parallel; 10 revoked while the other 10 authenticate, all in parallel', async () => {
    const u = await store.createUser(uniqueName('parallel'));
    const key = orKey();
    await store.setOpenRouterKey(u.userId, key);
    const issued = await Promise.all(Array.from({ length: 20 }, (_, i) => store.issueToken(u.userId, { label: `p${i}` })));
    issued.forEach((r) => remember(r.token));
    expect(new Set(issued.map((r) => r.info.tokenId)).size).toBe(20);
    expect(new Set(issued.map((r) => r.token)).size).toBe(20);
    const toRevoke = issued.slice(0, 10);
    const toKeep = issued.slice(10);
    const [revoked, principals] = await Promise.all([
      Promise.all(toRevoke.map((r) => store.revokeToken(r.info.tokenId))),
      Promise.all(toKeep.map((r) => store.authenticate(r.token))),
    ]);
    expect(revoked.every((r) => r.revokedAt)).toBe(true);
    principals.forEach((p, i) => expect(p).toEqual({ userId: u.userId, tokenId: toKeep[i]!.info.tokenId, openRouterKey: key }));
    const after = await Promise.all(issued.map((r) => store.authenticate(r.token)));
    expect(after.slice(0, 10).every((p) => p === undefined)).toBe(true);
    expect(after.slice(10).map((p) => p?.tokenId)).toEqual(toKeep.map((r) => r.info.tokenId));
    const listed = await store.listTokens(u.userId);
    expect(listed).toHaveLength(20);
    const revokedIds = listed.filter((t) => t.revokedAt).map((t) => t.tokenId).sort();
    expect(revokedIds).toEqual(toRevoke.map((r) => r.info.tokenId).sort());
  });
});

// ---- isolation -------------------------------------------------------------------------------------------

describe('isolation between users', () => {
  test("A's token always yields A's key, never B's, also after B's key is replaced", async () => {
    const a = await userWithKey('iso-a');
    const b = await userWithKey('iso-b');
    const results = await Promise.all([...Array.from({ length: 10 }, () => store.authenticate(a.token)), ...Array.from({ length: 10 }, () => store.authenticate(b.token))]);
    results.slice(0, 10).forEach((p) => expect(p).toEqual({ userId: a.user.userId, tokenId: a.tokenId, openRouterKey: a.key }));
    results.slice(10).forEach((p) => expect(p).toEqual({ userId: b.user.userId, tokenId: b.tokenId, openRouterKey: b.key }));
    const bNext = orKey();
    await store.setOpenRouterKey(b.user.userId, bNext);
    expect(await store.authenticate(a.token)).toEqual({ userId: a.user.userId, tokenId: a.tokenId, openRouterKey: a.key });
    expect((await store.authenticate(b.token))?.openRouterKey).toBe(bNext);
  });

  test("A's ciphertext copied onto B's item never yields A's key (user id is the AAD)", async () => {
    const a = await userWithKey('aad-a');
    const b = await userWithKey('aad-b');
    const rawA = await rawGet(keys.user(a.user.userId));
    expect(typeof rawA?.keyCiphertext).toBe('string');
    await dynamo.client.send(
      new UpdateCommand({
        TableName: dynamo.tableName,
        Key: keys.user(b.user.userId),
        UpdateExpression: 'SET keyCiphertext = :c, keyVersion = :v',
        ExpressionAttributeValues: { ':c': rawA!.keyCiphertext, ':v': rawA!.keyVersion },
      }),
    );
    const outcome = await store.authenticate(b.token).then(
      (p) => ({ ok: true as const, p }),
      (e: unknown) => ({ ok: false as const, e }),
    );
    if (outcome.ok) {
      expect(outcome.p?.openRouterKey).not.toBe(a.key);
      expect(JSON.stringify(outcome.p ?? null)).not.toContain(a.key);
    } else {
      expect(String(outcome.e)).not.toContain(a.key);
      expect(String((outcome.e as Error).stack)).not.toContain(a.key);
    }
    // Whatever happened to B, A is unaffected.
    expect((await store.authenticate(a.token))?.openRouterKey).toBe(a.key);
  });

  test("a token hash copied onto another token's item does not verify (the id is bound into the MAC)", async () => {
    const a = await userWithKey('mac-a');
    const b = await userWithKey('mac-b');
    const rawA = await rawGet(keys.token(a.tokenId));
    await dynamo.client.send(
      new UpdateCommand({ TableName: dynamo.tableName, Key: keys.token(b.tokenId), UpdateExpression: 'SET #h = :h', ExpressionAttributeNames: { '#h': 'hash' }, ExpressionAttributeValues: { ':h': rawA!.hash } }),
    );
    // A's secret presented under B's token id must not get B's key.
    expect(await store.authenticate(`ormcp_${b.tokenId}_${secretPart(a.token)}`)).toBeUndefined();
    expect(await store.authenticate(b.token)).toBeUndefined();
    expect((await store.authenticate(a.token))?.openRouterKey).toBe(a.key);
  });
});

// ---- at rest -------------------------------------------------------------------------------------------

describe('at rest (runs last)', () => {
  test('a raw scan of the whole table contains no token, token secret or plaintext OpenRouter key', async () => {
    const items = await scanAll(dynamo.client, dynamo.tableName);
    // The scan saw what this file wrote: tokens with hashes, users with ciphertexts.
    expect(items.filter((i) => i.type === 'token').length).toBeGreaterThan(50);
    expect(items.filter((i) => typeof i.keyCiphertext === 'string').length).toBeGreaterThan(10);
    expect(secrets.size).toBeGreaterThan(100);
    const leaks: string[] = [];
    for (const item of items) {
      for (const [attr, value] of Object.entries(item)) {
        const text = typeof value === 'string' ? value : JSON.stringify(value);
        for (const secret of secrets) if (text.includes(secret)) leaks.push(`${String(item.pk)}.${attr}`);
      }
    }
    expect(leaks).toEqual([]);
  });
});
