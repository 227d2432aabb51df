/**
 * What we read from OpenRouter responses. Only the fields the tools use are parsed; everything else is
 * dropped so that an upstream shape change in an unused field can never break a call.
 */
import * as z from 'zod';

export const UpstreamErrorBody = z.object({
  error: z.object({
    code: z.union([z.number(), z.string()]).optional(),
    message: z.string().optional(),
    metadata: z.record(z.string(), z.unknown()).nullish(),
  }),
});

export const ToolCall = z.object({
  id: z.string(),
  type: z.literal('function').default('function'),
  function: z.object({ name: z.string(), arguments: z.string().default('') }),
});
export type ToolCall = z.infer<typeof ToolCall>;

export const Usage = z.object({
  prompt_tokens: z.number().default(0),
  completion_tokens: z.number().default(0),
  total_tokens: z.number().default(0),
  cost: z.number().nullish(),
  is_byok: z.boolean().optional(),
  prompt_tokens_details: z.object({ cached_tokens: z.number().nullish() }).nullish(),
  completion_tokens_details: z.object({ reasoning_tokens: z.number().nullish() }).nullish(),
});
export type Usage = z.infer<typeof Usage>;

const FinishReason = z.string().nullish();

/** Assistant content may come back as a string or as content parts; we keep the text parts. */
const AssistantContent = z
  .union([z.string(), z.array(z.object({ type: z.string(), text: z.string().optional() })), z.null()])
  .optional()
  .transform((c) => (Array.isArray(c) ? c.map((p) => p.text ?? '').join('') : (c ?? '')));

/** More images than any model returns for one answer means something is wrong upstream: refuse, do not store them all. */
export const MAX_IMAGES_PER_ANSWER = 16;

export const ChatResult = z.object({
  id: z.string(),
  model: z.string(),
  provider: z.string().optional(),
  choices: z
    .array(
      z.object({
        finish_reason: FinishReason,
        native_finish_reason: z.string().nullish(),
        message: z.object({
          content: AssistantContent,
          reasoning: z.string().nullish(),
          refusal: z.string().nullish(),
          tool_calls: z.array(ToolCall).nullish(),
          // Image models answering a request with `modalities: ["image", …]`: data URLs (or links).
          images: z.array(z.object({ image_url: z.object({ url: z.string() }) })).max(MAX_IMAGES_PER_ANSWER).nullish(),
        }),
      }),
    )
    .min(1),
  usage: Usage.optional(),
});
export type ChatResult = z.infer<typeof ChatResult>;

export const ChatChunk = z.object({
  id: z.string().optional(),
  model: z.string().optional(),
  provider: z.string().optional(),
  choices: z
    .array(
      z.object({
        delta: z
          .object({
            content: z.string().nullish(),
            reasoning: z.string().nullish(),
            refusal: z.string().nullish(),
            tool_calls: z
              .array(
                z.object({
                  index: z.number(),
                  id: z.string().optional(),
                  function: z.object({ name: z.string().optional(), arguments: z.string().optional() }).optional(),
                }),
              )
              .nullish(),
          })
          .nullish(),
        text: z.string().nullish(),
        finish_reason: FinishReason,
        native_finish_reason: z.string().nullish(),
      }),
    )
    .default([]),
  usage: Usage.nullish(),
  error: z.object({ code: z.union([z.number(), z.string()]).optional(), message: z.string().optional() }).optional(),
});
export type ChatChunk = z.infer<typeof ChatChunk>;

/** Legacy completions answer with `choices[].text`; read into the chat result's shape so one path presents both. */
export const CompletionResult = z.object({
  id: z.string(),
  model: z.string(),
  provider: z.string().optional(),
  choices: z
    .array(
      z
        .object({ text: z.string().nullish(), finish_reason: FinishReason, native_finish_reason: z.string().nullish() })
        .transform(({ text, finish_reason, native_finish_reason }) => ({
          finish_reason,
          native_finish_reason,
          message: { content: text ?? '', reasoning: undefined, refusal: undefined, tool_calls: undefined, images: undefined },
        })),
    )
    .min(1),
  usage: Usage.optional(),
});
export type CompletionResult = z.infer<typeof CompletionResult>;

