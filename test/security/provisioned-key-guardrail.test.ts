/**
 * A key this server creates with the management key leaves the server's control the moment it leaks (or a user
 * copies it out of a log): only an OpenRouter guardrail on the key itself keeps the operator policy on it there.
 * So every created key is assigned to one guardrail carrying what of the policy a guardrail can express, before
 * it is stored; a key that could not be guarded is deleted again at OpenRouter and nothing is stored.
 */
import { createLogger } from '../../lambda/observability/logger.js';
import { PolicyGuardrail, guardrailRulesFor } from '../../lambda/openrouter/guardrails.js';
import { OPEN_POLICY, type PolicySettings } from '../../lambda/policy/policy.js';
import { AccountStore } from '../../lambda/store/account-store.js';
import { KeyProvisioner } from '../../lambda/web/provisioning.js';
import { TEST_ORIGIN as ORIGIN, Browser, csrfOf, startOAuthHarness, type OAuthHarness } from '../support/oauth.js';

const MANAGEMENT_KEY = 'sk-or-v1-management-guardrail-0123456789abcdef';

const POLICY: PolicySettings = {
  allowedModels: ['openai/gpt-4o', 'anthropic/claude-3.5-sonnet', 'openai/gpt-4o'],
  deniedModels: ['openai/gpt-4o:free', 'google/*'],
  requireZdr: true,
  dataCollection: 'deny',
  maxPricePerMillion: { prompt: '5', completion: '15' },
  allowedPlugins: ['web'],
};

/** What the guardrail must carry for POLICY: the exact ids, ZDR everywhere, no training; no price, plugin or glob. */
const CARRIED = {
  allowed_models: ['anthropic/claude-3.5-sonnet', 'openai/gpt-4o'],
  ignored_models: ['openai/gpt-4o:free'],
  enforce_zdr_anthropic: true,
  enforce_zdr_google: true,
  enforce_zdr_openai: true,
  enforce_zdr_xai: true,
  enforce_zdr_other: true,
  enable_paid_model_training: false,
  enable_free_model_training: false,
  enable_free_model_publication: false,
};

async function harness(policy: PolicySettings): Promise<OAuthHarness> {
  const h = await startOAuthHarness({ provisionedKeyLimitUsd: 5, policy }, { managementKey: MANAGEMENT_KEY });
  h.fake.managementKeys.add(MANAGEMENT_KEY);
  return h;
}

async function signIn(h: OAuthHarness, who: string): Promise<{ browser: Browser; csrf: string; userId: string; email: string; page: string }> {
  const email = `${who}@example.com`;
  const browser = new Browser(h.fetch, ORIGIN, { sub: `sub-${who}`, email });
  const step = await browser.follow(`${ORIGIN}/app/login`);
  expect(step.url).toBe(`${ORIGIN}/app`);
  const page = await step.response!.text();
  return { browser, csrf: csrfOf(page), userId: (await h.store.findUserByName(email))!.userId, email, page };
}

const guardrailCalls = (h: OAuthHarness) => h.fake.requests.filter((r) => r.path === '/guardrails' || r.path.startsWith('/guardrails/'));
const creations = (h: OAuthHarness) => h.fake.calls('/guardrails').filter((r) => r.method === 'POST');
const assignments = (h: OAuthHarness) => guardrailCalls(h).filter((r) => r.method === 'POST' && r.path.endsWith('/assignments/keys'));
/** This user's created keys still live at the fake OpenRouter: hash → key. */
const live = (h: OAuthHarness, email: string) => [...h.fake.provisioned].filter(([, v]) => v.name === `MCP: ${email}`);
/** The user's one live created key: its hash and the key. */
function onlyLive(h: OAuthHarness, email: string): { hash: string; key: string } {
  const keys = live(h, email);
  expect(keys).toHaveLength(1);
  return { hash: keys[0]![0], key: keys[0]![1].key };
}
const mints = (h: OAuthHarness, email: string) => h.fake.calls('/keys').filter((r) => r.method === 'POST' && r.body?.name === `MCP: ${email}`);

