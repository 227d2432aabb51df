/**
 * The operator policy as pure functions: model allow/deny globs (deny wins, fallbacks and variants included), the
 * data-policy floor (stricter kept, looser refused, missing filled in), the price ceiling merged into
 * provider.max_price, the plugin allow-list, catalog filtering, and the glob matcher's edge cases and linear cost.
 */
import { compileGlob, globMatch, type MatchCounter } from '../../lambda/policy/glob.js';
import { OPEN_POLICY, applyImagePolicy, applyPolicy, createPolicy, describePolicy, modelAllowed, type PolicySettings } from '../../lambda/policy/policy.js';

const policy = (over: Partial<PolicySettings>) => createPolicy({ ...OPEN_POLICY, ...over });

describe('globs', () => {
  test.each([
    ['openai/*', 'openai/gpt-4o', true],
    ['openai/*', 'openai/', true],
    ['openai/*', 'openai', false],
    ['openai/*', 'anthropic/openai/x', false],
    ['*:free', 'meta-llama/llama-3.1-8b-instruct:free', true],
    ['*:free', 'meta-llama/llama-3.1-8b-instruct', false],
    ['*', '', true],
    ['**', 'anything/at:all', true],
    ['', '', true],
    ['', 'x', false],
    ['a*a', 'a', false],
    ['a*a', 'aa', true],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'acb', false],
    ['a*b*c', 'axxbyyc', true],
    ['*gpt*', 'openai/gpt-4o', true],
    ['anthropic/claude-*-4*', 'anthropic/claude-sonnet-4.5', true],
    ['anthropic/claude-*-4*', 'anthropic/claude-3.5-sonnet', false],
    ['OpenAI/GPT-4o', 'openai/gpt-4o', true],
    ['openai/gpt-4o', 'OPENAI/GPT-4O', true],
    ['openai/gpt-4o', 'openai/gpt-4o-mini', false],
    ['a.b', 'axb', false],
    ['*aab*', 'aaab', true],
    ['*abab*', 'abaabab', true],
  ])('%j vs %j → %s', (pattern, id, expected) => {
    expect(globMatch(pattern, id)).toBe(expected);
    expect(compileGlob(pattern).test(id)).toBe(expected);
  });

  test('pathological patterns stay linear: comparisons grow with pattern + id, not their product', () => {
    for (const n of [100, 1_000, 10_000]) {
      const id = 'a'.repeat(n);
      const pattern = `${'*a'.repeat(50)}*b`;
      const counter: MatchCounter = { steps: 0 };
      expect(globMatch(pattern, id, counter)).toBe(false);
      expect(counter.steps).toBeLessThanOrEqual(3 * (pattern.length + id.length));
      const c2: MatchCounter = { steps: 0 };
      expect(globMatch(`*${'a'.repeat(99)}b*`, id, c2)).toBe(false);
      expect(c2.steps).toBeLessThanOrEqual(3 * (100 + id.length));
    }
  });

  test('the same pathological pattern still matches where it should', () => {
    expect(globMatch(`${'*a'.repeat(50)}*b`, `${'a'.repeat(60)}b`)).toBe(true);
    expect(globMatch(`${'*a'.repeat(50)}*b`, `${'a'.repeat(49)}b`)).toBe(false);
  });
});

