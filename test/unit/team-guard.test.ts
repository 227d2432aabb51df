/**
 * The guard's pure parts: the prices a call's worst case is computed at (the dearest of the model and its
 * fallbacks; unknown when any is unknown) and the budget line get_key_usage prints.
 */
import type { Model } from '../../lambda/openrouter/schemas.js';
import { describeBudget, priceOf } from '../../lambda/team/guard.js';

function model(id: string, prompt: string, completion: string, extra: { request?: string; maxCompletion?: number | null; context?: number } = {}): Model {
  return {
    id,
    name: id,
    context_length: extra.context ?? 100_000,
    architecture: { input_modalities: ['text'], output_modalities: ['text'] },
    pricing: { prompt, completion, request: extra.request ?? '0' },
    top_provider: { max_completion_tokens: extra.maxCompletion === undefined ? 4096 : extra.maxCompletion },
  } as unknown as Model;
}

const CATALOG = [
  model('a/cheap', '0.000001', '0.000002'),
  model('b/dear', '0.000003', '0.000001', { request: '0.01', maxCompletion: 8192 }),
  model('c/router', '-1', '-1'),
  model('d/unlisted-limit', '0.000001', '0.000001', { maxCompletion: null, context: 32_000 }),
];

describe('priceOf', () => {
  test('the dearest price per side over the model and its fallbacks, the largest completion limit', () => {
    expect(priceOf(CATALOG, ['a/cheap', 'b/dear'])).toEqual({ prompt: 0.000003, completion: 0.000002, request: 0.01, maxCompletionTokens: 8192 });
  });

  test('a variant without its own entry is priced as its base model', () => {
    expect(priceOf(CATALOG, ['a/cheap:nitro'])).toMatchObject({ prompt: 0.000001, completion: 0.000002 });
  });

  test('unknown when any candidate is a router, missing from the catalog, or when no model is named', () => {
    expect(priceOf(CATALOG, ['a/cheap', 'c/router'])).toMatchObject({ prompt: null, completion: null });
    expect(priceOf(CATALOG, ['z/missing'])).toMatchObject({ prompt: null, completion: null });
    expect(priceOf(CATALOG, [undefined])).toMatchObject({ prompt: null, completion: null });
  });

  test('without a listed completion limit the context window bounds the output', () => {
    expect(priceOf(CATALOG, ['d/unlisted-limit']).maxCompletionTokens).toBe(32_000);
  });
});

describe('describeBudget', () => {
  test('capped windows show spend, reservations, cap and reset; uncapped ones say so', () => {
    const text = describeBudget({
      daily: { spent_usd: 0.0123, cap_usd: 2, reserved_usd: 0.5, resets_at: '2026-12-07T00:00:00.000Z' },
      weekly: { spent_usd: 0.0123, reserved_usd: 0, resets_at: '2026-12-07T00:00:00.000Z' },
      monthly: { spent_usd: 1.5, cap_usd: 30, reserved_usd: 0, resets_at: '2027-01-01T00:00:00.000Z' },
    });
    expect(text).toBe(
      'Budget on this server: today $0.0123 + $0.5000 reserved of $2.00 (resets 2026-12-07T00:00:00.000Z); ' +
        'this week $0.0123 (no cap); this month $1.50 of $30.00 (resets 2027-01-01T00:00:00.000Z).',
    );
  });
});
