/**
 * zod schemas for the OpenRouter request parameters the tools accept. Field names are OpenRouter's own
 * (snake_case) so validated arguments pass through to the request body unchanged; objects are strict so a
 * misspelled parameter is an error instead of being silently dropped.
 */
import * as z from 'zod';
import { decimalString } from '../catalog/pricing.js';
import { MAX_JSON_DEPTH, jsonDepthWithin } from '../http/json-depth.js';
import { advertiseAs } from './advertised.js';

/*
 * `advertiseAs(schema, json)` (see advertised.ts): what tools/list shows for a nested object instead of its full
 * expansion — its fields named in one line. Validation is still the zod schema's, all of it.
 */

export const ModelId = advertiseAs(z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:/@~-]*$/, 'a model id looks like "openai/gpt-4o" or "meta-llama/llama-3.1-8b-instruct:free"')
  // Ids become URL path segments (model details): no empty, "." or ".." segments that would change the path.
  .refine((id) => id.split('/').every((segment) => segment !== '' && segment !== '.' && segment !== '..'), 'a model id has no empty, "." or ".." path segments'),
{ type: 'string' });

export const SamplingParams = {
  // The well-known sampling parameters go without a description: their names and bounds say it all.
  temperature: z.number().min(0).max(2).optional(),
  max_tokens: z.number().int().min(1).max(1_000_000).optional(),
  top_p: z.number().min(0).max(1).optional(),
  top_k: z.number().int().min(0).optional().describe('0 disables.'),
  min_p: z.number().min(0).max(1).optional(),
  top_a: z.number().min(0).max(1).optional(),
  frequency_penalty: z.number().min(-2).max(2).optional(),
  presence_penalty: z.number().min(-2).max(2).optional(),
  repetition_penalty: z.number().min(0).max(2).optional().describe('1 means none.'),
  seed: z.number().int().optional(),
  stop: z.union([z.string().max(500), z.array(z.string().max(500)).max(4)]).optional(),
  logit_bias: advertiseAs(z.record(z.string().regex(/^\d+$/, 'logit_bias keys are token ids'), z.number().min(-100).max(100)), { type: 'object' })
    .optional()
    .describe('Token id -> bias, -100 to 100.'),
};

/** OpenRouter takes max prices as decimal strings; a number is accepted too and sent as a string. */
const Price = z
  .union([z.number().min(0).max(1_000_000), z.string().regex(/^\d+(\.\d+)?$/, 'a price is a decimal number of dollars')])
  .transform((v) => (typeof v === 'number' ? decimalString(v) : v));

const ProviderSortName = z.enum(['price', 'throughput', 'latency', 'exacto']);

const PercentileThresholds = z.union([
  z.number().min(0),
  z.strictObject({ p50: z.number().min(0).optional(), p75: z.number().min(0).optional(), p90: z.number().min(0).optional(), p99: z.number().min(0).optional() }),
]);

export const ProviderPreferences = advertiseAs(z
  .strictObject({
    order: z.array(z.string().max(100)).max(50).optional().describe('Providers to try in this order (slugs such as "openai", "anthropic", "together").'),
    only: z.array(z.string().max(100)).max(50).optional().describe('Allow only these providers.'),
    ignore: z.array(z.string().max(100)).max(50).optional().describe('Never use these providers.'),
    allow_fallbacks: z.boolean().optional().describe('Allow other providers when the preferred ones fail (default true).'),
    require_parameters: z.boolean().optional().describe('Use only providers that support every parameter in the request.'),
    data_collection: z.enum(['allow', 'deny']).optional().describe('"deny" excludes providers that may store or train on data.'),
    zdr: z.boolean().optional().describe('Use only zero-data-retention endpoints.'),
    enforce_distillable_text: z.boolean().optional().describe('Use only models whose output may be used for distillation.'),
    quantizations: z
      .array(z.enum(['int4', 'int8', 'fp4', 'mxfp4', 'nvfp4', 'fp6', 'fp8', 'mxfp8', 'fp16', 'bf16', 'fp32', 'unknown']))
      .optional()
      .describe('Allowed quantization levels.'),
    sort: z
      .union([
        ProviderSortName,
        z.strictObject({ by: ProviderSortName.optional(), partition: z.enum(['model', 'none']).optional() }),
      ])
      .optional()
      .describe('Sort providers by price, throughput or latency instead of load balancing.'),
    max_price: z
      .strictObject({
        prompt: Price.optional().describe('Dollars per million prompt tokens.'),
        completion: Price.optional().describe('Dollars per million completion tokens.'),
        request: Price.optional().describe('Dollars per request.'),
        image: Price.optional().describe('Dollars per image.'),
        audio: Price.optional().describe('Dollars per audio unit.'),
      })
      .optional()
      .describe('Highest acceptable prices; providers above them are skipped.'),
    preferred_min_throughput: PercentileThresholds.optional().describe('Preferred minimum tokens/second (number or percentile object).'),
    preferred_max_latency: PercentileThresholds.optional().describe('Preferred maximum latency in seconds (number or percentile object).'),
  })
  .describe('OpenRouter provider routing preferences.'),
{
  type: 'object',
  description:
    'Routing: order, only, ignore (slugs like "openai"), allow_fallbacks, require_parameters, zdr, ' +
    'enforce_distillable_text, data_collection (allow|deny), quantizations, sort (price|throughput|latency), max_price ' +
    '{prompt, completion ($/M tokens), request, image, audio}, preferred_min_throughput, preferred_max_latency',
});

