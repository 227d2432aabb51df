/**
 * The attack on key provisioning: with a management key configured, a signed-in user pressing "Create a key for me"
 * over and over (or removing their key and signing in again) must not mint key after key on the operator's balance.
 * At most one created key per user is live at OpenRouter at any time, a key we created is deleted before anything
 * replaces it, a failed delete changes nothing, creation is rate-limited per user, and another key after a removal
 * needs the operator (`ormcp user reset-key`, i.e. AccountStore.allowProvisioningAgain) unless they allow it for all.
 */
import { KeyProvisioner, PROVISION_RATE } from '../../lambda/web/provisioning.js';
import { createLogger } from '../../lambda/observability/logger.js';
import { AccountStore } from '../../lambda/store/account-store.js';
import { TEST_ORIGIN as ORIGIN, Browser, csrfOf, hiddenFields, startOAuthHarness, type OAuthHarness } from '../support/oauth.js';
import { dumpTable, tableDiff } from '../support/table.js';

const MANAGEMENT_KEY = 'sk-or-v1-management-provisioning-0123456789abcdef';

interface SignedIn {
  browser: Browser;
  csrf: string;
  userId: string;
  email: string;
  page: string;
}

async function harness(allowReprovision: boolean): Promise<OAuthHarness> {
  const h = await startOAuthHarness({ provisionedKeyLimitUsd: 5, allowReprovision }, { managementKey: MANAGEMENT_KEY });
  h.fake.managementKeys.add(MANAGEMENT_KEY);
  return h;
}

async function signIn(h: OAuthHarness, who: string): Promise<SignedIn> {
  const email = `${who}@example.com`;
  const browser = new Browser(h.fetch, ORIGIN, { sub: `sub-${who}`, email });
  const step = await browser.follow(`${ORIGIN}/app/login`);
  expect(step.url).toBe(`${ORIGIN}/app`);
  const page = await step.response!.text();
  return { browser, csrf: csrfOf(page), userId: (await h.store.findUserByName(email))!.userId, email, page };
}

const press = (s: SignedIn) => s.browser.post(`${ORIGIN}/app/key/provision`, { csrf: s.csrf });
const removeKey = (s: SignedIn) => s.browser.post(`${ORIGIN}/app/key/remove`, { csrf: s.csrf });
const pasteKey = (s: SignedIn, key: string) => s.browser.post(`${ORIGIN}/app/key`, { csrf: s.csrf, key });

/** POST /keys made for this user (the fake names each key after the user). */
const mints = (h: OAuthHarness, s: SignedIn) => h.fake.calls('/keys').filter((r) => r.method === 'POST' && r.body?.name === `MCP: ${s.email}`);
/** This user's created keys still live at the fake OpenRouter: hash → key. */
const live = (h: OAuthHarness, s: SignedIn) => [...h.fake.provisioned].filter(([, v]) => v.name === `MCP: ${s.email}`);
/** The user's one live created key: its hash and the key. */
function onlyLive(h: OAuthHarness, s: SignedIn): { hash: string; key: string } {
  const keys = live(h, s);
  expect(keys).toHaveLength(1);
  return { hash: keys[0]![0], key: keys[0]![1].key };
}
const deletions = (h: OAuthHarness) => h.fake.keyDeletions().map((r) => r.path.slice('/keys/'.length));

async function expectPage(res: Response, status: number, text: string): Promise<void> {
  const body = await res.text();
  expect({ status: res.status, says: body.includes(text) }).toEqual({ status, says: true });
}

