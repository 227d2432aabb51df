/** Catalog tools: search the model list, and look at one model's providers and prices. */
import * as z from 'zod';
import { CatalogPage, CompactModel, SORTS, searchCatalog } from '../catalog/catalog.js';
import { formatUsd, perMillion } from '../catalog/pricing.js';
import { UpstreamError } from '../openrouter/errors.js';
import { advertiseAs } from './advertised.js';
import { READ_ONLY } from './context.js';
import { ModelId } from './params.js';
import { ToolInputError } from './run.js';
import { defineTool } from './tool.js';

export const ModelsInput = z.strictObject({
  query: z.string().max(200).optional().describe('Words in the id, name or description, e.g. "claude sonnet".'),
  input_modality: z.enum(['text', 'image', 'audio', 'file', 'video']).optional(),
  output_modality: z.enum(['text', 'image', 'audio', 'embeddings']).optional(),
  supported_parameters: z
    .array(z.string().regex(/^[a-z_]{1,40}$/))
    .max(10)
    .optional()
    .describe('All of these, e.g. ["tools", "reasoning"].'),
  max_prompt_price_per_m: z.number().min(0).optional(),
  max_completion_price_per_m: z.number().min(0).optional(),
  min_context_length: z.number().int().min(0).optional(),
  free_only: z.boolean().optional(),
  sort: z.enum(SORTS).optional().describe('Default: relevance with a query, else newest.'),
  limit: z.number().int().min(1).max(100).default(20),
  offset: z.number().int().min(0).default(0).describe('next_offset of the previous page.'),
  include_descriptions: z.boolean().default(false),
});

const EndpointOut = advertiseAs(z.object({
  provider: z.string(),
  tag: z.string().optional(),
  quantization: z.string().nullable(),
  context_length: z.number().nullable(),
  max_completion_tokens: z.number().nullable(),
  prompt_price_per_m: z.number().nullable(),
  completion_price_per_m: z.number().nullable(),
  uptime_last_30m: z.number().nullable().describe('Percent of successful requests in the last 30 minutes.'),
  supported_parameters: z.array(z.string()),
}), {
  type: 'object',
  description:
    'provider, tag?, quantization, context_length, max_completion_tokens, prompt_price_per_m, completion_price_per_m, ' +
    'uptime_last_30m (percent), supported_parameters; null: unknown',
});

// Each model record of a catalog page is named in one line in tools/list; every result carries the full records.
advertiseAs(CompactModel, {
  type: 'object',
  description:
    'id, name, context_length, max_completion_tokens, input_modalities, output_modalities, prompt_price_per_m, ' +
    'completion_price_per_m, request_price?, capabilities {tools, structured_outputs, reasoning, vision, free}, ' +
    'created (unix time), description?; null: unknown',
});

// Module constants, not built per request: the JSON Schema the server advertises is cached per schema object.
export const ModelDetailsInput = z.strictObject({ model: ModelId.describe('e.g. "anthropic/claude-sonnet-4.5".') });

export const ModelDetailsOutput = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string().optional(),
  input_modalities: z.array(z.string()),
  output_modalities: z.array(z.string()),
  endpoints: z.array(EndpointOut).describe('Providers serving this model, cheapest first.'),
});

/** A context window as both tools print it: "128k ctx". */
export function contextLabel(tokens: number | null | undefined): string {
  return tokens ? `${Math.round(tokens / 1000)}k ctx` : 'ctx n/a';
}

function modelLine(m: CompactModel): string {
  const caps = Object.entries(m.capabilities).filter(([, on]) => on).map(([name]) => name);
  const price = m.capabilities.free ? 'free' : `${formatUsd(m.prompt_price_per_m)}/${formatUsd(m.completion_price_per_m)} per 1M in/out`;
  return `- ${m.id} — ${m.name} · ${contextLabel(m.context_length)} · ${price}${caps.length ? ` · ${caps.join(', ')}` : ''}`;
}

