/**
 * The user's key lease against a real DynamoDB API (dynalite, in memory), with an injected clock: a lease left by a
 * holder that died runs out, a holder whose lease ran out cannot store anything, the provisioning rate limit is a
 * window in the user's item, and the stored hash of a created key never shows in the user's public view.
 */
import { newSecretString, parseKeyring } from '../../lambda/crypto/keyring.js';
import { startLocalDynamo, type LocalDynamo } from '../../lambda/local/dynalite.js';
import { AccountStore, KeyChangeRefused, type KeyLeaseOptions } from '../../lambda/store/account-store.js';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const HASH = 'f01d52606dc8f0a8303a7b5cc3fa07109c2e346cec7c0a16b40de462992ce943';
const PROVISION: KeyLeaseOptions = { leaseMs: 60_000, provision: { allowAgain: true, maxPerWindow: 3, windowMs: 3_600_000 } };

let dynamo: LocalDynamo;
let store: AccountStore;
let clock = T0;

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  store = new AccountStore({ client: dynamo.client, tableName: dynamo.tableName, keyring: parseKeyring(newSecretString()), now: () => new Date(clock) });
});
afterAll(async () => {
  await dynamo.close();
});
beforeEach(() => {
  clock = T0;
});

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'taken';
  } catch (err) {
    if (err instanceof KeyChangeRefused) return err.reason;
    throw err;
  }
}

test('a lease left by a dead holder blocks until it runs out; that holder can then store nothing', async () => {
  const { userId } = await store.createUser('lease-dead-holder');
  const dead = await store.acquireKeyLease(userId, { leaseMs: 60_000 });
  clock = T0 + 59_000;
  expect(await refusal(store.acquireKeyLease(userId, { leaseMs: 60_000 }))).toBe('busy');
  clock = T0 + 61_000;
  const next = await store.acquireKeyLease(userId, { leaseMs: 60_000 });
  expect(await refusal(store.commitKeyLease(userId, dead.leaseId, { key: 'sk-or-v1-late-0123456789', provisionedKeyHash: HASH }))).toBe('busy');
  expect(await store.getOpenRouterKey(userId)).toBeUndefined();
  await store.releaseKeyLease(userId, dead.leaseId); // the old holder's release leaves the new lease alone
  expect(await refusal(store.acquireKeyLease(userId, { leaseMs: 60_000 }))).toBe('busy');
  await store.commitKeyLease(userId, next.leaseId, { key: 'sk-or-v1-next-0123456789', provisionedKeyHash: HASH });
  expect(await store.getOpenRouterKey(userId)).toBe('sk-or-v1-next-0123456789');
  // The next lease sees the stored hash; the public view of the user never carries it.
  expect((await store.acquireKeyLease(userId, { leaseMs: 60_000 })).provisionedKeyHash).toBe(HASH);
  expect(JSON.stringify(await store.getUser(userId))).not.toContain(HASH);
  expect(JSON.stringify(await store.listUsers())).not.toContain(HASH);
});

test('provisioning starts: at most 3 in a window; the next window allows more', async () => {
  const { userId } = await store.createUser('lease-rate');
  for (let i = 0; i < 3; i++) {
    clock = T0 + i * 60_000;
    const lease = await store.acquireKeyLease(userId, PROVISION);
    await store.releaseKeyLease(userId, lease.leaseId);
  }
  clock = T0 + 3_599_000;
  expect(await refusal(store.acquireKeyLease(userId, PROVISION))).toBe('rate_limited');
  // Plain changes (a paste, a removal) are not counted and not limited.
  await store.releaseKeyLease(userId, (await store.acquireKeyLease(userId, { leaseMs: 60_000 })).leaseId);
  clock = T0 + 3_600_000;
  expect(await refusal(store.acquireKeyLease(userId, PROVISION))).toBe('taken');
});

test('once-only: a created key blocks another unless allowed; a key the user brought is never replaced by creation', async () => {
  const { userId } = await store.createUser('lease-once');
  const once = { ...PROVISION, provision: { ...PROVISION.provision!, allowAgain: false } };
  const first = await store.acquireKeyLease(userId, once);
  await store.commitKeyLease(userId, first.leaseId, { key: 'sk-or-v1-created-0123456789', provisionedKeyHash: HASH });
  expect((await store.getUser(userId))!.provisionUsed).toBe(true);
  expect(await refusal(store.acquireKeyLease(userId, once))).toBe('provision_used');
  expect(await store.allowProvisioningAgain(userId)).toBe(true);
  const replaced = await store.acquireKeyLease(userId, { leaseMs: 60_000 });
  await store.commitKeyLease(userId, replaced.leaseId, { key: 'sk-or-v1-own-0123456789' });
  expect(await refusal(store.acquireKeyLease(userId, once))).toBe('own_key');
});
