/**
 * linkIdentity (the local sign-in vouching for the table's own users) against dynalite: the façade's
 * userForIdentity then lands on that user instead of creating one, and an identity linked to one user is never
 * moved to another.
 */
import { newSecretString, parseKeyring } from '../../lambda/crypto/keyring.js';
import { startLocalDynamo, type LocalDynamo } from '../../lambda/local/dynalite.js';
import { AccountStore, StoreError } from '../../lambda/store/account-store.js';

const issuer = 'http://127.0.0.1:40000';
let dynamo: LocalDynamo;
let store: AccountStore;

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  store = new AccountStore({ client: dynamo.client, tableName: dynamo.tableName, keyring: parseKeyring(newSecretString()) });
});
afterAll(async () => {
  await store.settle();
  await dynamo.close();
});

test('a linked identity signs in as the existing user, not a new one; linking again is idempotent', async () => {
  const local = await store.createUser('local');
  // Unlinked, the same subject would have become a new user (the name is not an email to adopt by).
  await store.linkIdentity({ issuer, subject: local.userId }, local.userId);
  await store.linkIdentity({ issuer, subject: local.userId }, local.userId);
  expect((await store.userForIdentity({ issuer, subject: local.userId })).userId).toBe(local.userId);
  expect((await store.listUsers()).map((u) => u.name)).toEqual(['local']);
});

test('an identity linked to one user is never moved to another, and an unknown user is refused', async () => {
  const a = await store.createUser('ann');
  const b = await store.createUser('ben');
  await store.linkIdentity({ issuer, subject: 'shared' }, a.userId);
  await expect(store.linkIdentity({ issuer, subject: 'shared' }, b.userId)).rejects.toBeInstanceOf(StoreError);
  expect((await store.userForIdentity({ issuer, subject: 'shared' })).userId).toBe(a.userId);
  await expect(store.linkIdentity({ issuer, subject: 'nobody' }, '00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({ code: 'no_such_user' });
});
