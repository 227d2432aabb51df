import { CatalogCache, relevance, searchCatalog, toCompact, type CatalogQuery } from '../../lambda/catalog/catalog.js';
import { flatPrice, formatUsd, perMillion } from '../../lambda/catalog/pricing.js';
import { Model } from '../../lambda/openrouter/schemas.js';

const model = (raw: Record<string, unknown>): Model => Model.parse(raw);

describe('perMillion', () => {
  test('converts dollars per token to dollars per million exactly, without binary noise', () => {
    expect(perMillion('0.00003')).toBe(30);
    expect(perMillion('0.0000025')).toBe(2.5);
    expect(perMillion('0.00000015')).toBe(0.15);
    expect(perMillion('0.000001')).toBe(1);
    // Plain multiplication gives 0.09999999999999999 and 0.7999999999999999 for these two.
    expect(perMillion('0.0000001')).toBe(0.1);
    expect(perMillion('0.0000008')).toBe(0.8);
    expect(perMillion('0')).toBe(0);
  });

  test('accepts numbers as well as strings', () => {
    expect(perMillion(0.00003)).toBe(30);
    expect(perMillion(0)).toBe(0);
  });

  test('returns null for variable ("-1"), empty, missing and non-numeric prices', () => {
    expect(perMillion('-1')).toBeNull();
    expect(perMillion(-1)).toBeNull();
    expect(perMillion('')).toBeNull();
    expect(perMillion(null)).toBeNull();
    expect(perMillion(undefined)).toBeNull();
    expect(perMillion('abc')).toBeNull();
    expect(perMillion(Number.NaN)).toBeNull();
    expect(perMillion(Number.POSITIVE_INFINITY)).toBeNull();
  });
});

describe('flatPrice', () => {
  test('returns the price as a number, or null when unknown', () => {
    expect(flatPrice('0.02')).toBe(0.02);
    expect(flatPrice('0')).toBe(0);
    expect(flatPrice('-1')).toBeNull();
    expect(flatPrice(undefined)).toBeNull();
  });
});

describe('formatUsd', () => {
  test('formats zero, whole and fractional dollars', () => {
    expect(formatUsd(0)).toBe('$0');
    expect(formatUsd(2.5)).toBe('$2.50');
    expect(formatUsd(30)).toBe('$30.00');
    expect(formatUsd(1)).toBe('$1.00');
    expect(formatUsd(1234.567)).toBe('$1234.57');
  });

  test('keeps at least two decimals below a dollar', () => {
    expect(formatUsd(0.6)).toBe('$0.60');
    expect(formatUsd(0.15)).toBe('$0.15');
    expect(formatUsd(0.5)).toBe('$0.50');
  });

  test('shows three significant digits for fractions of a cent', () => {
    expect(formatUsd(0.000123)).toBe('$0.000123');
    expect(formatUsd(0.00012345)).toBe('$0.000123');
    expect(formatUsd(0.0042)).toBe('$0.0042');
    expect(formatUsd(0.123456)).toBe('$0.123');
  });

  test('returns n/a for unknown amounts', () => {
    expect(formatUsd(null)).toBe('n/a');
    expect(formatUsd(undefined)).toBe('n/a');
  });

  // KNOWN BUG (lambda/catalog/pricing.ts, formatUsd): amounts below 1e-6 come out in exponent notation,
  // e.g. formatUsd(1e-7) === '$1e-7' and formatUsd(0.00000042) === '$4.2e-7', because String(Number) is used.
  test('very small amounts are not shown in exponent notation', () => {
    expect(formatUsd(0.0000001)).not.toMatch(/e/);
  });
});