const ImageDetail = z.enum(['auto', 'low', 'high', 'original']);

export const ContentPart = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('text'), text: z.string() }),
  z.strictObject({
    type: z.literal('image_url'),
    image_url: z.strictObject({ url: z.string().min(1).describe('https URL or data: URL of the image.'), detail: ImageDetail.optional() }),
  }),
  z.strictObject({
    type: z.literal('file'),
    file: z.strictObject({ filename: z.string().max(255).optional(), file_data: z.string().min(1).describe('URL or base64 data: URL (e.g. a PDF).') }),
  }),
  z.strictObject({
    type: z.literal('input_audio'),
    input_audio: z.strictObject({ data: z.string().min(1).describe('Base64 audio.'), format: z.string().min(1).max(20) }),
  }),
]);

const TextOnlyContent = z.union([z.string(), z.array(z.strictObject({ type: z.literal('text'), text: z.string() })).min(1)]);
const RichContent = z.union([z.string(), z.array(ContentPart).min(1)]);

export const ToolCallInput = z.strictObject({
  id: z.string().min(1).max(200),
  type: z.literal('function'),
  function: z.strictObject({ name: z.string().min(1).max(64), arguments: z.string().describe('JSON-encoded arguments.') }),
});

const Name = z.string().min(1).max(64).optional();

export const Message = advertiseAs(z.discriminatedUnion('role', [
  z.strictObject({ role: z.literal('system'), content: TextOnlyContent, name: Name }),
  z.strictObject({ role: z.literal('developer'), content: TextOnlyContent, name: Name }),
  z.strictObject({ role: z.literal('user'), content: RichContent, name: Name }),
  z.strictObject({
    role: z.literal('assistant'),
    content: z.union([z.string(), z.array(ContentPart), z.null()]).optional(),
    name: Name,
    tool_calls: z.array(ToolCallInput).max(128).optional(),
    reasoning: z.string().nullable().optional().describe('Reasoning returned by an earlier turn, passed back for continuity.'),
  }),
  z.strictObject({ role: z.literal('tool'), content: RichContent, tool_call_id: z.string().min(1).max(200) }),
]), {
  type: 'object',
  description:
    'content: a string or parts: {type:"text",text}; for user/tool also image_url:{url,detail?}, file:{filename?,file_data}, ' +
    'input_audio:{data,format}. name?; assistant: tool_calls?, reasoning?; tool: tool_call_id.',
  properties: {
    role: { type: 'string', enum: ['system', 'developer', 'user', 'assistant', 'tool'] },
    content: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'object' } }, { type: 'null' }] },
    tool_call_id: { type: 'string' },
  },
  required: ['role'],
});

// Free-form JSON is bounded in depth: a value nested 100,000 deep parses, but serialising it upstream throws.
const JsonObject = z
  .record(z.string(), z.unknown())
  .refine((value) => jsonDepthWithin(value, MAX_JSON_DEPTH), `nested more than ${MAX_JSON_DEPTH} levels deep; flatten it (a JSON Schema rarely needs more than a few levels)`);

