import { StreamAggregator } from '../../lambda/openrouter/aggregate.js';
import { UpstreamError } from '../../lambda/openrouter/errors.js';
import { ChatChunk } from '../../lambda/openrouter/schemas.js';

/** Chunks are parsed with the real schema so the fixtures look like what the client feeds the aggregator. */
const chunk = (raw: unknown): ChatChunk => ChatChunk.parse(raw);
const delta = (d: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  chunk({ id: 'gen-1', model: 'openai/gpt-4o', choices: [{ delta: d, ...extra }] });

function thrown(fn: () => unknown): UpstreamError {
  try {
    fn();
  } catch (err) {
    if (err instanceof UpstreamError) return err;
    throw err;
  }
  throw new Error('expected an UpstreamError');
}

describe('StreamAggregator', () => {
  test('concatenates content deltas and reports each delta', () => {
    const a = new StreamAggregator();
    expect(a.apply(delta({ role: 'assistant', content: '' }))).toEqual({});
    expect(a.apply(delta({ content: 'Hel' }))).toEqual({ content: 'Hel' });
    expect(a.apply(delta({ content: 'lo, ' }))).toEqual({ content: 'lo, ' });
    expect(a.apply(delta({ content: null }))).toEqual({});
    expect(a.apply(delta({ content: 'world' }))).toEqual({ content: 'world' });
    const r = a.finish();
    expect(r.content).toBe('Hello, world');
    expect(r.id).toBe('gen-1');
    expect(r.model).toBe('openai/gpt-4o');
    expect(r.toolCalls).toEqual([]);
  });

  test('accumulates completion-style `text` choices as content', () => {
    const a = new StreamAggregator();
    a.apply(chunk({ id: 'cmpl-1', model: 'm', choices: [{ text: 'Once ' }] }));
    expect(a.apply(chunk({ id: 'cmpl-1', model: 'm', choices: [{ text: 'upon' }] }))).toEqual({ content: 'upon' });
    expect(a.finish().content).toBe('Once upon');
  });

  test('accumulates reasoning separately from content and reports it in the delta', () => {
    const a = new StreamAggregator();
    expect(a.apply(delta({ reasoning: 'Let me ' }))).toEqual({ reasoning: 'Let me ' });
    a.apply(delta({ reasoning: 'think.' }));
    expect(a.apply(delta({ content: 'Answer', reasoning: '' }))).toEqual({ content: 'Answer' });
    const r = a.finish();
    expect(r.reasoning).toBe('Let me think.');
    expect(r.content).toBe('Answer');
  });

  test('accumulates refusal text', () => {
    const a = new StreamAggregator();
    a.apply(delta({ refusal: 'I cannot ' }));
    a.apply(delta({ refusal: 'help with that.' }));
    expect(a.finish().refusal).toBe('I cannot help with that.');
  });

  test('merges a tool call by index: id and name first, arguments in pieces', () => {
    const a = new StreamAggregator();
    a.apply(delta({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } }] }));
    a.apply(delta({ tool_calls: [{ index: 0, function: { arguments: '{"ci' } }] }));
    a.apply(delta({ tool_calls: [{ index: 0, function: { arguments: 'ty":"Par' } }] }));
    a.apply(delta({ tool_calls: [{ index: 0, function: { arguments: 'is"}' } }] }, { finish_reason: 'tool_calls' }));
    const r = a.finish();
    expect(r.toolCalls).toEqual([{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }]);
    expect(JSON.parse(r.toolCalls[0]!.function.arguments)).toEqual({ city: 'Paris' });
    expect(r.finishReason).toBe('tool_calls');
  });

  test('keeps two parallel tool calls apart, interleaved, and orders them by index', () => {
    const a = new StreamAggregator();
    a.apply(delta({ tool_calls: [{ index: 1, id: 'call_b', function: { name: 'lookup', arguments: '{"q":' } }] }));
    a.apply(delta({ tool_calls: [{ index: 0, id: 'call_a', function: { name: 'search', arguments: '{"x"' } }] }));
    a.apply(delta({ tool_calls: [{ index: 0, function: { arguments: ':1}' } }, { index: 1, function: { arguments: '"two"}' } }] }));
    const r = a.finish();
    expect(r.toolCalls).toEqual([
      { id: 'call_a', type: 'function', function: { name: 'search', arguments: '{"x":1}' } },
      { id: 'call_b', type: 'function', function: { name: 'lookup', arguments: '{"q":"two"}' } },
    ]);
  });

  test('records finish_reason and native_finish_reason, and null when never sent', () => {
    const a = new StreamAggregator();
    a.apply(delta({ content: 'x' }));
    expect(a.finish().finishReason).toBeNull();
    const b = new StreamAggregator();
    b.apply(delta({ content: 'x' }));
    b.apply(delta({}, { finish_reason: 'length', native_finish_reason: 'MAX_TOKENS' }));
    const r = b.finish();
    expect(r.finishReason).toBe('length');
    expect(r.nativeFinishReason).toBe('MAX_TOKENS');
  });

  test('takes usage from a final chunk with empty choices, and the provider', () => {
    const a = new StreamAggregator();
    a.apply(chunk({ id: 'gen-9', model: 'anthropic/claude', provider: 'Anthropic', choices: [{ delta: { content: 'ok' }, finish_reason: 'stop' }] }));
    const d = a.apply(
      chunk({
        id: 'gen-9',
        model: 'anthropic/claude',
        choices: [],
        usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15, cost: 0.00042 },
      }),
    );
    expect(d).toEqual({});
    const r = a.finish();
    expect(r.usage).toMatchObject({ prompt_tokens: 12, completion_tokens: 3, total_tokens: 15, cost: 0.00042 });
    expect(r.provider).toBe('Anthropic');
    expect(r.content).toBe('ok');
    expect(r.finishReason).toBe('stop');
  });

  test('an in-stream error throws UpstreamError kind "stream" with the numeric code as status', () => {
    const a = new StreamAggregator();
    a.apply(delta({ content: 'partial' }));
    const err = thrown(() =>
      a.apply(chunk({ id: 'gen-1', choices: [{ delta: { content: '' }, finish_reason: 'error' }], error: { code: 429, message: 'Provider rate limited' } })),
    );
    expect(err.kind).toBe('stream');
    expect(err.status).toBe(429);
    expect(err.message).toBe('Provider rate limited');
  });

  test('an in-stream error with a string code or no message falls back to 502 / "stream error"', () => {
    const err = thrown(() => new StreamAggregator().apply(chunk({ id: 'g', choices: [], error: { code: 'server_error' } })));
    expect(err.kind).toBe('stream');
    expect(err.status).toBe(502);
    expect(err.message).toBe('stream error');
  });

  test('an in-stream error message is scrubbed of keys', () => {
    const err = thrown(() =>
      new StreamAggregator().apply(chunk({ id: 'g', choices: [], error: { code: 500, message: 'bad key sk-or-v1-abcdef0123456789abcdef' } })),
    );
    expect(err.message).not.toContain('abcdef0123456789');
    expect(err.message).toContain('[redacted]');
  });

  test('finish() with no chunks throws UpstreamError invalid_response', () => {
    const err = thrown(() => new StreamAggregator().finish());
    expect(err.kind).toBe('invalid_response');
    expect(err.status).toBe(502);
  });

  test('later chunks update id/model but empty fields do not erase them', () => {
    const a = new StreamAggregator();
    a.apply(chunk({ id: 'gen-1', model: 'openai/gpt-4o', choices: [{ delta: { content: 'a' } }] }));
    a.apply(chunk({ choices: [{ delta: { content: 'b' } }] }));
    const r = a.finish();
    expect(r.id).toBe('gen-1');
    expect(r.model).toBe('openai/gpt-4o');
    expect(r.content).toBe('ab');
  });
});