describe('toCompact', () => {
  const base = {
    id: 'acme/model-1',
    name: 'Acme: Model 1',
    created: 1_700_000_000,
    context_length: 128_000,
    architecture: { input_modalities: ['text'], output_modalities: ['text'] },
    pricing: { prompt: '0.000003', completion: '0.000015' },
    top_provider: { context_length: 64_000, max_completion_tokens: 4096 },
    supported_parameters: ['temperature'],
    description: 'A model.',
  };

  test('maps ids, prices per million, context and no capabilities for a plain model', () => {
    expect(toCompact(model(base))).toEqual({
      id: 'acme/model-1',
      name: 'Acme: Model 1',
      context_length: 128_000,
      max_completion_tokens: 4096,
      input_modalities: ['text'],
      output_modalities: ['text'],
      prompt_price_per_m: 3,
      completion_price_per_m: 15,
      capabilities: { tools: false, structured_outputs: false, reasoning: false, vision: false, free: false },
      created: 1_700_000_000,
    });
  });

  test('includes the description only when asked', () => {
    expect(toCompact(model(base)).description).toBeUndefined();
    expect(toCompact(model(base), true).description).toBe('A model.');
  });

  test('falls back to the id for a missing name and to top_provider context length', () => {
    const c = toCompact(model({ id: 'x/y', top_provider: { context_length: 8000 } }));
    expect(c.name).toBe('x/y');
    expect(c.context_length).toBe(8000);
    expect(c.max_completion_tokens).toBeNull();
    expect(c.created).toBeNull();
    expect(c.prompt_price_per_m).toBeNull();
  });

  test('tools flag from "tools"', () => {
    expect(toCompact(model({ ...base, supported_parameters: ['tools'] })).capabilities.tools).toBe(true);
    expect(toCompact(model({ ...base, supported_parameters: ['tool_choice'] })).capabilities.tools).toBe(false);
  });

  test('structured_outputs flag from "structured_outputs" or "response_format"', () => {
    expect(toCompact(model({ ...base, supported_parameters: ['structured_outputs'] })).capabilities.structured_outputs).toBe(true);
    expect(toCompact(model({ ...base, supported_parameters: ['response_format'] })).capabilities.structured_outputs).toBe(true);
  });

  test('reasoning flag from "reasoning" or "include_reasoning"', () => {
    expect(toCompact(model({ ...base, supported_parameters: ['reasoning'] })).capabilities.reasoning).toBe(true);
    expect(toCompact(model({ ...base, supported_parameters: ['include_reasoning'] })).capabilities.reasoning).toBe(true);
  });

  test('vision flag from an image input modality', () => {
    const m = model({ ...base, architecture: { input_modalities: ['text', 'image'], output_modalities: ['text'] } });
    expect(toCompact(m).capabilities.vision).toBe(true);
  });

  test('free only when prompt and completion are 0 and there is no request price', () => {
    expect(toCompact(model({ ...base, pricing: { prompt: '0', completion: '0' } })).capabilities.free).toBe(true);
    expect(toCompact(model({ ...base, pricing: { prompt: '0', completion: '0', request: '0' } })).capabilities.free).toBe(true);
    const withRequest = toCompact(model({ ...base, pricing: { prompt: '0', completion: '0', request: '0.005' } }));
    expect(withRequest.capabilities.free).toBe(false);
    expect(withRequest.request_price).toBe(0.005);
    expect(toCompact(model({ ...base, pricing: { prompt: '0', completion: '0.000001' } })).capabilities.free).toBe(false);
    expect(toCompact(model({ ...base, pricing: { prompt: '-1', completion: '-1' } })).capabilities.free).toBe(false);
  });
});

