/**
 * Budget math: UTC window keys and resets (year ends, ISO weeks 1 and 53, leap days), the budget check and its
 * refusal message, effective caps from defaults and overrides, the max_tokens clamp, the prompt estimate, and
 * per-user defaults applied under the policy.
 */
import { checkBudget, effectiveCaps, type BudgetUsage } from '../../lambda/budget/check.js';
import { clampMaxTokens, type ClampInput } from '../../lambda/budget/clamp.js';
import { IMAGE_TOKENS, MESSAGE_OVERHEAD_TOKENS, estimatePromptTokens, estimateTextTokens } from '../../lambda/budget/estimate.js';
import { fromNano, toNano, toNanoCeil } from '../../lambda/budget/money.js';
import { planCall } from '../../lambda/budget/plan.js';
import { currentWindows, dayKeysBetween, isoWeek, windowRef } from '../../lambda/budget/windows.js';
import { applyUserDefaults } from '../../lambda/policy/user-defaults.js';

const at = (iso: string) => new Date(iso);

describe('windows', () => {
  test('keys and resets on an ordinary Sunday', () => {
    const w = currentWindows(at('2026-12-06T15:30:00Z'));
    expect(w.daily).toEqual({ window: 'daily', key: '2026-12-06', start: at('2026-12-06T00:00:00Z'), resetsAt: at('2026-12-07T00:00:00Z') });
    expect(w.weekly).toEqual({ window: 'weekly', key: '2026-W49', start: at('2026-11-30T00:00:00Z'), resetsAt: at('2026-12-07T00:00:00Z') });
    expect(w.monthly).toEqual({ window: 'monthly', key: '2026-12', start: at('2026-12-01T00:00:00Z'), resetsAt: at('2027-01-01T00:00:00Z') });
  });

  test('the last millisecond of a day and the first of the next', () => {
    expect(windowRef('daily', at('2026-12-06T23:59:59.999Z')).key).toBe('2026-12-06');
    expect(windowRef('daily', at('2026-12-07T00:00:00.000Z')).key).toBe('2026-12-07');
    expect(windowRef('weekly', at('2026-12-06T23:59:59.999Z')).key).toBe('2026-W49');
    expect(windowRef('weekly', at('2026-12-07T00:00:00.000Z')).key).toBe('2026-W50');
  });

  test.each([
    // ISO week-years: the week belongs to the year of its Thursday.
    ['2026-12-31T12:00:00Z', '2026-W53', '2026-12-28', '2027-01-04'],
    ['2027-01-01T00:00:00Z', '2026-W53', '2026-12-28', '2027-01-04'],
    ['2027-01-03T23:59:59Z', '2026-W53', '2026-12-28', '2027-01-04'],
    ['2027-01-04T00:00:00Z', '2027-W01', '2027-01-04', '2027-01-11'],
    ['2024-12-30T00:00:00Z', '2025-W01', '2024-12-30', '2025-01-06'],
    ['2025-12-29T08:00:00Z', '2026-W01', '2025-12-29', '2026-01-05'],
    ['2021-01-03T00:00:00Z', '2020-W53', '2020-12-28', '2021-01-04'],
    ['2020-02-29T00:00:00Z', '2020-W09', '2020-02-24', '2020-03-02'],
  ])('ISO week of %s is %s (Monday %s, resets %s)', (time, key, monday, reset) => {
    const w = windowRef('weekly', at(time));
    expect(w.key).toBe(key);
    expect(w.start.toISOString().slice(0, 10)).toBe(monday);
    expect(w.resetsAt.toISOString()).toBe(`${reset}T00:00:00.000Z`);
    expect(isoWeek(at(time)).week).toBe(Number(key.slice(-2)));
  });

  test('month and year ends, leap February', () => {
    expect(windowRef('monthly', at('2026-12-31T23:59:59.999Z'))).toMatchObject({ key: '2026-12', resetsAt: at('2027-01-01T00:00:00Z') });
    expect(windowRef('monthly', at('2028-02-29T10:00:00Z'))).toMatchObject({ key: '2028-02', resetsAt: at('2028-03-01T00:00:00Z') });
    expect(windowRef('daily', at('2028-02-29T10:00:00Z'))).toMatchObject({ key: '2028-02-29', resetsAt: at('2028-03-01T00:00:00Z') });
    expect(windowRef('daily', at('2026-12-31T10:00:00Z')).resetsAt).toEqual(at('2027-01-01T00:00:00Z'));
  });

  test('day ranges', () => {
    expect(dayKeysBetween('2026-12-30', '2027-01-02')).toEqual(['2026-12-30', '2026-12-31', '2027-01-01', '2027-01-02']);
    expect(dayKeysBetween('2026-12-02', '2026-12-01')).toEqual([]);
    expect(dayKeysBetween('2020-01-01', '2030-01-01')).toHaveLength(400);
  });
});