describe('models', () => {
  const p = policy({ allowedModels: ['openai/*', 'anthropic/*', '*:free'], deniedModels: ['openai/o1-pro', 'anthropic/claude-opus-*'] });

  test('an allowed model passes unchanged', () => {
    const req = { model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'hi' }] };
    const out = applyPolicy(p, req);
    expect(out).toEqual({ ok: true, request: req });
  });

  test('a denied model is refused, naming the rule, the pattern and what would pass', () => {
    const out = applyPolicy(p, { model: 'openai/o1-pro' });
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.rule).toBe('model_denied');
    expect(out.message).toContain('the model "openai/o1-pro"');
    expect(out.message).toContain('denied pattern "openai/o1-pro"');
    expect(out.message).toContain('allowed: openai/*, anthropic/*, *:free');
  });

  test('deny wins over allow', () => {
    const out = applyPolicy(p, { model: 'anthropic/claude-opus-4.1' });
    expect(out).toMatchObject({ ok: false, rule: 'model_denied' });
  });

  test('a model outside the allow list is refused', () => {
    const out = applyPolicy(p, { model: 'google/gemini-2.5-pro' });
    expect(out).toMatchObject({ ok: false, rule: 'model_not_allowed' });
    if (!out.ok) expect(out.message).toContain('"google/gemini-2.5-pro"');
  });

  test('a denied fallback in models is refused, naming its position', () => {
    const out = applyPolicy(p, { model: 'openai/gpt-4o', models: ['anthropic/claude-sonnet-4', 'openai/o1-pro'] });
    expect(out).toMatchObject({ ok: false, rule: 'model_denied' });
    if (!out.ok) expect(out.message).toContain('models[1] "openai/o1-pro"');
  });

  test('variants of a denied model are denied too (:nitro, :floor, :free)', () => {
    for (const id of ['openai/o1-pro:nitro', 'openai/o1-pro:floor', 'OpenAI/O1-Pro:free']) expect(applyPolicy(p, { model: id })).toMatchObject({ ok: false, rule: 'model_denied' });
  });

  test('a :free variant passes the *:free allow pattern', () => {
    expect(applyPolicy(p, { model: 'meta-llama/llama-3.1-8b-instruct:free' }).ok).toBe(true);
    expect(applyPolicy(p, { model: 'meta-llama/llama-3.1-8b-instruct' }).ok).toBe(false);
  });

  test('with model rules in force a request must name a model (the account default is invisible to the policy)', () => {
    expect(applyPolicy(p, { messages: [] } as { model?: string })).toMatchObject({ ok: false, rule: 'model_required' });
    expect(applyPolicy(createPolicy(OPEN_POLICY), {}).ok).toBe(true);
  });

  test('the catalog filter', () => {
    const ids = ['openai/gpt-4o', 'openai/o1-pro', 'anthropic/claude-opus-4', 'google/gemini-2.5-pro', 'qwen/qwen3:free'];
    expect(ids.filter((id) => modelAllowed(p, id))).toEqual(['openai/gpt-4o', 'qwen/qwen3:free']);
    expect(ids.filter((id) => modelAllowed(createPolicy(OPEN_POLICY), id))).toEqual(ids);
  });
});

describe('data policy floor', () => {
  const p = policy({ requireZdr: true, dataCollection: 'deny' });

  test('missing fields are filled in, other provider fields kept, the input untouched', () => {
    const req = { model: 'x/y', provider: { sort: 'price' } };
    const out = applyPolicy(p, req);
    expect(out).toEqual({ ok: true, request: { model: 'x/y', provider: { sort: 'price', zdr: true, data_collection: 'deny' } } });
    expect(req).toEqual({ model: 'x/y', provider: { sort: 'price' } });
    expect(applyPolicy(p, { model: 'x/y' })).toEqual({ ok: true, request: { model: 'x/y', provider: { zdr: true, data_collection: 'deny' } } });
  });

  test('null counts as missing', () => {
    expect(applyPolicy(p, { model: 'x/y', provider: { zdr: null, data_collection: null } })).toEqual({ ok: true, request: { model: 'x/y', provider: { zdr: true, data_collection: 'deny' } } });
  });

  test('the stricter values a user already chose are kept', () => {
    const req = { model: 'x/y', provider: { zdr: true, data_collection: 'deny' as const } };
    expect(applyPolicy(p, req)).toEqual({ ok: true, request: req });
  });

  test('zdr: false is refused with what would pass', () => {
    const out = applyPolicy(p, { model: 'x/y', provider: { zdr: false } });
    expect(out).toMatchObject({ ok: false, rule: 'zdr' });
    if (!out.ok) expect(out.message).toMatch(/Omit provider\.zdr or set it to true/);
  });

  test('data_collection: "allow" is refused with what would pass', () => {
    const out = applyPolicy(p, { model: 'x/y', provider: { data_collection: 'allow' } });
    expect(out).toMatchObject({ ok: false, rule: 'data_collection' });
    if (!out.ok) expect(out.message).toContain('set it to "deny"');
  });

  test('without a floor the user may choose either way', () => {
    const open = createPolicy(OPEN_POLICY);
    const req = { model: 'x/y', provider: { zdr: false, data_collection: 'allow' as const } };
    expect(applyPolicy(open, req)).toEqual({ ok: true, request: req });
  });
});

describe('price ceiling', () => {
  const p = policy({ maxPricePerMillion: { prompt: '3', completion: '15' } });

  test('filled in when the user gave none', () => {
    expect(applyPolicy(p, { model: 'x/y' })).toEqual({ ok: true, request: { model: 'x/y', provider: { max_price: { prompt: '3', completion: '15' } } } });
  });

  test('the stricter of user and operator per field; other fields kept', () => {
    const out = applyPolicy(p, { model: 'x/y', provider: { max_price: { prompt: '1.5', completion: '40', request: '0.01' } } });
    expect(out).toEqual({ ok: true, request: { model: 'x/y', provider: { max_price: { prompt: '1.5', completion: '15', request: '0.01' } } } });
  });

  test('only the side the operator set is capped', () => {
    const inOnly = policy({ maxPricePerMillion: { prompt: '2' } });
    expect(applyPolicy(inOnly, { model: 'x/y', provider: { max_price: { completion: '99' } } })).toEqual({ ok: true, request: { model: 'x/y', provider: { max_price: { prompt: '2', completion: '99' } } } });
  });

  test('a junk user price yields to the operator', () => {
    expect(applyPolicy(p, { model: 'x/y', provider: { max_price: { prompt: 'cheap' } } })).toEqual({ ok: true, request: { model: 'x/y', provider: { max_price: { prompt: '3', completion: '15' } } } });
  });
});

