/**
 * Rotating the server secret (lambda/crypto/keyring.ts): items remember the secret version they were written
 * under, so adding a version and making it current keeps everything working; new writes use the new version;
 * once the old version is removed, what was written only under it stops working (and nothing else).
 */
import { randomBytes } from 'node:crypto';
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SecretFormatError, newSecretString, parseKeyring, type Keyring } from '../../lambda/crypto/keyring.js';
import { startLocalDynamo, type LocalDynamo } from '../../lambda/local/dynalite.js';
import { createLogger } from '../../lambda/observability/logger.js';
import { AccountStore } from '../../lambda/store/account-store.js';
import { keys } from '../../lambda/store/schema.js';

let dynamo: LocalDynamo;
const pending: Promise<unknown>[] = [];
let client: DynamoDBDocumentClient;

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  // Remember every request so fire-and-forget lastUsedAt writes land before the database closes.
  client = {
    send(command: unknown) {
      const p = (dynamo.client.send as (c: unknown) => Promise<unknown>).call(dynamo.client, command);
      pending.push(p.catch(() => undefined));
      return p;
    },
  } as unknown as DynamoDBDocumentClient;
});

afterAll(async () => {
  while (pending.length) await Promise.all(pending.splice(0));
  await dynamo.close();
});

const secretValue = () => randomBytes(48).toString('base64url');
const orKey = () => `sk-or-v1-${randomBytes(20).toString('hex')}`;
const uniqueName = (p: string) => `${p}-${randomBytes(4).toString('hex')}`;

function storeWith(keyring: Keyring, logs?: string[]): AccountStore {
  return new AccountStore({
    client,
    tableName: dynamo.tableName,
    keyring,
    ...(logs ? { logger: createLogger({ level: 'debug', write: (l) => logs.push(l) }) } : {}),
  });
}

async function raw(key: Record<string, string>): Promise<Record<string, unknown> | undefined> {
  return (await dynamo.client.send(new GetCommand({ TableName: dynamo.tableName, Key: key, ConsistentRead: true }))).Item as Record<string, unknown> | undefined;
}