const zero: BudgetUsage = { daily: { spentUsd: 0, reservedUsd: 0 }, weekly: { spentUsd: 0, reservedUsd: 0 }, monthly: { spentUsd: 0, reservedUsd: 0 } };

describe('checkBudget', () => {
  const now = at('2026-12-06T15:30:00Z');

  test('no caps: always allowed, nothing to clamp', () => {
    expect(checkBudget({}, { ...zero, daily: { spentUsd: 1e6, reservedUsd: 0 } }, now)).toEqual({ ok: true, remainingUsd: null });
  });

  test('remaining is the tightest window', () => {
    const usage: BudgetUsage = { daily: { spentUsd: 1, reservedUsd: 0.5 }, weekly: { spentUsd: 9, reservedUsd: 0.5 }, monthly: { spentUsd: 9, reservedUsd: 0.5 } };
    expect(checkBudget({ daily: 5, weekly: 10.25, monthly: 100 }, usage, now)).toEqual({ ok: true, remainingUsd: 0.75, tightest: 'weekly' });
  });

  test('a window at its cap refuses, naming window, cap, spend and reset', () => {
    const out = checkBudget({ daily: 5, weekly: 20 }, { ...zero, daily: { spentUsd: 5, reservedUsd: 0 } }, now);
    expect(out).toMatchObject({ ok: false, window: 'daily', capUsd: 5, spentUsd: 5, reservedUsd: 0, resetsAt: '2026-12-07T00:00:00.000Z' });
    if (!out.ok) {
      expect(out.message).toContain('daily cap is $5.00');
      expect(out.message).toContain('spent $5.00 today');
      expect(out.message).toContain('resets at 2026-12-07T00:00:00.000Z');
      expect(out.message).toContain('Nothing was sent to OpenRouter');
    }
  });

  test('reservations of running calls count, and the message says so', () => {
    const out = checkBudget({ monthly: 1 }, { ...zero, monthly: { spentUsd: 0.6, reservedUsd: 0.4 } }, now);
    expect(out).toMatchObject({ ok: false, window: 'monthly', resetsAt: '2027-01-01T00:00:00.000Z' });
    if (!out.ok) expect(out.message).toMatch(/reserved \$0\.4000.*or sooner when your running calls finish/);
  });

  test('a zero cap refuses everything', () => {
    expect(checkBudget({ weekly: 0 }, zero, now)).toMatchObject({ ok: false, window: 'weekly' });
  });

  test('effective caps: an override replaces, null lifts, absent inherits', () => {
    expect(effectiveCaps({ daily: 5, weekly: 20, monthly: 50 }, { daily: 1, weekly: null })).toEqual({ daily: 1, monthly: 50 });
    expect(effectiveCaps({}, { monthly: 3 })).toEqual({ monthly: 3 });
    expect(effectiveCaps({ daily: 5 })).toEqual({ daily: 5 });
  });
});

