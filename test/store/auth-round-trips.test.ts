/**
 * Authentication's DynamoDB round trips, counted at the client (every command the store sends) against dynalite:
 * the first check of a token in a process that did not issue it reads the token, then its user (and grant); every
 * other uncached check is ONE BatchGet of token + user (+ grant). What the remembered binding points at is re-read every time, so a
 * revocation, a removed user, a replaced key or a revoked grant is seen on the very next check, and a token item
 * rewritten to another user is still refused by its MAC.
 */
import { randomBytes } from 'node:crypto';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { newSecretString, parseKeyring, type Keyring } from '../../lambda/crypto/keyring.js';
import { parseToken } from '../../lambda/crypto/secrets.js';
import { startLocalDynamo, type LocalDynamo } from '../../lambda/local/dynalite.js';
import { AccountStore } from '../../lambda/store/account-store.js';
import { keys } from '../../lambda/store/schema.js';

let dynamo: LocalDynamo;
let keyring: Keyring;
let counted: ReturnType<typeof counting>;
let store: AccountStore;

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  keyring = parseKeyring(newSecretString());
  counted = counting(dynamo.client);
  store = new AccountStore({ client: counted.client, tableName: dynamo.tableName, keyring });
});

afterAll(async () => {
  await store.settle();
  await dynamo.close();
});

/** A client that records the name of every command sent through it (one command = one round trip). */
function counting(inner: DynamoDBDocumentClient) {
  const sent: string[] = [];
  const client = {
    send(command: { constructor: { name: string } }) {
      sent.push(command.constructor.name);
      return (inner.send as (c: unknown) => Promise<unknown>).call(inner, command);
    },
  } as unknown as DynamoDBDocumentClient;
  return { client, sent };
}

/** The commands one authentication sent (background last-used writes settled and left out). */
async function roundTrips(token: string, s: AccountStore = store): Promise<{ principal: Awaited<ReturnType<AccountStore['authenticate']>>; reads: string[] }> {
  await s.settle();
  const from = counted.sent.length;
  const principal = await s.authenticate(token);
  const reads = counted.sent.slice(from).filter((c) => c !== 'UpdateCommand');
  await s.settle();
  return { principal, reads };
}

function orKey(): string {
  return `sk-or-v1-${randomBytes(24).toString('hex')}`;
}

let n = 0;
async function userWithToken(): Promise<{ userId: string; token: string; key: string }> {
  n += 1;
  const user = await store.createUser(`rt-${n}-${randomBytes(3).toString('hex')}`);
  const key = orKey();
  await store.setOpenRouterKey(user.userId, key);
  const { token } = await store.issueToken(user.userId);
  return { userId: user.userId, token, key };
}

test('a personal token issued by this store: one BatchGet per uncached check, from the first', async () => {
  const { userId, token, key } = await userWithToken();
  for (let i = 0; i < 3; i++) {
    const later = await roundTrips(token);
    expect(later.principal).toMatchObject({ userId, openRouterKey: key });
    expect(later.reads).toEqual(['BatchGetCommand']);
  }
});

test('an OAuth access token: its grant is read in the same BatchGet', async () => {
  const { userId } = await userWithToken();
  const grant = await store.createGrant(userId, { clientId: 'dcr_client', clientName: 'Client', audience: 'http://127.0.0.1/mcp', scope: 'mcp' });
  const { token } = await store.issueToken(userId, { grant, expiresAt: new Date(Date.now() + 3_600_000) });
  const later = await roundTrips(token);
  expect(later.principal).toMatchObject({ userId, audience: 'http://127.0.0.1/mcp' });
  expect(later.reads).toEqual(['BatchGetCommand']);
  await store.revokeGrant(grant.grantId);
  const revoked = await roundTrips(token);
  expect(revoked.principal).toBeUndefined();
  expect(revoked.reads).toEqual(['BatchGetCommand']);
});

test('revocation, a replaced key and a removed user are seen on the next one-round-trip check', async () => {
  const a = await userWithToken();
  await roundTrips(a.token);
  const replaced = orKey();
  await store.setOpenRouterKey(a.userId, replaced);
  expect((await roundTrips(a.token)).principal?.openRouterKey).toBe(replaced);
  await store.removeOpenRouterKey(a.userId);
  expect((await roundTrips(a.token)).principal).not.toHaveProperty('openRouterKey');
  await store.revokeToken(parseToken(a.token)!.tokenId);
  expect(await roundTrips(a.token)).toEqual({ principal: undefined, reads: ['BatchGetCommand'] });

  const b = await userWithToken();
  await roundTrips(b.token);
  await store.removeUser(b.userId);
  expect(await roundTrips(b.token)).toEqual({ principal: undefined, reads: ['BatchGetCommand'] });
});

test('a token item rewritten to another user after its first check is refused (the MAC binds the user)', async () => {
  const victim = await userWithToken();
  const attacker = await userWithToken();
  expect((await roundTrips(attacker.token)).principal?.userId).toBe(attacker.userId);
  // A table write moves the attacker's token to the victim, whose key it would then spend.
  await dynamo.client.send(
    new UpdateCommand({ TableName: dynamo.tableName, Key: keys.token(parseToken(attacker.token)!.tokenId), UpdateExpression: 'SET userId = :v', ExpressionAttributeValues: { ':v': victim.userId } }),
  );
  expect((await roundTrips(attacker.token)).principal).toBeUndefined();
  expect((await roundTrips(attacker.token)).principal).toBeUndefined();
});

test('a wrong secret for a known token id is refused without touching what the binding remembers', async () => {
  const { userId, token } = await userWithToken();
  await roundTrips(token);
  const forged = `${token.slice(0, -4)}AAAA` === token ? `${token.slice(0, -4)}BBBB` : `${token.slice(0, -4)}AAAA`;
  expect((await roundTrips(forged)).principal).toBeUndefined();
  const genuine = await roundTrips(token);
  expect(genuine.principal?.userId).toBe(userId);
  expect(genuine.reads).toEqual(['BatchGetCommand']);
});

test('another process (a fresh store) starts with two reads for the same token, then one', async () => {
  const { userId, token } = await userWithToken();
  await roundTrips(token);
  const other = new AccountStore({ client: counted.client, tableName: dynamo.tableName, keyring });
  const first = await roundTrips(token, other);
  expect(first.principal?.userId).toBe(userId);
  expect(first.reads).toEqual(['GetCommand', 'GetCommand']);
  expect((await roundTrips(token, other)).reads).toEqual(['BatchGetCommand']);
});

test('in a fresh store an OAuth access token reads token, then user and grant; then one BatchGet', async () => {
  const { userId } = await userWithToken();
  const grant = await store.createGrant(userId, { clientId: 'dcr_other', clientName: 'Other', audience: 'http://127.0.0.1/mcp', scope: 'mcp' });
  const { token } = await store.issueToken(userId, { grant, expiresAt: new Date(Date.now() + 3_600_000) });
  const other = new AccountStore({ client: counted.client, tableName: dynamo.tableName, keyring });
  expect((await roundTrips(token, other)).reads).toEqual(['GetCommand', 'GetCommand', 'GetCommand']);
  expect((await roundTrips(token, other)).reads).toEqual(['BatchGetCommand']);
});
