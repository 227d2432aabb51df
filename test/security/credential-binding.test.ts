/**
 * Attack: someone who can write to the table (but does not hold the server secret) rewrites a stored credential so
 * it grants something else — another user (whose OpenRouter key it would then call with), another grant, client or
 * audience, or no expiry. Every stored credential's MAC binds what it grants, so each rewrite makes it fail.
 * Credentials written before MACs were bound (legacy: MAC over `tokenId.secret` only) keep working once and are
 * upgraded in place.
 */
import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { newSecretString, parseKeyring } from '../../lambda/crypto/keyring.js';
import { hashTokenSecret, lookupDigest, parseToken } from '../../lambda/crypto/secrets.js';
import { startLocalDynamo, type LocalDynamo } from '../../lambda/local/dynalite.js';
import { AccountStore, type Grant } from '../../lambda/store/account-store.js';
import { OAuthStore } from '../../lambda/store/oauth-store.js';
import { keys } from '../../lambda/store/schema.js';
import { connectV2, startHarness, textOf } from '../support/harness.js';

let dynamo: LocalDynamo;
let attacker: DynamoDBDocumentClient;
let store: AccountStore;
let oauth: OAuthStore;
const keyring = parseKeyring(newSecretString());
const RESOURCE = 'https://mcp.example.test/mcp';
let alice: { userId: string; key: string };
let mallory: { userId: string; key: string };

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  // The attacker's own client: any credentials, straight at the table.
  attacker = DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'local', credentials: { accessKeyId: 'attacker', secretAccessKey: 'attacker' } }),
  );
  store = new AccountStore({ client: dynamo.client, tableName: dynamo.tableName, keyring });
  oauth = new OAuthStore({ client: dynamo.client, tableName: dynamo.tableName, keyring });
  const user = async (name: string) => {
    const { userId } = await store.createUser(`${name}-${randomBytes(3).toString('hex')}`);
    const key = `sk-or-v1-${name}-${randomBytes(16).toString('hex')}`;
    await store.setOpenRouterKey(userId, key);
    return { userId, key };
  };
  alice = await user('alice');
  mallory = await user('mallory');
});

afterAll(async () => {
  await store.settle();
  attacker.destroy();
  await dynamo.close();
});

async function rewrite(key: Record<string, string>, fields: Record<string, unknown>, remove: string[] = []): Promise<void> {
  const names = Object.fromEntries([...Object.keys(fields), ...remove].map((f, i) => [`#f${i}`, f]));
  const sets = Object.keys(fields).map((_f, i) => `#f${i} = :v${i}`);
  const removes = remove.map((_f, i) => `#f${i + Object.keys(fields).length}`);
  await attacker.send(
    new UpdateCommand({
      TableName: dynamo.tableName,
      Key: key,
      UpdateExpression: [sets.length ? `SET ${sets.join(', ')}` : '', removes.length ? `REMOVE ${removes.join(', ')}` : ''].join(' ').trim(),
      ExpressionAttributeNames: names,
      ...(sets.length ? { ExpressionAttributeValues: Object.fromEntries(Object.values(fields).map((v, i) => [`:v${i}`, v])) } : {}),
    }),
  );
}

async function item(key: Record<string, string>): Promise<Record<string, unknown>> {
  return (await attacker.send(new GetCommand({ TableName: dynamo.tableName, Key: key, ConsistentRead: true }))).Item!;
}

const grantFor = (userId: string, clientId = 'dcr_client') =>
  store.createGrant(userId, { clientId, clientName: 'Some client', audience: RESOURCE, scope: 'mcp' });
const oauthToken = async (grant: Grant) => store.issueToken(grant.userId, { grant, expiresAt: new Date(Date.now() + 3600_000) });