describe('the rotation procedure', () => {
  const A = secretValue();
  const B = secretValue();
  const v1Only = parseKeyring(JSON.stringify({ current: 'v1', v1: A }));
  const v1AndV2 = parseKeyring(JSON.stringify({ current: 'v2', v1: A, v2: B }));
  const v2Only = parseKeyring(JSON.stringify({ current: 'v2', v2: B }));

  test('v1 → v1+v2 (current v2) → v2 only', async () => {
    // 1. Everything written under {"current":"v1","v1":A}.
    const s1 = storeWith(v1Only);
    const rekeyed = await s1.createUser(uniqueName('rot-rekeyed'));
    const stale = await s1.createUser(uniqueName('rot-stale'));
    const key1 = orKey();
    const staleKey = orKey();
    await s1.setOpenRouterKey(rekeyed.userId, key1);
    await s1.setOpenRouterKey(stale.userId, staleKey);
    const t1 = await s1.issueToken(rekeyed.userId, { label: 'v1 token' });
    const staleT1 = await s1.issueToken(stale.userId, { label: 'v1 token' });
    expect((await raw(keys.token(t1.info.tokenId)))?.keyVersion).toBe('v1');
    expect((await raw(keys.user(rekeyed.userId)))?.keyVersion).toBe('v1');
    expect(await s1.authenticate(t1.token)).toEqual({ userId: rekeyed.userId, tokenId: t1.info.tokenId, openRouterKey: key1 });

    // 2. Rotate to {"current":"v2","v1":A,"v2":B}: a new store over the same table.
    const s2 = storeWith(v1AndV2);
    expect(await s2.authenticate(t1.token)).toEqual({ userId: rekeyed.userId, tokenId: t1.info.tokenId, openRouterKey: key1 });
    expect(await s2.authenticate(staleT1.token)).toEqual({ userId: stale.userId, tokenId: staleT1.info.tokenId, openRouterKey: staleKey });
    // New tokens and keys are written under v2.
    const t2 = await s2.issueToken(rekeyed.userId, { label: 'v2 token' });
    const staleT2 = await s2.issueToken(stale.userId, { label: 'v2 token' });
    expect((await raw(keys.token(t2.info.tokenId)))?.keyVersion).toBe('v2');
    expect((await raw(keys.token(t1.info.tokenId)))?.keyVersion).toBe('v1');
    const fresh = await s2.createUser(uniqueName('rot-fresh'));
    const freshKey = orKey();
    await s2.setOpenRouterKey(fresh.userId, freshKey);
    expect((await raw(keys.user(fresh.userId)))?.keyVersion).toBe('v2');
    const freshT = await s2.issueToken(fresh.userId);
    // setOpenRouterKey re-encrypts an existing v1 key under v2.
    const before = (await raw(keys.user(rekeyed.userId)))?.keyCiphertext;
    const key2 = orKey();
    await s2.setOpenRouterKey(rekeyed.userId, key2);
    const after = await raw(keys.user(rekeyed.userId));
    expect(after?.keyVersion).toBe('v2');
    expect(after?.keyCiphertext).not.toBe(before);
    expect(JSON.stringify(after)).not.toContain(key2);
    // Both token generations work and see the re-encrypted key.
    expect((await s2.authenticate(t1.token))?.openRouterKey).toBe(key2);
    expect((await s2.authenticate(t2.token))?.openRouterKey).toBe(key2);
    expect((await s2.authenticate(freshT.token))?.openRouterKey).toBe(freshKey);

    // 3. Drop v1: {"current":"v2","v2":B}.
    const logs: string[] = [];
    const s3 = storeWith(v2Only, logs);
    expect(await s3.authenticate(t1.token)).toBeUndefined();
    expect(await s3.authenticate(staleT1.token)).toBeUndefined();
    expect(await s3.authenticate(t2.token)).toEqual({ userId: rekeyed.userId, tokenId: t2.info.tokenId, openRouterKey: key2 });
    expect(await s3.authenticate(freshT.token)).toEqual({ userId: fresh.userId, tokenId: freshT.info.tokenId, openRouterKey: freshKey });
    // The operator is told why a v1 token failed, by id and version only.
    const warning = logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.token_id === t1.info.tokenId);
    expect(warning).toMatchObject({ level: 'warn', key_version: 'v1' });
    for (const l of logs) {
      expect(l).not.toContain(t1.token);
      expect(l).not.toContain(key1);
      expect(l).not.toContain(A);
    }
    // A key still stored only under v1 cannot be decrypted any more: a valid v2 token still authenticates, but
    // as a user with no key (tools then say to connect one), and the operator log says why — with no secret in it.
    const principal = await s3.authenticate(staleT2.token);
    expect(principal).toEqual({ userId: stale.userId, tokenId: staleT2.info.tokenId });
    const keyError = logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.user_id === stale.userId);
    expect(keyError).toMatchObject({ level: 'error', key_version: 'v1' });
    for (const secret of [staleKey, staleT2.token, A, B]) expect(logs.join('\n')).not.toContain(secret);
    // Setting the key again (under v2) repairs that user.
    const staleKey2 = orKey();
    await s3.setOpenRouterKey(stale.userId, staleKey2);
    expect((await s3.authenticate(staleT2.token))?.openRouterKey).toBe(staleKey2);
    expect(await s3.authenticate(staleT1.token)).toBeUndefined();
  });

  test('an instance still on the old secret rejects v2 tokens rather than mis-verifying them', async () => {
    const s2 = storeWith(v1AndV2);
    const u = await s2.createUser(uniqueName('rot-lag'));
    const t2 = await s2.issueToken(u.userId);
    expect((await s2.authenticate(t2.token))?.userId).toBe(u.userId);
    expect(await storeWith(v1Only).authenticate(t2.token)).toBeUndefined();
    // Staging v2 without making it current lets old-secret instances verify new items during a roll-out.
    const staged = parseKeyring(JSON.stringify({ current: 'v1', v1: A, v2: B }));
    expect((await storeWith(staged).authenticate(t2.token))?.userId).toBe(u.userId);
    expect(staged.currentVersion).toBe('v1');
  });

  test('the same version name with a different secret value does not verify old tokens', async () => {
    const s1 = storeWith(v1Only);
    const u = await s1.createUser(uniqueName('rot-swap'));
    const t = await s1.issueToken(u.userId);
    const impostor = parseKeyring(JSON.stringify({ current: 'v1', v1: secretValue() }));
    expect(await storeWith(impostor).authenticate(t.token)).toBeUndefined();
    expect((await s1.authenticate(t.token))?.userId).toBe(u.userId);
  });
});