describe('clampMaxTokens', () => {
  // $1 / 1M prompt tokens, $4 / 1M completion tokens.
  const base: ClampInput = { remainingUsd: 0.01, promptTokensEstimate: 1_000, promptPricePerToken: 1e-6, completionPricePerToken: 4e-6 };

  test('clamps to the largest max_tokens whose worst case fits', () => {
    const out = clampMaxTokens({ ...base, requestedMaxTokens: 10_000 });
    // (0.01 - 0.001) / 4e-6 = 2250
    expect(out).toEqual({ ok: true, maxTokens: 2250, clamped: true, worstCaseUsd: expect.closeTo(0.01, 12) });
    if (out.ok) expect(out.worstCaseUsd!).toBeLessThanOrEqual(0.01);
  });

  test('a request that already fits is left alone', () => {
    expect(clampMaxTokens({ ...base, requestedMaxTokens: 500 })).toEqual({ ok: true, maxTokens: 500, clamped: false, worstCaseUsd: expect.closeTo(0.003, 12) });
  });

  test('without max_tokens the model limit bounds the worst case; if that fits nothing is set', () => {
    expect(clampMaxTokens({ ...base, modelMaxCompletionTokens: 1_000 })).toEqual({ ok: true, maxTokens: undefined, clamped: false, worstCaseUsd: expect.closeTo(0.005, 12) });
    expect(clampMaxTokens({ ...base })).toMatchObject({ ok: true, maxTokens: 2250, clamped: true });
  });

  test('fixed charges (per request, plugins) come off first', () => {
    expect(clampMaxTokens({ ...base, fixedCostUsd: 0.005, requestedMaxTokens: 10_000 })).toMatchObject({ ok: true, maxTokens: 1000, clamped: true });
  });

  test('the clamped worst case never exceeds the remaining budget (float edges)', () => {
    for (const remaining of [0.1, 0.3, 0.7, 1 / 3, 0.000123, 2.675]) {
      for (const pOut of [1e-7, 3e-7, 1.5e-5, 6e-5, 7.5e-5]) {
        const out = clampMaxTokens({ remainingUsd: remaining, promptTokensEstimate: 7, promptPricePerToken: 3e-7, completionPricePerToken: pOut, requestedMaxTokens: 1e6 });
        if (!out.ok) continue;
        expect(out.worstCaseUsd!).toBeLessThanOrEqual(remaining);
        // Clamped means the largest that fits: one more token would not.
        if (out.clamped) expect(7 * 3e-7 + (out.maxTokens! + 1) * pOut).toBeGreaterThan(remaining);
        else expect(out.maxTokens).toBe(1e6);
      }
    }
  });

  test('a prompt that alone does not fit is refused', () => {
    const out = clampMaxTokens({ ...base, promptTokensEstimate: 20_000 });
    expect(out).toMatchObject({ ok: false, reason: 'prompt_exceeds_budget' });
    if (!out.ok) expect(out.message).toContain('about 20000 tokens');
    // Fits the prompt but not a single completion token.
    expect(clampMaxTokens({ ...base, promptTokensEstimate: 9_999 })).toMatchObject({ ok: false, reason: 'prompt_exceeds_budget' });
  });

  test('free completions are not clamped; unknown prices are refused only under a cap', () => {
    expect(clampMaxTokens({ ...base, completionPricePerToken: 0, requestedMaxTokens: 50_000 })).toEqual({ ok: true, maxTokens: 50_000, clamped: false, worstCaseUsd: 0.001 });
    expect(clampMaxTokens({ ...base, completionPricePerToken: null })).toMatchObject({ ok: false, reason: 'unknown_price' });
    expect(clampMaxTokens({ ...base, remainingUsd: null, completionPricePerToken: null, requestedMaxTokens: 7 })).toEqual({ ok: true, maxTokens: 7, clamped: false, worstCaseUsd: null });
  });

  test('no cap: unchanged, with the worst case when it can be computed', () => {
    expect(clampMaxTokens({ ...base, remainingUsd: null, requestedMaxTokens: 1000 })).toEqual({ ok: true, maxTokens: 1000, clamped: false, worstCaseUsd: expect.closeTo(0.005, 12) });
  });
});

describe('planCall', () => {
  const now = at('2026-12-06T15:30:00Z');
  const prices = { promptTokensEstimate: 1_000, promptPricePerToken: 1e-6, completionPricePerToken: 4e-6 };

  test('a used-up window refuses before any clamping', () => {
    const out = planCall({ ...prices, caps: { daily: 1 }, usage: { ...zero, daily: { spentUsd: 1.2, reservedUsd: 0 } }, now, requestedMaxTokens: 10 });
    expect(out).toMatchObject({ ok: false, reason: 'budget_reached', refusal: { window: 'daily', capUsd: 1, spentUsd: 1.2 } });
  });

  test('clamps to the tightest window', () => {
    const out = planCall({ ...prices, caps: { daily: 1, weekly: 5 }, usage: { ...zero, daily: { spentUsd: 0.99, reservedUsd: 0 } }, now, requestedMaxTokens: 100_000 });
    expect(out).toMatchObject({ ok: true, clamped: true, maxTokens: 2250 });
    if (out.ok) expect(out.remainingUsd).toBeCloseTo(0.01, 12);
  });

  test('no caps: nothing changes', () => {
    expect(planCall({ ...prices, caps: {}, usage: zero, now, requestedMaxTokens: 100 })).toEqual({ ok: true, maxTokens: 100, clamped: false, worstCaseUsd: expect.closeTo(0.0014, 12), remainingUsd: null });
  });

  test('a prompt too big for what is left is refused', () => {
    expect(planCall({ ...prices, promptTokensEstimate: 1e6, caps: { monthly: 0.5 }, usage: zero, now })).toMatchObject({ ok: false, reason: 'prompt_exceeds_budget' });
  });
});

