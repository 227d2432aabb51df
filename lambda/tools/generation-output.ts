/**
 * How a generation (chat or text completion, streamed or not) is reported: one output schema, one
 * presentation. Cut-offs and empty answers are called out instead of passing as an empty success.
 */
import * as z from 'zod';
import { formatUsd } from '../catalog/pricing.js';
import type { Generated } from '../openrouter/aggregate.js';
import { advertiseAs } from './advertised.js';
import { IMAGE_LINK_DESCRIPTION, ImageLink, linkLines, type PublishedImages } from './image-output.js';
import type { ToolOutcome } from './outcome.js';

const GenerationFields = z.object({
  id: z.string(),
  model: z.string(),
  provider: z.string().optional(),
  finish_reason: z.string().nullable(),
  native_finish_reason: z.string().nullable().optional(),
  content: z.string(),
  reasoning: z.string().optional(),
  refusal: z.string().optional(),
  tool_calls: z.array(z.object({ id: z.string(), type: z.literal('function'), function: z.object({ name: z.string(), arguments: z.string() }) })).optional(),
  usage: z.object({
    prompt_tokens: z.number(),
    completion_tokens: z.number(),
    total_tokens: z.number(),
    reasoning_tokens: z.number().optional(),
    cached_tokens: z.number().optional(),
    cost: z.number().nullable(),
    is_byok: z.boolean().optional(),
  }),
  images: z.array(ImageLink).optional(),
  notice: z.string().optional(),
});

const GENERATION_FIELDS =
  'id (for get_generation), model and provider? that served, finish_reason, native_finish_reason?, content, reasoning?, ' +
  'refusal?, tool_calls? ({id, type, function:{name, arguments}}; answer each with a role "tool" message), usage ' +
  '{prompt_tokens, completion_tokens, total_tokens, reasoning_tokens?, cached_tokens?, cost (dollars), is_byok?}, ' +
  `images? [${IMAGE_LINK_DESCRIPTION}], notice? (why the answer is cut off or empty)`;
const REQUIRED = ['id', 'model', 'finish_reason', 'content', 'usage'];
export const GenerationOutput = advertiseAs(GenerationFields, { type: 'object', description: GENERATION_FIELDS, required: REQUIRED });
export type GenerationOutput = z.infer<typeof GenerationOutput>;

/** A chat result also names the conversation it continues (see conversations.ts). */
export const ChatOutput = advertiseAs(GenerationFields.extend({ conversation_id: z.string().optional(), conversation_notice: z.string().optional() }), {
  type: 'object',
  description: `${GENERATION_FIELDS}, conversation_id? (to continue), conversation_notice? (turns dropped or not stored)`,
  required: REQUIRED,
});
export type ChatOutput = z.infer<typeof ChatOutput>;

export function toGenerationOutput(g: Generated): { output: GenerationOutput; empty: boolean } {
  const u = g.usage;
  const empty = !g.content && g.toolCalls.length === 0 && !g.images?.length;
  const output: GenerationOutput = {
    id: g.id,
    model: g.model,
    ...(g.provider ? { provider: g.provider } : {}),
    finish_reason: g.finishReason,
    ...(g.nativeFinishReason ? { native_finish_reason: g.nativeFinishReason } : {}),
    content: g.content,
    ...(g.reasoning ? { reasoning: g.reasoning } : {}),
    ...(g.refusal ? { refusal: g.refusal } : {}),
    ...(g.toolCalls.length ? { tool_calls: g.toolCalls } : {}),
    usage: {
      prompt_tokens: u?.prompt_tokens ?? 0,
      completion_tokens: u?.completion_tokens ?? 0,
      total_tokens: u?.total_tokens ?? 0,
      ...(u?.completion_tokens_details?.reasoning_tokens ? { reasoning_tokens: u.completion_tokens_details.reasoning_tokens } : {}),
      ...(u?.prompt_tokens_details?.cached_tokens ? { cached_tokens: u.prompt_tokens_details.cached_tokens } : {}),
      cost: u?.cost ?? null,
      ...(u?.is_byok !== undefined ? { is_byok: u.is_byok } : {}),
    },
  };
  const notice = noticeFor(g, empty);
  if (notice) output.notice = notice;
  return { output, empty };
}

function noticeFor(g: Generated, empty: boolean): string | undefined {
  const reason = g.finishReason;
  if (g.refusal && empty) return `The model refused: ${g.refusal}`;
  if (empty && g.reasoning && reason === 'length') {
    return 'The model spent its whole output budget on reasoning and wrote no answer (finish_reason "length"). Raise max_tokens or lower reasoning.effort.';
  }
  if (empty && reason === 'content_filter') return 'The provider\'s content filter blocked the answer (finish_reason "content_filter").';
  if (empty) return `The model returned an empty answer (finish_reason "${reason ?? 'none'}"). Try again, or try another model.`;
  if (reason === 'length') return 'The answer is cut off: it reached the max_tokens limit (finish_reason "length"). Raise max_tokens to get the rest.';
  if (reason === 'content_filter') return 'The provider\'s content filter stopped the answer part-way (finish_reason "content_filter").';
  if (reason === 'error') return 'The provider reported an error during generation; the answer may be incomplete (finish_reason "error").';
  return undefined;
}

/** `images`: what became of the images the model returned, when it returned any. */
export function presentGeneration(g: Generated, images?: PublishedImages): ToolOutcome<GenerationOutput> {
  const { output, empty } = toGenerationOutput(g);
  if (images) {
    output.images = images.links;
    if (images.notices.length) output.notice = [output.notice, ...images.notices].filter(Boolean).join(' ');
  }
  const main: string[] = [];
  if (output.notice) main.push(`⚠ ${output.notice}`);
  if (output.content) main.push(output.content);
  if (images?.links.length) main.push(linkLines(images.links).join('\n'));
  for (const call of output.tool_calls ?? []) main.push(`Tool call ${call.id}: ${call.function.name}(${call.function.arguments})`);
  const u = output.usage;
  const meta = [
    `model: ${output.model}`,
    ...(output.provider ? [`provider: ${output.provider}`] : []),
    `finish_reason: ${output.finish_reason ?? 'none'}`,
    `tokens: ${u.prompt_tokens} in / ${u.completion_tokens} out${u.reasoning_tokens ? ` (${u.reasoning_tokens} reasoning)` : ''}`,
    `cost: ${formatUsd(u.cost)}`,
    `id: ${output.id}`,
  ].join(' · ');
  return {
    structured: output,
    text: [main.join('\n\n') || '(no text)', meta],
    ...(images?.blocks.length ? { images: images.blocks } : {}),
    isError: empty,
    log: { model: output.model, provider: output.provider, finish_reason: output.finish_reason, prompt_tokens: u.prompt_tokens, completion_tokens: u.completion_tokens, cost: u.cost },
    usage: {
      model: output.model,
      ...(output.provider ? { provider: output.provider } : {}),
      ...(output.id ? { generationId: output.id } : {}),
      promptTokens: u.prompt_tokens,
      completionTokens: u.completion_tokens,
      ...(u.reasoning_tokens !== undefined ? { reasoningTokens: u.reasoning_tokens } : {}),
      ...(u.cached_tokens !== undefined ? { cachedTokens: u.cached_tokens } : {}),
      ...(u.cost !== null ? { costUsd: u.cost } : {}),
    },
  };
}
