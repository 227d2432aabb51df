/**
 * Folds streamed chat/completion chunks into the same shape as a non-streamed result, so the tools have
 * one code path for presenting results whichever way the generation arrived.
 */
import { UpstreamError } from './errors.js';
import type { ChatChunk, ToolCall, Usage } from './schemas.js';

export interface Generated {
  id: string;
  model: string;
  provider?: string;
  content: string;
  reasoning: string;
  refusal: string;
  toolCalls: ToolCall[];
  /** Images an image model returned (data URLs or links); never streamed, as the spec's stream deltas carry none. */
  images?: string[];
  finishReason: string | null;
  nativeFinishReason: string | null;
  usage?: Usage;
}

export interface Delta {
  content?: string;
  reasoning?: string;
}

export class StreamAggregator {
  private readonly result: Generated = {
    id: '',
    model: '',
    content: '',
    reasoning: '',
    refusal: '',
    toolCalls: [],
    finishReason: null,
    nativeFinishReason: null,
  };
  private readonly calls = new Map<number, { id: string; name: string; arguments: string }>();

  /** Apply one chunk; returns the text it added (for progress), or throws on an in-stream error event. */
  apply(chunk: ChatChunk): Delta {
    const r = this.result;
    if (chunk.id) r.id = chunk.id;
    if (chunk.model) r.model = chunk.model;
    if (chunk.provider) r.provider = chunk.provider;
    if (chunk.usage) r.usage = chunk.usage;
    const delta: Delta = {};
    const choice = chunk.choices[0];
    if (choice) {
      const content = (choice.delta?.content ?? '') + (choice.text ?? '');
      if (content) {
        r.content += content;
        delta.content = content;
      }
      if (choice.delta?.reasoning) {
        r.reasoning += choice.delta.reasoning;
        delta.reasoning = choice.delta.reasoning;
      }
      if (choice.delta?.refusal) r.refusal += choice.delta.refusal;
      for (const call of choice.delta?.tool_calls ?? []) {
        const current = this.calls.get(call.index) ?? { id: '', name: '', arguments: '' };
        if (call.id) current.id = call.id;
        if (call.function?.name) current.name += call.function.name;
        if (call.function?.arguments) current.arguments += call.function.arguments;
        this.calls.set(call.index, current);
      }
      if (choice.finish_reason) r.finishReason = choice.finish_reason;
      if (choice.native_finish_reason) r.nativeFinishReason = choice.native_finish_reason;
    }
    if (chunk.error) {
      const status = typeof chunk.error.code === 'number' ? chunk.error.code : 502;
      throw new UpstreamError('stream', status, chunk.error.message ?? 'stream error');
    }
    return delta;
  }

  finish(): Generated {
    if (!this.result.id) throw new UpstreamError('invalid_response', 502, 'the stream ended before any chunk arrived');
    this.result.toolCalls = [...this.calls.entries()]
      .sort(([a], [b]) => a - b)
      .map(([, c]) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.arguments } }));
    return this.result;
  }
}