describe('prompt estimate', () => {
  test('ASCII at one token per three characters, rounded up', () => {
    expect(estimateTextTokens('')).toBe(0);
    expect(estimateTextTokens('abc')).toBe(1);
    expect(estimateTextTokens('abcd')).toBe(2);
    expect(estimateTextTokens('x'.repeat(3000))).toBe(1000);
  });

  test('other characters at 1.5 tokens per code point (an emoji is one code point)', () => {
    expect(estimateTextTokens('日本語')).toBe(5);
    expect(estimateTextTokens('😀😀')).toBe(3);
  });

  test('never above the UTF-8 byte count bound by more than rounding, and above 4 chars/token English', () => {
    const english = 'The quick brown fox jumps over the lazy dog. '.repeat(50);
    expect(estimateTextTokens(english)).toBeGreaterThan(english.length / 4);
    expect(estimateTextTokens(english)).toBeLessThanOrEqual(Buffer.byteLength(english));
  });

  test('messages: text, overhead, images at a fixed size, data URLs not read as text', () => {
    const messages = [
      { role: 'system', content: 'abcabc' },
      { role: 'user', content: [{ type: 'text', text: 'abc' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${'A'.repeat(100_000)}` } }] },
    ];
    const t = estimatePromptTokens({ messages });
    expect(t).toBeGreaterThanOrEqual(2 * MESSAGE_OVERHEAD_TOKENS + 2 + 1 + IMAGE_TOKENS);
    expect(t).toBeLessThan(2 * MESSAGE_OVERHEAD_TOKENS + IMAGE_TOKENS + 20);
    expect(estimatePromptTokens({ prompt: 'x'.repeat(300) })).toBe(100);
    expect(estimatePromptTokens({ messages: [], tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }] })).toBeGreaterThan(3);
  });
});

describe('money', () => {
  test('nano-dollars add exactly where floats do not', () => {
    expect(toNano(0.1) + toNano(0.2)).toBe(toNano(0.3));
    expect(toNanoCeil(0.1)).toBe(100_000_000);
    expect(toNanoCeil(1e-10)).toBe(1);
    expect(fromNano(toNano(0.00001425))).toBe(0.00001425);
  });
});

describe('user defaults', () => {
  test('fill only what the call omits', () => {
    const d = { model: 'openai/gpt-4o', max_tokens: 500, provider: { sort: 'price' as const, zdr: true }, reasoning_effort: 'low' as const };
    expect(applyUserDefaults(d, {})).toEqual({ model: 'openai/gpt-4o', max_tokens: 500, provider: { sort: 'price', zdr: true }, reasoning: { effort: 'low' } });
    expect(applyUserDefaults(d, { model: 'x/y', max_tokens: 9, provider: { sort: 'latency' }, reasoning: { effort: 'high' } })).toEqual({
      model: 'x/y',
      max_tokens: 9,
      provider: { sort: 'latency', zdr: true },
      reasoning: { effort: 'high' },
    });
  });

  test('a fallback list counts as a model; an explicit reasoning budget or reasoning off wins', () => {
    const d = { model: 'openai/gpt-4o', reasoning_effort: 'high' as const };
    expect(applyUserDefaults(d, { models: ['a/b'] })).toEqual({ models: ['a/b'], reasoning: { effort: 'high' } });
    expect(applyUserDefaults(d, { model: 'a/b', reasoning: { max_tokens: 100 } })).toEqual({ model: 'a/b', reasoning: { max_tokens: 100 } });
    expect(applyUserDefaults(d, { model: 'a/b', reasoning: { enabled: false } })).toEqual({ model: 'a/b', reasoning: { enabled: false } });
    expect(applyUserDefaults(undefined, { model: 'a/b' })).toEqual({ model: 'a/b' });
  });
});