describe('operator default: one created key per user, ever, unless the operator allows another', () => {
  let h: OAuthHarness;
  beforeAll(async () => {
    h = await harness(false);
  });
  afterAll(async () => {
    await h.close();
  });

  test('five presses, "Remove key", another press and another sign-in mint exactly one key', async () => {
    const s = await signIn(h, 'mallory');
    expect(mints(h, s)).toHaveLength(1); // sign-in provisioning
    const { hash, key: createdKey } = onlyLive(h, s);
    expect(await h.store.getOpenRouterKey(s.userId)).toBe(createdKey);

    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await press(s);
      statuses.push(res.status);
      if (i === 0) await expectPage(res, 403, 'already created an OpenRouter key for you once');
      expect(live(h, s)).toHaveLength(1);
    }
    expect(mints(h, s)).toHaveLength(1);
    expect(statuses).toEqual([403, 403, 403, 403, 403]);

    // Removing deletes it at OpenRouter: it stops working there and nothing of it stays stored.
    expect((await removeKey(s)).status).toBe(303);
    expect(deletions(h)).toEqual([hash]);
    expect(h.fake.keyDeletions()[0]!.apiKey).toBe(MANAGEMENT_KEY);
    expect(live(h, s)).toHaveLength(0);
    expect(h.fake.keys.has(createdKey)).toBe(false);
    expect(await h.store.getOpenRouterKey(s.userId)).toBeUndefined();

    await expectPage(await press(s), 403, 'ask the operator');
    const again = await signIn(h, 'mallory');
    expect(again.page).not.toContain('Create a key for me');
    expect(mints(h, s)).toHaveLength(1);
    expect(h.fake.violations).toEqual([]);
    // The hash is ours to use, never shown; keys never reach a log line.
    expect(s.page).not.toContain(hash);
    for (const line of h.logs) expect([line.includes(createdKey), line.includes(MANAGEMENT_KEY)]).toEqual([false, false]);
  });

  test('presses at the same moment mint one key', async () => {
    // The first sign-in's creation fails, so the user has no key and may still have one created.
    h.fake.fault('/keys', { kind: 'status', status: 500 }, 1);
    const s = await signIn(h, 'eve');
    expect(await h.store.getOpenRouterKey(s.userId)).toBeUndefined();
    expect(s.page).toContain('Create a key for me');
    h.fake.responseDelayMs = 100;
    try {
      const results = await Promise.all(Array.from({ length: 6 }, () => press(s)));
      const statuses = results.map((r) => r.status).sort();
      expect(statuses.filter((x) => x === 303)).toHaveLength(1);
      expect(statuses.filter((x) => x !== 303).every((x) => x === 409 || x === 403)).toBe(true);
    } finally {
      h.fake.responseDelayMs = 0;
    }
    expect(mints(h, s)).toHaveLength(2); // the failed one at sign-in, and one press
    expect(live(h, s)).toHaveLength(1);
    expect(await h.store.getOpenRouterKey(s.userId)).toBe(live(h, s)[0]![1].key);
  });

  test('a failing DELETE blocks removing, replacing and re-creating, leaves the table as it was, and says why', async () => {
    const s = await signIn(h, 'trent');
    const { hash, key: createdKey } = onlyLive(h, s);
    const own = 'sk-or-v1-trent-own-0123456789abcdef';
    h.fake.addKey(own);
    h.fake.fault(`/keys/${hash}`, { kind: 'status', status: 500 });
    try {
      const before = await dumpTable(h);
      await expectPage(await removeKey(s), 502, 'did not delete the key this server created for you');
      await expectPage(await pasteKey(s, own), 502, 'nothing was changed');
      expect(tableDiff(before, await dumpTable(h))).toEqual({ added: [], removed: [], changed: [] });

      // Even with the operator's permission, no new key is minted while the old one cannot be deleted.
      expect(await h.store.allowProvisioningAgain(s.userId)).toBe(true);
      await expectPage(await press(s), 502, 'Your old key could not be deleted');
      expect(mints(h, s)).toHaveLength(1);
      expect(await h.store.getOpenRouterKey(s.userId)).toBe(createdKey);
      expect(deletions(h).filter((d) => d === hash)).toHaveLength(3);
    } finally {
      h.fake.clearFaults();
    }
    // Once OpenRouter deletes it, the pasted key replaces it.
    expect((await pasteKey(s, own)).status).toBe(303);
    expect(live(h, s)).toHaveLength(0);
    expect(await h.store.getOpenRouterKey(s.userId)).toBe(own);
    // A key the user brought is theirs: creating one does not replace it, and removing it deletes nothing upstream.
    await expectPage(await press(s), 409, 'one you connected yourself');
    const deleted = deletions(h).length;
    expect((await removeKey(s)).status).toBe(303);
    expect(deletions(h)).toHaveLength(deleted);
    expect(h.fake.keys.has(own)).toBe(true);
    expect(mints(h, s)).toHaveLength(1);
  });

  test('Connect OpenRouter over a created key deletes it first; if that fails, the key from OpenRouter is not stored', async () => {
    const s = await signIn(h, 'walter');
    const { hash, key: createdKey } = onlyLive(h, s);
    // Connect OpenRouter (a POST), back from OpenRouter to the confirmation page, then "Replace my key".
    const connect = async () => {
      const started = await s.browser.post(`${ORIGIN}/app/openrouter/connect`, { csrf: s.csrf, next: '/app' });
      const step = await s.browser.follow(started.headers.get('location')!);
      expect(step.url).toBe(`${ORIGIN}/app/openrouter/confirm`);
      const fields = hiddenFields(await step.response!.text(), '/app/openrouter/confirm');
      return s.browser.post(`${ORIGIN}/app/openrouter/confirm`, { ...fields, decision: 'replace' });
    };
    h.fake.fault(`/keys/${hash}`, { kind: 'status', status: 503 }, 1);
    const refused = await connect();
    await expectPage(refused, 502, 'Your old key could not be deleted');
    expect(await h.store.getOpenRouterKey(s.userId)).toBe(createdKey);
    const done = await connect();
    expect({ status: done.status, location: done.headers.get('location') }).toEqual({ status: 303, location: `${ORIGIN}/app?done=key-connected` });
    expect(deletions(h).filter((d) => d === hash)).toHaveLength(2);
    expect(live(h, s)).toHaveLength(0);
    expect(await h.store.getOpenRouterKey(s.userId)).toMatch(/^sk-or-v1-oauth-/);
    expect(mints(h, s)).toHaveLength(1);
  });

  test('the operator\'s reset allows exactly one more key, and the one before is deleted first', async () => {
    const s = await signIn(h, 'oscar');
    const first = live(h, s)[0]![0];
    expect(await h.store.allowProvisioningAgain(s.userId)).toBe(true);
    expect(await h.store.allowProvisioningAgain(s.userId)).toBe(false); // resetting twice is still one more key
    expect((await press(s)).status).toBe(303);
    expect(deletions(h)).toContain(first);
    expect(live(h, s)).toHaveLength(1);
    const second = live(h, s)[0]![0];
    expect(second).not.toBe(first);
    await expectPage(await press(s), 403, 'already created');
    expect((await removeKey(s)).status).toBe(303);
    expect(deletions(h)).toContain(second);
    await signIn(h, 'oscar');
    expect(mints(h, s)).toHaveLength(2);

    // After a reset, sign-in creates it (the user has no key now).
    await h.store.allowProvisioningAgain(s.userId);
    await signIn(h, 'oscar');
    expect(mints(h, s)).toHaveLength(3);
    expect(live(h, s)).toHaveLength(1);
    await expectPage(await press(s), 403, 'already created');
    expect(mints(h, s)).toHaveLength(3);
  });
});