describe('searchCatalog', () => {
  // created: larger = newer. Prices are per token.
  const MODELS: Model[] = [
    model({
      id: 'openai/gpt-4o',
      name: 'OpenAI: GPT-4o',
      description: 'Omni model with vision.',
      created: 400,
      context_length: 128_000,
      architecture: { input_modalities: ['text', 'image', 'file'], output_modalities: ['text'] },
      pricing: { prompt: '0.0000025', completion: '0.00001' },
      supported_parameters: ['tools', 'structured_outputs', 'temperature'],
    }),
    model({
      id: 'openai/gpt-4o-mini',
      name: 'OpenAI: GPT-4o-mini',
      description: 'Small and cheap.',
      created: 300,
      context_length: 128_000,
      architecture: { input_modalities: ['text', 'image'], output_modalities: ['text'] },
      pricing: { prompt: '0.00000015', completion: '0.0000006' },
      supported_parameters: ['tools', 'response_format'],
    }),
    model({
      id: 'meta-llama/llama-3.1-8b-instruct:free',
      name: 'Meta: Llama 3.1 8B Instruct (free)',
      description: 'Open weights from Meta, a rival to gpt models.',
      created: 200,
      context_length: 8_000,
      architecture: { input_modalities: ['text'], output_modalities: ['text'] },
      pricing: { prompt: '0', completion: '0' },
      supported_parameters: ['temperature'],
    }),
    model({
      id: 'anthropic/claude-sonnet-4.5',
      name: 'Anthropic: Claude Sonnet 4.5',
      description: 'Strong reasoning and coding.',
      created: 500,
      context_length: 1_000_000,
      architecture: { input_modalities: ['text', 'image'], output_modalities: ['text'] },
      pricing: { prompt: '0.000003', completion: '0.000015' },
      supported_parameters: ['tools', 'reasoning', 'structured_outputs'],
    }),
    model({
      id: 'openrouter/auto',
      name: 'Auto Router',
      description: 'Routes to the best model.',
      created: 100,
      context_length: 2_000_000,
      architecture: { input_modalities: ['text'], output_modalities: ['text'] },
      pricing: { prompt: '-1', completion: '-1' },
      supported_parameters: ['tools'],
    }),
    model({
      id: 'google/gemini-image',
      name: 'Google: Gemini Image',
      created: 450,
      architecture: { input_modalities: ['text', 'image'], output_modalities: ['image', 'text'] },
      pricing: { prompt: '0.0000003', completion: '0.0000025' },
    }),
  ];

  const search = (q: Partial<CatalogQuery>) => searchCatalog(MODELS, { offset: 0, limit: 100, ...q });
  const ids = (q: Partial<CatalogQuery>) => search(q).models.map((m) => m.id);

  test('without a query or sort: every model, newest first', () => {
    expect(ids({})).toEqual([
      'anthropic/claude-sonnet-4.5',
      'google/gemini-image',
      'openai/gpt-4o',
      'openai/gpt-4o-mini',
      'meta-llama/llama-3.1-8b-instruct:free',
      'openrouter/auto',
    ]);
  });

  test('every query word must match the id, name or description (case-insensitive)', () => {
    expect(ids({ query: 'GPT mini' })).toEqual(['openai/gpt-4o-mini']);
    expect(ids({ query: 'claude sonnet' })).toEqual(['anthropic/claude-sonnet-4.5']);
    expect(ids({ query: 'llama 8b' })).toEqual(['meta-llama/llama-3.1-8b-instruct:free']);
    expect(ids({ query: 'claude gpt' })).toEqual([]);
    expect(ids({ query: 'nonexistent' })).toEqual([]);
  });

  test('matches a word found only in the description', () => {
    expect(ids({ query: 'coding' })).toEqual(['anthropic/claude-sonnet-4.5']);
  });

  test('relevance: id hits rank above description hits, ties broken by newest', () => {
    // "gpt" is in both gpt ids (score 3) and only in the llama description (score 1).
    expect(ids({ query: 'gpt' })).toEqual(['openai/gpt-4o', 'openai/gpt-4o-mini', 'meta-llama/llama-3.1-8b-instruct:free']);
  });

  test('relevance() scores id 3, name 2, description 1 per word and 0 when any word misses', () => {
    const m = model({ id: 'vendor/alpha', name: 'Beta', description: 'gamma' });
    expect(relevance(m, ['alpha'])).toBe(3);
    expect(relevance(m, ['beta'])).toBe(2);
    expect(relevance(m, ['gamma'])).toBe(1);
    expect(relevance(m, ['alpha', 'beta', 'gamma'])).toBe(6);
    expect(relevance(m, ['alpha', 'delta'])).toBe(0);
  });

  test('filters by input modality and output modality', () => {
    expect(ids({ input_modality: 'file' })).toEqual(['openai/gpt-4o']);
    expect(ids({ output_modality: 'image' })).toEqual(['google/gemini-image']);
    expect(ids({ input_modality: 'audio' })).toEqual([]);
  });

  test('supported_parameters requires all of them', () => {
    expect(ids({ supported_parameters: ['tools'], sort: 'name' })).toEqual([
      'anthropic/claude-sonnet-4.5',
      'openrouter/auto',
      'openai/gpt-4o',
      'openai/gpt-4o-mini',
    ]);
    expect(ids({ supported_parameters: ['tools', 'structured_outputs'] })).toEqual(['anthropic/claude-sonnet-4.5', 'openai/gpt-4o']);
    expect(ids({ supported_parameters: ['tools', 'reasoning', 'structured_outputs'] })).toEqual(['anthropic/claude-sonnet-4.5']);
    expect(ids({ supported_parameters: ['logprobs'] })).toEqual([]);
  });

  test('free_only keeps only free models', () => {
    expect(ids({ free_only: true })).toEqual(['meta-llama/llama-3.1-8b-instruct:free']);
  });

  test('max prices exclude pricier and unknown-price models (inclusive bound)', () => {
    expect(ids({ max_prompt_price_per_m: 0.3 })).toEqual(['google/gemini-image', 'openai/gpt-4o-mini', 'meta-llama/llama-3.1-8b-instruct:free']);
    expect(ids({ max_completion_price_per_m: 0.6 })).toEqual(['openai/gpt-4o-mini', 'meta-llama/llama-3.1-8b-instruct:free']);
    expect(ids({ max_prompt_price_per_m: 1000 })).not.toContain('openrouter/auto');
  });

  test('min_context_length excludes smaller and unknown context windows', () => {
    expect(ids({ min_context_length: 1_000_000 })).toEqual(['anthropic/claude-sonnet-4.5', 'openrouter/auto']);
    expect(ids({ min_context_length: 1 })).not.toContain('google/gemini-image');
  });

  test('sort price_asc puts unknown prices last', () => {
    expect(ids({ sort: 'price_asc' })).toEqual([
      'meta-llama/llama-3.1-8b-instruct:free',
      'openai/gpt-4o-mini',
      'google/gemini-image',
      'openai/gpt-4o',
      'anthropic/claude-sonnet-4.5',
      'openrouter/auto',
    ]);
  });

  test('sort price_desc also puts unknown prices last', () => {
    expect(ids({ sort: 'price_desc' })).toEqual([
      'anthropic/claude-sonnet-4.5',
      'openai/gpt-4o',
      'google/gemini-image',
      'openai/gpt-4o-mini',
      'meta-llama/llama-3.1-8b-instruct:free',
      'openrouter/auto',
    ]);
  });

  test('sort context_desc, name and newest', () => {
    expect(ids({ sort: 'context_desc' })).toEqual([
      'openrouter/auto',
      'anthropic/claude-sonnet-4.5',
      'openai/gpt-4o',
      'openai/gpt-4o-mini',
      'meta-llama/llama-3.1-8b-instruct:free',
      'google/gemini-image',
    ]);
    expect(search({ sort: 'name' }).models.map((m) => m.name)).toEqual([
      'Anthropic: Claude Sonnet 4.5',
      'Auto Router',
      'Google: Gemini Image',
      'Meta: Llama 3.1 8B Instruct (free)',
      'OpenAI: GPT-4o',
      'OpenAI: GPT-4o-mini',
    ]);
    // An explicit sort overrides relevance for a query.
    expect(ids({ query: 'gpt', sort: 'price_asc' })).toEqual(['meta-llama/llama-3.1-8b-instruct:free', 'openai/gpt-4o-mini', 'openai/gpt-4o']);
  });

  test('pages with offset/limit, next_offset and total; the last page has next_offset null', () => {
    const p1 = search({ limit: 4 });
    expect(p1).toMatchObject({ total: 6, offset: 0, limit: 4, next_offset: 4 });
    expect(p1.models).toHaveLength(4);
    const p2 = search({ limit: 4, offset: 4 });
    expect(p2).toMatchObject({ total: 6, offset: 4, limit: 4, next_offset: null });
    expect(p2.models.map((m) => m.id)).toEqual(['meta-llama/llama-3.1-8b-instruct:free', 'openrouter/auto']);
    const exact = search({ limit: 3, offset: 3 });
    expect(exact.models).toHaveLength(3);
    expect(exact.next_offset).toBeNull();
    const beyond = search({ limit: 4, offset: 10 });
    expect(beyond).toMatchObject({ total: 6, next_offset: null, models: [] });
  });

  test('pages cover every model exactly once', () => {
    const seen: string[] = [];
    let offset: number | null = 0;
    while (offset !== null) {
      const page = search({ limit: 2, offset });
      seen.push(...page.models.map((m) => m.id));
      offset = page.next_offset;
    }
    expect(seen).toEqual(ids({}));
  });

  test('include_descriptions controls descriptions in results', () => {
    expect(search({ query: 'coding' }).models[0]!.description).toBeUndefined();
    expect(search({ query: 'coding', include_descriptions: true }).models[0]!.description).toBe('Strong reasoning and coding.');
  });
});