export const FunctionTool = advertiseAs(z.strictObject({
  type: z.literal('function'),
  function: z.strictObject({
    name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'function names use a-z, A-Z, 0-9, _ and -, up to 64 characters'),
    description: z.string().max(4096).optional(),
    parameters: JsonObject.optional().describe('JSON Schema of the arguments.'),
    strict: z.boolean().nullable().optional(),
  }),
}), {
  type: 'object',
  description: 'A function the model may call: {type:"function", function:{name, description?, parameters (JSON Schema)?, strict?}}',
  required: ['type', 'function'],
});

export const ToolChoice = advertiseAs(z.union([
  z.enum(['none', 'auto', 'required']),
  z.strictObject({ type: z.literal('function'), function: z.strictObject({ name: z.string().min(1).max(64) }) }),
]), {
  anyOf: [{ type: 'string', enum: ['none', 'auto', 'required'] }, { type: 'object', description: '{type:"function", function:{name}}' }],
});

export const ResponseFormat = advertiseAs(z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('text') }),
  z.strictObject({ type: z.literal('json_object') }),
  z.strictObject({
    type: z.literal('json_schema'),
    json_schema: z.strictObject({
      name: z.string().min(1).max(64),
      description: z.string().max(4096).optional(),
      schema: JsonObject.optional(),
      strict: z.boolean().nullable().optional(),
    }),
  }),
]), {
  type: 'object',
  description: 'JSON output: {type:"json_object"}, or {type:"json_schema", json_schema:{name, schema, strict?}} (structured outputs)',
  required: ['type'],
});

export const Reasoning = advertiseAs(z
  .strictObject({
    effort: z.enum(['max', 'xhigh', 'high', 'medium', 'low', 'minimal', 'none']).optional().describe('How hard a reasoning model should think.'),
    summary: z.enum(['auto', 'concise', 'detailed']).optional().describe('Reasoning summary verbosity, where supported.'),
  })
  .describe('Reasoning settings for reasoning models.'),
{
  type: 'object',
  description: 'effort (max|xhigh|high|medium|low|minimal|none), summary (auto|concise|detailed)',
});

const Enabled = z.boolean().optional();

export const Plugin = advertiseAs(z.discriminatedUnion('id', [
  z.strictObject({
    id: z.literal('web'),
    enabled: Enabled,
    max_results: z.number().int().min(1).max(25).optional(),
    search_prompt: z.string().max(2000).optional(),
    include_domains: z.array(z.string().max(255)).max(50).optional(),
    exclude_domains: z.array(z.string().max(255)).max(50).optional(),
  }),
  z.strictObject({ id: z.literal('file-parser'), enabled: Enabled, pdf: z.strictObject({ engine: z.enum(['mistral-ocr', 'pdf-text', 'native', 'cloudflare-ai']).optional() }).optional() }),
  z.strictObject({ id: z.literal('response-healing'), enabled: Enabled }),
  z.strictObject({ id: z.literal('moderation') }),
  z.strictObject({ id: z.literal('context-compression'), enabled: Enabled, engine: z.literal('middle-out').optional() }),
]), {
  type: 'object',
  description:
    '{id:"web", max_results?, search_prompt?, include_domains?, exclude_domains?}, {id:"file-parser", pdf?:{engine}}, ' +
    '{id:"response-healing"}, {id:"moderation"} or {id:"context-compression"}; all but moderation take enabled?',
  required: ['id'],
});

export const ChatParams = {
  model: ModelId.optional().describe('e.g. "openai/gpt-4o"; omit for the account default.'),
  models: z.array(ModelId).min(1).max(10).optional().describe('Fallbacks, tried in order.'),
  messages: z.array(Message).min(1).max(2000),
  ...SamplingParams,
  logprobs: z.boolean().optional(),
  top_logprobs: z.number().int().min(0).max(20).optional(),
  response_format: ResponseFormat.optional(),
  tools: z.array(FunctionTool).max(128).optional(),
  tool_choice: ToolChoice.optional(),
  parallel_tool_calls: z.boolean().optional(),
  provider: ProviderPreferences.optional(),
  reasoning: Reasoning.optional(),
  plugins: z.array(Plugin).max(10).optional(),
  modalities: z.array(z.enum(['text', 'image'])).min(1).max(2).optional().describe('["image","text"]: an image model returns images (not streamed).'),
  user: z.string().max(256).optional(),
};