function otherInstance(h: OAuthHarness, policy: PolicySettings): KeyProvisioner {
  const openRouter = { baseUrl: h.fake.baseUrl, authUrl: h.fake.authUrl };
  return new KeyProvisioner({
    accounts: new AccountStore({ client: h.dynamo.client, tableName: h.dynamo.tableName, keyring: h.keyring }),
    openRouter,
    managementKey: async () => MANAGEMENT_KEY,
    allowReprovision: true,
    guardrail: new PolicyGuardrail(openRouter, guardrailRulesFor(policy)!),
    logger: createLogger({ level: 'error', write: () => undefined }),
  });
}

describe('with an operator policy', () => {
  let h: OAuthHarness;
  beforeAll(async () => {
    h = await harness(POLICY);
  });
  afterAll(async () => {
    await h.close();
  });

  test('a created key is assigned to a guardrail carrying the policy before it is stored', async () => {
    const s = await signIn(h, 'alice');
    const { hash, key } = onlyLive(h, s.email);
    expect(await h.store.getOpenRouterKey(s.userId)).toBe(key);

    expect(creations(h)).toHaveLength(1);
    const create = creations(h)[0]!;
    expect(create.apiKey).toBe(MANAGEMENT_KEY);
    const { name, description, ...rules } = create.body!;
    expect(rules).toEqual(CARRIED);
    expect(name).toMatch(/^ormcp policy [0-9a-f]{16}$/);
    expect(typeof description).toBe('string');

    const [guardrail] = [...h.fake.guardrails.values()];
    expect(h.fake.guardrailOfKey.get(hash)).toBe(guardrail!.id);
    expect(assignments(h).map((r) => [r.path, r.body, r.apiKey])).toEqual([[`/guardrails/${String(guardrail!.id)}/assignments/keys`, { key_hashes: [hash] }, MANAGEMENT_KEY]]);
    // Listed first (another instance may have made it already), then created, then assigned.
    expect(guardrailCalls(h).map((r) => r.method)).toEqual(['GET', 'POST', 'POST']);
    expect(h.fake.violations).toEqual([]);
  });

  test('later keys reuse the same guardrail, in this process and in another instance', async () => {
    const before = guardrailCalls(h).length;
    const s = await signIn(h, 'bob');
    const { hash } = onlyLive(h, s.email);
    expect(h.fake.guardrails.size).toBe(1);
    const [guardrail] = [...h.fake.guardrails.values()];
    expect(h.fake.guardrailOfKey.get(hash)).toBe(guardrail!.id);
    // The id is remembered: only the assignment goes out.
    expect(guardrailCalls(h).slice(before).map((r) => `${r.method} ${r.path}`)).toEqual([`POST /guardrails/${String(guardrail!.id)}/assignments/keys`]);

    // A fresh instance finds the guardrail by its name instead of creating another.
    const s2 = await signIn(h, 'carol');
    const lists = h.fake.calls('/guardrails').filter((r) => r.method === 'GET').length;
    expect(await otherInstance(h, POLICY).provision(s2.userId)).toEqual({ ok: true });
    expect(h.fake.calls('/guardrails').filter((r) => r.method === 'GET')).toHaveLength(lists + 1);
    expect(creations(h)).toHaveLength(1);
    expect(h.fake.guardrails.size).toBe(1);
    const carol = onlyLive(h, s2.email);
    expect(h.fake.guardrailOfKey.get(carol.hash)).toBe(guardrail!.id);
    expect(await h.store.getOpenRouterKey(s2.userId)).toBe(carol.key);
    expect(h.fake.violations).toEqual([]);
  });

  test('a failed assignment deletes the new key at OpenRouter, stores nothing, and the page says so', async () => {
    const [guardrail] = [...h.fake.guardrails.values()];
    const assignPath = `/guardrails/${String(guardrail!.id)}/assignments/keys`;
    h.fake.fault(assignPath, { kind: 'status', status: 500 });
    const before = assignments(h).length;
    try {
      const s = await signIn(h, 'dave');
      expect(mints(h, s.email)).toHaveLength(1);
      expect(live(h, s.email)).toEqual([]);
      expect(await h.store.getOpenRouterKey(s.userId)).toBeUndefined();
      expect(s.page).toContain('Create a key for me');

      const res = await s.browser.post(`${ORIGIN}/app/key/provision`, { csrf: s.csrf });
      const body = await res.text();
      expect({ status: res.status, says: body.includes('policy guardrail') }).toEqual({ status: 502, says: true });
      expect(mints(h, s.email)).toHaveLength(2);
      expect(live(h, s.email)).toEqual([]);
      // Both keys it tried to guard were deleted at OpenRouter with the management key.
      const tried = assignments(h).slice(before).map((r) => (r.body!.key_hashes as string[])[0]);
      expect(tried).toHaveLength(2);
      const deletions = h.fake.keyDeletions().map((r) => [r.path.slice('/keys/'.length), r.apiKey]);
      for (const hash of tried) expect(deletions).toContainEqual([hash, MANAGEMENT_KEY]);
      expect(await h.store.getOpenRouterKey(s.userId)).toBeUndefined();
      expect((await h.store.getUser(s.userId))!.hasKey).toBe(false);
      for (const line of h.logs) expect(line.includes(MANAGEMENT_KEY)).toBe(false);
    } finally {
      h.fake.clearFaults();
    }
    expect(h.fake.violations).toEqual([]);
  });

  test('a guardrail that cannot be created or found means no key either', async () => {
    const s = await signIn(h, 'erin'); // a guarded key from the running app
    expect(live(h, s.email)).toHaveLength(1);
    h.fake.fault('/guardrails', { kind: 'status', status: 500 });
    try {
      // A changed policy on another instance: its guardrail must be looked up (and would be created) afresh.
      const other = otherInstance(h, { ...POLICY, requireZdr: false });
      expect(await other.provision(s.userId)).toEqual({ ok: false, reason: 'guardrail_failed' });
      expect(mints(h, s.email)).toHaveLength(2);
      // The key it had is deleted first (as on every re-creation), the new one because it could not be guarded.
      expect(live(h, s.email)).toEqual([]);
      expect(await h.store.getOpenRouterKey(s.userId)).toBeUndefined();
    } finally {
      h.fake.clearFaults();
    }
    expect(h.fake.guardrails.size).toBe(1);
  });
});