describe('plugins', () => {
  test('all plugins by default', () => {
    const req = { model: 'x/y', plugins: [{ id: 'web' }, { id: 'file-parser' }] };
    expect(applyPolicy(createPolicy(OPEN_POLICY), req)).toEqual({ ok: true, request: req });
  });

  test('a plugin outside the allow-list is refused; a disabled one is fine', () => {
    const p = policy({ allowedPlugins: ['file-parser'] });
    expect(applyPolicy(p, { model: 'x/y', plugins: [{ id: 'file-parser' }] }).ok).toBe(true);
    expect(applyPolicy(p, { model: 'x/y', plugins: [{ id: 'web', enabled: false }] }).ok).toBe(true);
    const out = applyPolicy(p, { model: 'x/y', plugins: [{ id: 'file-parser' }, { id: 'web' }] });
    expect(out).toMatchObject({ ok: false, rule: 'plugin_not_allowed' });
    if (!out.ok) expect(out.message).toContain('allowed plugins: file-parser');
  });

  test(':online models are the web plugin', () => {
    const p = policy({ allowedPlugins: [] });
    const out = applyPolicy(p, { model: 'x/y', models: ['openai/gpt-4o:online'] });
    expect(out).toMatchObject({ ok: false, rule: 'plugin_not_allowed' });
    if (!out.ok) expect(out.message).toContain('no plugins are allowed');
    expect(modelAllowed(p, 'openai/gpt-4o:online')).toBe(false);
    expect(modelAllowed(policy({ allowedPlugins: ['web'] }), 'openai/gpt-4o:online')).toBe(true);
  });
});

describe('image requests (POST /images)', () => {
  const req = { model: 'google/gemini-2.5-flash-image', prompt: 'a cat' };

  test('the model rules apply as for any generation; an open policy passes the request untouched', () => {
    expect(applyImagePolicy(policy({}), req)).toEqual({ ok: true, request: req });
    expect(applyImagePolicy(policy({ deniedModels: ['google/*'] }), req)).toMatchObject({ ok: false, rule: 'model_denied' });
    expect(applyImagePolicy(policy({ allowedModels: ['openai/*'] }), req)).toMatchObject({ ok: false, rule: 'model_not_allowed' });
  });

  test('a data floor or price ceiling /images cannot carry refuses the request instead of sending it past them', () => {
    expect(applyImagePolicy(policy({ requireZdr: true }), req)).toMatchObject({ ok: false, rule: 'zdr' });
    expect(applyImagePolicy(policy({ dataCollection: 'deny' }), req)).toMatchObject({ ok: false, rule: 'data_collection' });
    expect(applyImagePolicy(policy({ maxPricePerMillion: { completion: '20' } }), req)).toMatchObject({ ok: false, rule: 'price_ceiling' });
    // Never rewritten with provider fields the image endpoint does not define.
    expect(req).toEqual({ model: 'google/gemini-2.5-flash-image', prompt: 'a cat' });
  });
});

describe('describePolicy', () => {
  test('open policy', () => {
    const v = describePolicy(createPolicy(OPEN_POLICY));
    expect(v).toMatchObject({ models: { allowed: 'all', denied: [] }, dataPolicy: { requireZdr: false, dataCollection: 'allow' }, maxPricePerMillion: { prompt: null, completion: null }, plugins: 'all' });
    expect(v.summary).toContain('Models: any model.');
  });

  test('a full policy', () => {
    const v = describePolicy(policy({ allowedModels: ['openai/*'], deniedModels: ['openai/o1-pro'], requireZdr: true, dataCollection: 'deny', maxPricePerMillion: { completion: '10' }, allowedPlugins: [] }));
    expect(v.models).toEqual({ allowed: ['openai/*'], denied: ['openai/o1-pro'] });
    expect(v.maxPricePerMillion).toEqual({ prompt: null, completion: '10' });
    expect(v.plugins).toEqual([]);
    expect(v.summary.join('\n')).toMatch(/forced to true[\s\S]*forced to "deny"[\s\S]*completion \$10/);
  });
});