export const modelsTool = defineTool({
  name: 'retrieve_available_models',
  title: 'Search OpenRouter models',
  description:
    'Search the OpenRouter model catalog by words, modality, supported parameters (e.g. tools, reasoning), price and ' +
    'context length; sorted, paged compact records. Prices are dollars per million tokens.',
  input: ModelsInput,
  output: CatalogPage,
  annotations: READ_ONLY,
  paid: false,
  // The catalog is public: it is read without the user's key.
  needsKey: false,
  run: async (args, ctx, deps) => {
    const all = await deps.catalog.get(() => deps.openRouter.models(ctx.mcpReq.signal));
    // Only what the operator's policy lets a user request.
    const team = deps.team;
    const models = team ? all.filter((m) => team.allows(m.id)) : all;
    const page = searchCatalog(models, args);
    const first = page.models.length ? page.offset + 1 : 0;
    const header = `${page.total} model(s) match; showing ${first}–${page.offset + page.models.length}` +
      (page.next_offset === null ? '.' : ` (next page: offset ${page.next_offset}).`);
    return { structured: page, text: [[header, ...page.models.map(modelLine)].join('\n')], log: { results: page.models.length } };
  },
});

export const modelDetailsTool = defineTool({
  name: 'get_model_details',
  title: 'Model details and providers',
  description:
    'One model\'s description, modalities and every provider endpoint serving it: context length, max output, ' +
    'quantization, prices, recent uptime, supported parameters. Use it to choose `provider` routing.',
  input: ModelDetailsInput,
  output: ModelDetailsOutput,
  annotations: READ_ONLY,
  paid: false,
  needsKey: true,
  run: async ({ model }, ctx, deps) => {
    if (deps.team && !deps.team.allows(model)) {
      throw new ToolInputError(`The operator's policy does not permit "${model}". Use retrieve_available_models to find a model you may use.`);
    }
    let list;
    try {
      list = await deps.openRouter.endpoints(model, ctx.mcpReq.signal);
    } catch (err) {
      if (err instanceof UpstreamError && err.status === 404) {
        throw new ToolInputError(`No model "${model}" on OpenRouter. Use retrieve_available_models to find a valid id.`);
      }
      throw err;
    }
    const d = list.data;
    const endpoints = d.endpoints
      .map((e) => ({
        provider: e.provider_name,
        ...(e.tag ? { tag: e.tag } : {}),
        quantization: e.quantization ?? null,
        context_length: e.context_length ?? null,
        max_completion_tokens: e.max_completion_tokens ?? null,
        prompt_price_per_m: perMillion(e.pricing.prompt),
        completion_price_per_m: perMillion(e.pricing.completion),
        uptime_last_30m: e.uptime_last_30m ?? null,
        supported_parameters: e.supported_parameters ?? [],
      }))
      .sort((a, b) => (a.prompt_price_per_m ?? Infinity) + (a.completion_price_per_m ?? Infinity) - ((b.prompt_price_per_m ?? Infinity) + (b.completion_price_per_m ?? Infinity)));
    const structured = {
      id: d.id,
      name: d.name || d.id,
      ...(d.description ? { description: d.description } : {}),
      input_modalities: d.architecture?.input_modalities ?? [],
      output_modalities: d.architecture?.output_modalities ?? [],
      endpoints,
    };
    const lines = [
      `${structured.name} (${structured.id})`,
      ...(d.description ? [d.description] : []),
      `Input: ${structured.input_modalities.join(', ') || 'n/a'} · Output: ${structured.output_modalities.join(', ') || 'n/a'}`,
      `${endpoints.length} provider endpoint(s):`,
      ...endpoints.map(
        (e) =>
          `- ${e.provider}${e.quantization ? ` (${e.quantization})` : ''} · ${contextLabel(e.context_length)} · ` +
          `${formatUsd(e.prompt_price_per_m)}/${formatUsd(e.completion_price_per_m)} per 1M in/out` +
          (e.uptime_last_30m === null ? '' : ` · uptime ${e.uptime_last_30m}%`),
      ),
    ];
    return { structured, text: [lines.join('\n')], log: { model } };
  },
});