describe('a rewritten personal token', () => {
  test("re-homed to another user: refused, and never calls with that user's key", async () => {
    const t = await store.issueToken(mallory.userId, { label: 'mallory' });
    expect((await store.authenticate(t.token))?.openRouterKey).toBe(mallory.key);
    await rewrite(keys.token(t.info.tokenId), { userId: alice.userId, gsi1pk: keys.userTokensIndex(alice.userId) });
    expect(await store.authenticate(t.token)).toBeUndefined();
  });

  test('its expiry removed or pushed out: refused', async () => {
    const t = await store.issueToken(mallory.userId, { expiresAt: new Date(Date.now() + 60_000) });
    await rewrite(keys.token(t.info.tokenId), {}, ['expiresAt']);
    expect(await store.authenticate(t.token)).toBeUndefined();
    const u = await store.issueToken(mallory.userId, { expiresAt: new Date(Date.now() + 60_000) });
    await rewrite(keys.token(u.info.tokenId), { expiresAt: '2999-01-01T00:00:00.000Z' });
    expect(await store.authenticate(u.token)).toBeUndefined();
  });

  test("another token's MAC copied onto it: refused", async () => {
    const a = await store.issueToken(alice.userId);
    const m = await store.issueToken(mallory.userId);
    await rewrite(keys.token(m.info.tokenId), { userId: alice.userId, hash: (await item(keys.token(a.info.tokenId))).hash });
    expect(await store.authenticate(m.token)).toBeUndefined();
  });
});

describe('a rewritten OAuth access token', () => {
  test.each<[string, () => Record<string, string>]>([
    ['re-homed to another user', () => ({ userId: alice.userId })],
    ['moved to another grant', () => ({ grantId: 'alices-grant' })],
    ['given another client', () => ({ clientId: 'dcr_other' })],
    ['given another audience', () => ({ audience: 'https://elsewhere.example/mcp' })],
    ['turned into a personal token', () => ({ kind: 'personal' })],
  ])('%s: refused', async (_label, fields) => {
    const grant = await grantFor(mallory.userId);
    const t = await oauthToken(grant);
    expect((await store.authenticate(t.token))?.userId).toBe(mallory.userId);
    const change = fields();
    if (change.grantId) change.grantId = (await grantFor(alice.userId)).grantId;
    await rewrite(keys.token(t.info.tokenId), change);
    expect(await store.authenticate(t.token)).toBeUndefined();
    expect(await store.verifiedTokenGrant(t.token)).toBeUndefined();
  });

  test('its grant re-homed to another user together with the token: refused', async () => {
    const grant = await grantFor(mallory.userId);
    const t = await oauthToken(grant);
    await rewrite(keys.grant(grant.grantId), { userId: alice.userId });
    expect(await store.authenticate(t.token)).toBeUndefined();
  });
});

describe('a rewritten refresh token', () => {
  test.each([
    ['re-homed to another user', () => ({ userId: alice.userId })],
    ['moved to another grant', () => ({ grantId: 'other-grant' })],
    ['given another client', () => ({ clientId: 'dcr_other' })],
    ['given a later expiry', () => ({ expiresAt: '2999-01-01T00:00:00.000Z' })],
  ])('%s: refused', async (_label, fields) => {
    const grant = await grantFor(mallory.userId);
    const refresh = await oauth.issueRefreshToken({ grantId: grant.grantId, clientId: grant.clientId, userId: mallory.userId, expiresAt: new Date(Date.now() + 3600_000).toISOString() });
    expect((await oauth.getRefreshToken(refresh))?.userId).toBe(mallory.userId);
    await rewrite(keys.refreshToken(refresh.split('_')[1]!), fields());
    expect(await oauth.getRefreshToken(refresh)).toBeUndefined();
  });
});