describe('without a policy a guardrail can carry', () => {
  test.each([
    ['no policy', OPEN_POLICY],
    ['only server-side rules (globs, prices, plugins)', { ...OPEN_POLICY, allowedModels: ['openai/*'], deniedModels: ['*:free'], maxPricePerMillion: { prompt: '1' }, allowedPlugins: [] } satisfies PolicySettings],
  ])('%s: keys are created without any guardrail call', async (_label, policy) => {
    const h = await harness(policy);
    try {
      const s = await signIn(h, 'frank');
      expect(live(h, s.email)).toHaveLength(1);
      expect(await h.store.getOpenRouterKey(s.userId)).toBe(live(h, s.email)[0]![1].key);
      expect(guardrailCalls(h)).toEqual([]);
    } finally {
      await h.close();
    }
  });
});

describe('guardrailRulesFor', () => {
  test('an allow list with a glob is left to the server (the exact entries alone would forbid what it allows)', () => {
    expect(guardrailRulesFor({ ...OPEN_POLICY, allowedModels: ['openai/gpt-4o', 'anthropic/*'] })).toBeUndefined();
  });
  test('the exact ids of a deny list go along even beside a glob', () => {
    expect(guardrailRulesFor({ ...OPEN_POLICY, deniedModels: ['x/y', 'google/*'] })).toEqual({ ignored_models: ['x/y'] });
  });
});
