/** How lookups read when upstream leaves fields out: what is unknown is not printed (no "?", no "n/a"). */
import { generationLine } from '../../lambda/tools/account.js';
import { contextLabel } from '../../lambda/tools/models.js';

test('a generation line names only what is known', () => {
  expect(generationLine({ id: 'gen-1' })).toBe('gen-1: cost not reported yet');
  expect(generationLine({ id: 'gen-2', total_cost: 0.0123, model: 'openai/gpt-4o', tokens_prompt: 10 })).toBe('gen-2: $0.0123 · openai/gpt-4o · 10 in tokens');
  expect(generationLine({ id: 'gen-3', total_cost: 0, provider: 'Together', tokens_completion: 5, finish_reason: 'stop' })).toBe('gen-3: $0 · via Together · 5 out tokens · finish_reason stop');
  const full = generationLine({ id: 'gen-4', total_cost: 2, model: 'm/x', provider: 'P', tokens_prompt: 1, tokens_completion: 2, latency_ms: 120, finish_reason: 'length' });
  expect(full).toBe('gen-4: $2.00 · m/x via P · 1 in / 2 out tokens · latency 120 ms · finish_reason length');
  for (const line of [generationLine({ id: 'gen-1' }), generationLine({ id: 'gen-5', model: 'm/x' })]) expect(line).not.toMatch(/\?|n\/a/);
});

test('one context label for the model list and the model details', () => {
  expect(contextLabel(128_000)).toBe('128k ctx');
  expect(contextLabel(131_072)).toBe('131k ctx');
  expect(contextLabel(null)).toBe('ctx n/a');
  expect(contextLabel(undefined)).toBe('ctx n/a');
});