describe('a rewritten authorization code', () => {
  const codeRecord = () => ({
    clientId: 'dcr_client',
    userId: mallory.userId,
    redirectUri: 'http://127.0.0.1:9999/callback',
    codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    resource: RESOURCE,
    scope: 'mcp',
    expiresAt: new Date(Date.now() + 60_000).toISOString(),
  });

  test.each([
    ['re-homed to another user', () => ({ userId: alice.userId })],
    ['sent to another redirect URI', () => ({ redirectUri: 'https://attacker.example/cb' })],
    ['given another PKCE challenge', () => ({ codeChallenge: 'A'.repeat(43) })],
    ['given another client', () => ({ clientId: 'dcr_other' })],
    ['given a wider scope', () => ({ scope: 'mcp admin' })],
  ])('%s: refused', async (_label, fields) => {
    const code = await oauth.createCode(codeRecord());
    expect((await oauth.getCode(code))?.userId).toBe(mallory.userId);
    // The code's item is keyed by a digest the attacker cannot compute, but can find: it is the newest code item.
    const key = await codeKeyOf(code);
    await rewrite(key, fields());
    expect(await oauth.getCode(code)).toBeUndefined();
  });

  /** The item the attacker would find by scanning; here located through the store's own digest to keep it exact. */
  async function codeKeyOf(code: string): Promise<Record<string, string>> {
    return keys.authorizationCode(lookupDigest(keyring.current.tokenHmacKey, 'authorization-code', code));
  }
});

describe('credentials stored before MACs were bound', () => {
  const legacy = (tokenId: string, token: string) => hashTokenSecret(keyring.current.tokenHmacKey, tokenId, (parseToken(token) ?? parseToken(token, 'ormcr'))!.secret);

  test('a legacy personal token works, and its MAC is upgraded in place so a later re-homing fails', async () => {
    const t = await store.issueToken(mallory.userId);
    await rewrite(keys.token(t.info.tokenId), { hash: legacy(t.info.tokenId, t.token) });
    expect((await store.authenticate(t.token))?.openRouterKey).toBe(mallory.key);
    const upgraded = (await item(keys.token(t.info.tokenId))).hash as string;
    expect(upgraded).toMatch(/^b1\./);
    expect((await store.authenticate(t.token))?.openRouterKey).toBe(mallory.key);
    await rewrite(keys.token(t.info.tokenId), { userId: alice.userId });
    expect(await store.authenticate(t.token)).toBeUndefined();
  });

  test('a legacy MAC with a wrong secret is refused and left as it was', async () => {
    const t = await store.issueToken(mallory.userId);
    const old = legacy(t.info.tokenId, t.token);
    await rewrite(keys.token(t.info.tokenId), { hash: old });
    const forged = `ormcp_${t.info.tokenId}_${'A'.repeat(43)}`;
    expect(await store.authenticate(forged)).toBeUndefined();
    expect((await item(keys.token(t.info.tokenId))).hash).toBe(old);
  });

  test('a legacy OAuth access token is upgraded once through revocation lookups too', async () => {
    const grant = await grantFor(mallory.userId);
    const t = await oauthToken(grant);
    await rewrite(keys.token(t.info.tokenId), { hash: legacy(t.info.tokenId, t.token) });
    expect(await store.verifiedTokenGrant(t.token)).toEqual({ grantId: grant.grantId, clientId: grant.clientId });
    expect((await item(keys.token(t.info.tokenId))).hash).toMatch(/^b1\./);
    expect((await store.authenticate(t.token))?.audience).toBe(RESOURCE);
  });

  test('a legacy refresh token works, and is upgraded so a later re-homing fails', async () => {
    const grant = await grantFor(mallory.userId);
    const refresh = await oauth.issueRefreshToken({ grantId: grant.grantId, clientId: grant.clientId, userId: mallory.userId, expiresAt: new Date(Date.now() + 3600_000).toISOString() });
    const tokenId = refresh.split('_')[1]!;
    await rewrite(keys.refreshToken(tokenId), { hash: legacy(tokenId, refresh) });
    expect((await oauth.getRefreshToken(refresh))?.userId).toBe(mallory.userId);
    expect((await item(keys.refreshToken(tokenId))).hash).toMatch(/^b1\./);
    expect((await oauth.getRefreshToken(refresh))?.userId).toBe(mallory.userId);
    await rewrite(keys.refreshToken(tokenId), { userId: alice.userId });
    expect(await oauth.getRefreshToken(refresh)).toBeUndefined();
  });

  test('after a secret rotation, a legacy token is upgraded under the version it was written with', async () => {
    const v1 = JSON.parse(newSecretString()) as { v1: string };
    const old = parseKeyring(JSON.stringify({ current: 'v1', v1: v1.v1 }));
    const rotated = parseKeyring(JSON.stringify({ current: 'v2', v1: v1.v1, v2: randomBytes(48).toString('base64url') }));
    const before = new AccountStore({ client: dynamo.client, tableName: dynamo.tableName, keyring: old });
    const after = new AccountStore({ client: dynamo.client, tableName: dynamo.tableName, keyring: rotated });
    const t = await before.issueToken(mallory.userId);
    await rewrite(keys.token(t.info.tokenId), { hash: hashTokenSecret(old.current.tokenHmacKey, t.info.tokenId, parseToken(t.token)!.secret) });
    expect((await after.authenticate(t.token))?.userId).toBe(mallory.userId);
    expect(await item(keys.token(t.info.tokenId))).toMatchObject({ keyVersion: 'v1', hash: expect.stringMatching(/^b1\./) });
    // An instance still on the old secret verifies the upgraded MAC too (rolling deploys).
    expect((await before.authenticate(t.token))?.userId).toBe(mallory.userId);
    await rewrite(keys.token(t.info.tokenId), { userId: alice.userId });
    expect(await after.authenticate(t.token)).toBeUndefined();
    await Promise.all([before.settle(), after.settle()]);
  });

  test('concurrent first uses of a legacy token all succeed and leave one bound MAC', async () => {
    const t = await store.issueToken(mallory.userId);
    await rewrite(keys.token(t.info.tokenId), { hash: legacy(t.info.tokenId, t.token) });
    const results = await Promise.all(Array.from({ length: 5 }, () => store.authenticate(t.token)));
    expect(results.map((r) => r?.userId)).toEqual(Array(5).fill(mallory.userId));
    expect((await item(keys.token(t.info.tokenId))).hash).toMatch(/^b1\./);
  });
});