describe('CatalogCache', () => {
  const A = [model({ id: 'a/one' })];
  const B = [model({ id: 'b/two' })];

  function clock(start = 1_000_000) {
    let t = start;
    return { now: () => t, advance: (ms: number) => void (t += ms) };
  }

  test('serves the cached copy within the TTL and refetches after it', async () => {
    const c = clock();
    const cache = new CatalogCache(1000, 5000, c.now);
    const fetcher = jest.fn<Promise<Model[]>, []>().mockResolvedValueOnce(A).mockResolvedValueOnce(B);
    expect(await cache.get(fetcher)).toBe(A);
    c.advance(999);
    expect(await cache.get(fetcher)).toBe(A);
    expect(fetcher).toHaveBeenCalledTimes(1);
    c.advance(1);
    expect(await cache.get(fetcher)).toBe(B);
    expect(fetcher).toHaveBeenCalledTimes(2);
  });

  test('concurrent misses share one fetch', async () => {
    const cache = new CatalogCache(1000, 5000, clock().now);
    let resolve!: (m: Model[]) => void;
    const fetcher = jest.fn(() => new Promise<Model[]>((r) => (resolve = r)));
    const pending = [cache.get(fetcher), cache.get(fetcher), cache.get(fetcher)];
    expect(fetcher).toHaveBeenCalledTimes(1);
    resolve(A);
    const results = await Promise.all(pending);
    expect(results.every((r) => r === A)).toBe(true);
    expect(fetcher).toHaveBeenCalledTimes(1);
  });

  test('concurrent misses share one failure too, and the next call tries again', async () => {
    const cache = new CatalogCache(1000, 5000, clock().now);
    const fetcher = jest.fn<Promise<Model[]>, []>().mockRejectedValueOnce(new Error('down')).mockResolvedValueOnce(A);
    const results = await Promise.allSettled([cache.get(fetcher), cache.get(fetcher)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(fetcher).toHaveBeenCalledTimes(1);
    expect(await cache.get(fetcher)).toBe(A);
    expect(fetcher).toHaveBeenCalledTimes(2);
  });

  test('serves the stale copy when a refresh fails within the stale window', async () => {
    const c = clock();
    const cache = new CatalogCache(1000, 5000, c.now);
    const fetcher = jest.fn<Promise<Model[]>, []>().mockResolvedValueOnce(A).mockRejectedValue(new Error('upstream down'));
    await cache.get(fetcher);
    c.advance(1000 + 4999);
    expect(await cache.get(fetcher)).toBe(A);
    expect(fetcher).toHaveBeenCalledTimes(2);
  });

  test('throws the refresh error once the stale window has passed', async () => {
    const c = clock();
    const cache = new CatalogCache(1000, 5000, c.now);
    const fetcher = jest.fn<Promise<Model[]>, []>().mockResolvedValueOnce(A).mockRejectedValue(new Error('upstream down'));
    await cache.get(fetcher);
    c.advance(6000);
    await expect(cache.get(fetcher)).rejects.toThrow('upstream down');
  });

  test('throws the fetch error when there is no copy at all', async () => {
    const cache = new CatalogCache(1000, 5000, clock().now);
    await expect(cache.get(() => Promise.reject(new Error('no network')))).rejects.toThrow('no network');
  });

  test('a successful refresh after a failure replaces the copy', async () => {
    const c = clock();
    const cache = new CatalogCache(1000, 5000, c.now);
    const fetcher = jest
      .fn<Promise<Model[]>, []>()
      .mockResolvedValueOnce(A)
      .mockRejectedValueOnce(new Error('blip'))
      .mockResolvedValueOnce(B);
    await cache.get(fetcher);
    c.advance(1500);
    expect(await cache.get(fetcher)).toBe(A);
    expect(await cache.get(fetcher)).toBe(B);
    expect(await cache.get(fetcher)).toBe(B);
    expect(fetcher).toHaveBeenCalledTimes(3);
  });
});

describe('natural order', () => {
  // Same creation time, so the default (newest first) order falls to the id tie-break; the same for names.
  const numbered = ['model-10', 'model-2', 'model-1', 'Model-3b', 'model-3a'].map((id, i) =>
    model({ id: `x/${id}`, name: `X ${id}`, created: 7, context_length: 1000 + i, architecture: { input_modalities: ['text'], output_modalities: ['text'] }, pricing: { prompt: '0', completion: '0' } }),
  );

  test('ids and names with numbers sort as numbers: model-2 before model-10', () => {
    const page = (sort?: CatalogQuery['sort']) => searchCatalog(numbered, { offset: 0, limit: 100, ...(sort ? { sort } : {}) });
    expect(page().models.map((m) => m.id)).toEqual(['x/model-1', 'x/model-2', 'x/model-3a', 'x/Model-3b', 'x/model-10']);
    expect(page('name').models.map((m) => m.name)).toEqual(['X model-1', 'X model-2', 'X model-3a', 'X Model-3b', 'X model-10']);
  });
});