describe('parseKeyring', () => {
  const good = secretValue();

  test('accepts the documented shape and newSecretString()', () => {
    const k = parseKeyring(JSON.stringify({ current: 'v2', v1: good, v2: secretValue() }));
    expect(k.currentVersion).toBe('v2');
    expect(k.get('v2')).toBe(k.current);
    expect(k.get('v1')).toBeDefined();
    expect(k.get('v1')!.tokenHmacKey.equals(k.current.tokenHmacKey)).toBe(false);
    expect(k.get('v3')).toBeUndefined();
    expect(k.get('current')).toBeUndefined();
    const fresh = parseKeyring(newSecretString());
    expect(fresh.currentVersion).toBe('v1');
    expect(fresh.current.dataKey).toHaveLength(32);
    // Exactly 32 bytes is enough (counted in bytes, not characters).
    expect(() => parseKeyring(JSON.stringify({ current: 'v1', v1: 'x'.repeat(32) }))).not.toThrow();
    expect(() => parseKeyring(JSON.stringify({ current: 'v1', v1: 'é'.repeat(16) }))).not.toThrow();
  });

  test.each([
    ['non-JSON', 'v1=abc'],
    ['empty', ''],
    ['truncated JSON', `{"current":"v1","v1":"${good}"`],
  ])('rejects %s', (_label, value) => {
    expect(() => parseKeyring(value)).toThrow(SecretFormatError);
    expect(() => parseKeyring(value)).toThrow(/not JSON/);
  });

  test.each([
    ['missing current', { v1: good }],
    ['a non-string current', { current: 1, v1: good }],
    ['a current with bad characters', { current: 'v 1', v1: good }],
    ['a non-string version value', { current: 'v1', v1: good, v2: 42 }],
  ])('rejects %s', (_label, value) => {
    expect(() => parseKeyring(JSON.stringify(value))).toThrow(SecretFormatError);
  });

  test.each([
    ['null', 'null'],
    ['an array', '[]'],
    ['a string', '"v1"'],
  ])('rejects JSON that is %s', (_label, value) => {
    expect(() => parseKeyring(value)).toThrow(SecretFormatError);
  });

  test('rejects a current version that is not present', () => {
    expect(() => parseKeyring(JSON.stringify({ current: 'v2', v1: good }))).toThrow(SecretFormatError);
    expect(() => parseKeyring(JSON.stringify({ current: 'v2', v1: good }))).toThrow(/"v2" is missing/);
    expect(() => parseKeyring(JSON.stringify({ current: 'v1' }))).toThrow(/"v1" is missing/);
  });

  test('rejects any version shorter than 32 bytes, current or not', () => {
    expect(() => parseKeyring(JSON.stringify({ current: 'v1', v1: 'x'.repeat(31) }))).toThrow(SecretFormatError);
    expect(() => parseKeyring(JSON.stringify({ current: 'v1', v1: 'x'.repeat(31) }))).toThrow(/"v1" is shorter than 32 bytes/);
    expect(() => parseKeyring(JSON.stringify({ current: 'v2', v1: 'short', v2: good }))).toThrow(/"v1" is shorter than 32 bytes/);
    expect(() => parseKeyring(JSON.stringify({ current: 'v1', v1: '' }))).toThrow(SecretFormatError);
  });

  test('error messages never contain the secret values', () => {
    const short = 'S'.repeat(20);
    const cases = [JSON.stringify({ current: 'v2', v1: good }), JSON.stringify({ current: 'v1', v1: good, v2: short }), `{"current":"v1","v1":"${good}"`];
    for (const c of cases) {
      let message = '';
      try {
        parseKeyring(c);
      } catch (e) {
        message = String(e);
      }
      expect(message).toMatch(/SecretFormatError/);
      expect(message).not.toContain(good);
      expect(message).not.toContain(short);
    }
  });
});