describe('end to end on /mcp', () => {
  test("a token re-homed to another user is a 401 and never reaches OpenRouter with that user's key", async () => {
    const h = await startHarness();
    try {
      const raw = DynamoDBDocumentClient.from(
        new DynamoDBClient({ endpoint: h.dynamo.endpoint, region: 'local', credentials: { accessKeyId: 'attacker', secretAccessKey: 'attacker' } }),
      );
      // Bob's token works as bob.
      const asBob = await connectV2(h.bob.token, { fetch: h.fetch });
      const chat = await asBob.callTool({ name: 'send_chat_completion_request', arguments: { model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'hi' }] } });
      expect(textOf(chat)).toContain('Echo: hi');
      expect(h.fake.calls('/chat/completions').at(-1)!.apiKey).toBe(h.bob.openRouterKey);
      await asBob.close();
      // Bob rewrites his token's item to point at alice.
      await raw.send(new UpdateCommand({ TableName: h.dynamo.tableName, Key: keys.token(h.bob.tokenId), UpdateExpression: 'SET userId = :a', ExpressionAttributeValues: { ':a': h.alice.id } }));
      const res = await h.fetch('http://127.0.0.1/mcp', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'MCP-Protocol-Version': '2025-06-18', Authorization: `Bearer ${h.bob.token}` },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'send_chat_completion_request', arguments: { model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'as alice' }] } } }),
      });
      await res.text();
      expect(res.status).toBe(401);
      expect(h.fake.calls('/chat/completions').some((c) => c.apiKey === h.alice.openRouterKey)).toBe(false);
      raw.destroy();
    } finally {
      await h.close();
    }
  });
});