/** `POST /images`: base64 images (media_type when known) and the usage with its cost. It carries no generation id. */
export const ImageResult = z.object({
  created: z.number().optional(),
  data: z.array(z.object({ b64_json: z.string(), media_type: z.string().nullish() })).max(MAX_IMAGES_PER_ANSWER),
  usage: Usage.nullish(),
});
export type ImageResult = z.infer<typeof ImageResult>;

/** Prices are decimal strings per token (or per request/image); "-1" marks a variable-price router. */
const Price = z.union([z.string(), z.number()]).nullish();

export const Pricing = z.object({
  prompt: Price,
  completion: Price,
  request: Price,
  image: Price,
  web_search: Price,
  internal_reasoning: Price,
  input_cache_read: Price,
  input_cache_write: Price,
});
export type Pricing = z.infer<typeof Pricing>;

const Architecture = z.object({
  input_modalities: z.array(z.string()).default([]),
  output_modalities: z.array(z.string()).default([]),
});

export const Model = z.object({
  id: z.string(),
  name: z.string().default(''),
  description: z.string().nullish(),
  created: z.number().nullish(),
  context_length: z.number().nullish(),
  architecture: Architecture.default({ input_modalities: [], output_modalities: [] }),
  pricing: Pricing.default({}),
  top_provider: z
    .object({ context_length: z.number().nullish(), max_completion_tokens: z.number().nullish(), is_moderated: z.boolean().nullish() })
    .nullish(),
  supported_parameters: z.array(z.string()).nullish(),
  expiration_date: z.string().nullish(),
});
export type Model = z.infer<typeof Model>;

export const ModelList = z.object({ data: z.array(z.unknown()) });

export const Endpoint = z.object({
  name: z.string().nullish(),
  provider_name: z.string(),
  tag: z.string().nullish(),
  context_length: z.number().nullish(),
  max_completion_tokens: z.number().nullish(),
  max_prompt_tokens: z.number().nullish(),
  quantization: z.string().nullish(),
  pricing: Pricing.default({}),
  supported_parameters: z.array(z.string()).nullish(),
  status: z.number().nullish(),
  uptime_last_30m: z.number().nullish(),
  latency_last_30m: z.unknown().optional(),
  throughput_last_30m: z.unknown().optional(),
  supports_implicit_caching: z.boolean().nullish(),
});
export type Endpoint = z.infer<typeof Endpoint>;

export const EndpointList = z.object({
  data: z.object({
    id: z.string(),
    name: z.string().default(''),
    description: z.string().nullish(),
    created: z.number().nullish(),
    architecture: Architecture.nullish(),
    endpoints: z.array(Endpoint),
  }),
});
export type EndpointList = z.infer<typeof EndpointList>;

export const Generation = z.object({
  data: z.object({
    id: z.string(),
    model: z.string().nullish(),
    provider_name: z.string().nullish(),
    created_at: z.string().nullish(),
    total_cost: z.number().nullish(),
    usage: z.number().nullish(),
    upstream_inference_cost: z.number().nullish(),
    cache_discount: z.number().nullish(),
    tokens_prompt: z.number().nullish(),
    tokens_completion: z.number().nullish(),
    native_tokens_prompt: z.number().nullish(),
    native_tokens_completion: z.number().nullish(),
    native_tokens_reasoning: z.number().nullish(),
    native_tokens_cached: z.number().nullish(),
    latency: z.number().nullish(),
    generation_time: z.number().nullish(),
    finish_reason: z.string().nullish(),
    native_finish_reason: z.string().nullish(),
    streamed: z.boolean().nullish(),
    cancelled: z.boolean().nullish(),
    is_byok: z.boolean().nullish(),
  }),
});
export type Generation = z.infer<typeof Generation>;

export const KeyInfo = z.object({
  data: z.object({
    limit: z.number().nullish(),
    limit_remaining: z.number().nullish(),
    limit_reset: z.string().nullish(),
    usage: z.number().nullish(),
    usage_daily: z.number().nullish(),
    usage_weekly: z.number().nullish(),
    usage_monthly: z.number().nullish(),
    byok_usage: z.number().nullish(),
    is_free_tier: z.boolean().nullish(),
    expires_at: z.string().nullish(),
  }),
});
export type KeyInfo = z.infer<typeof KeyInfo>;