describe('with ORMCP_ALLOW_REPROVISION=true', () => {
  let h: OAuthHarness;
  beforeAll(async () => {
    h = await harness(true);
  });
  afterAll(async () => {
    await h.close();
  });

  test('pressing again replaces the key (deleting the old one first), at most 3 times an hour, counted in the table', async () => {
    expect(PROVISION_RATE.maxPerWindow).toBe(3);
    const s = await signIn(h, 'rita'); // creation 1 of the hour
    const seen = [live(h, s)[0]![0]];
    for (let i = 0; i < 2; i++) {
      expect((await press(s)).status).toBe(303);
      expect(deletions(h)).toContain(seen.at(-1));
      expect(live(h, s)).toHaveLength(1);
      seen.push(live(h, s)[0]![0]);
    }
    await expectPage(await press(s), 429, 'at most 3 times an hour');
    expect(mints(h, s)).toHaveLength(3);
    expect(deletions(h)).toHaveLength(2);
    expect(live(h, s)).toHaveLength(1);

    // Another server instance over the same table refuses too: the count lives in the user's item.
    const other = new KeyProvisioner({
      accounts: new AccountStore({ client: h.dynamo.client, tableName: h.dynamo.tableName, keyring: h.keyring }),
      openRouter: { baseUrl: h.fake.baseUrl, authUrl: h.fake.authUrl },
      managementKey: async () => MANAGEMENT_KEY,
      allowReprovision: true,
      logger: createLogger({ level: 'error', write: () => undefined }),
    });
    expect(await other.provision(s.userId)).toEqual({ ok: false, reason: 'rate_limited' });
    expect(mints(h, s)).toHaveLength(3);

    // Removing and signing in again is allowed by this setting, but still counts against the hour.
    expect((await removeKey(s)).status).toBe(303);
    expect(live(h, s)).toHaveLength(0);
    await signIn(h, 'rita');
    expect(mints(h, s)).toHaveLength(3);
  });
});
