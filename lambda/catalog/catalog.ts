/**
 * The compact, searchable model catalog: pure mapping, filtering, sorting and paging over OpenRouter's
 * `/models` list, plus a process-wide TTL cache (the catalog is public and identical for every user).
 */
import * as z from 'zod';
import type { Model } from '../openrouter/schemas.js';
import { flatPrice, perMillion } from './pricing.js';

export const CompactModel = z.object({
  id: z.string(),
  name: z.string(),
  context_length: z.number().nullable(),
  max_completion_tokens: z.number().nullable(),
  input_modalities: z.array(z.string()),
  output_modalities: z.array(z.string()),
  prompt_price_per_m: z.number().nullable().describe('Dollars per million prompt tokens (null: variable or unknown).'),
  completion_price_per_m: z.number().nullable().describe('Dollars per million completion tokens.'),
  request_price: z.number().optional().describe('Dollars per request, when the model charges one.'),
  capabilities: z.object({
    tools: z.boolean(),
    structured_outputs: z.boolean(),
    reasoning: z.boolean(),
    vision: z.boolean(),
    free: z.boolean(),
  }),
  created: z.number().nullable().describe('Unix time the model was added.'),
  description: z.string().optional(),
});
export type CompactModel = z.infer<typeof CompactModel>;

export const CatalogPage = z.object({
  total: z.number(),
  offset: z.number(),
  limit: z.number(),
  next_offset: z.number().nullable().describe('The next page\'s offset; null on the last page.'),
  models: z.array(CompactModel),
});
export type CatalogPage = z.infer<typeof CatalogPage>;

export const SORTS = ['relevance', 'newest', 'price_asc', 'price_desc', 'context_desc', 'name'] as const;
export type CatalogSort = (typeof SORTS)[number];

export interface CatalogQuery {
  query?: string;
  input_modality?: string;
  output_modality?: string;
  supported_parameters?: string[];
  max_prompt_price_per_m?: number;
  max_completion_price_per_m?: number;
  min_context_length?: number;
  free_only?: boolean;
  sort?: CatalogSort;
  offset: number;
  limit: number;
  include_descriptions?: boolean;
}

export function toCompact(m: Model, withDescription = false): CompactModel {
  const params = m.supported_parameters ?? [];
  const prompt = perMillion(m.pricing.prompt);
  const completion = perMillion(m.pricing.completion);
  const request = flatPrice(m.pricing.request);
  return {
    id: m.id,
    name: m.name || m.id,
    context_length: m.context_length ?? m.top_provider?.context_length ?? null,
    max_completion_tokens: m.top_provider?.max_completion_tokens ?? null,
    input_modalities: m.architecture.input_modalities,
    output_modalities: m.architecture.output_modalities,
    prompt_price_per_m: prompt,
    completion_price_per_m: completion,
    ...(request ? { request_price: request } : {}),
    capabilities: {
      tools: params.includes('tools'),
      structured_outputs: params.includes('structured_outputs') || params.includes('response_format'),
      reasoning: params.includes('reasoning') || params.includes('include_reasoning'),
      vision: m.architecture.input_modalities.includes('image'),
      free: prompt === 0 && completion === 0 && !request,
    },
    created: m.created ?? null,
    ...(withDescription && m.description ? { description: m.description } : {}),
  };
}

function words(text: string): string[] {
  return text.toLowerCase().split(/[^a-z0-9.]+/).filter(Boolean);
}

/** Every query word must appear in the id, name or description; id and name hits rank above description hits. */
export function relevance(m: Model, queryWords: string[]): number {
  const id = m.id.toLowerCase();
  const name = m.name.toLowerCase();
  const description = (m.description ?? '').toLowerCase();
  let score = 0;
  for (const w of queryWords) {
    if (id.includes(w)) score += 3;
    else if (name.includes(w)) score += 2;
    else if (description.includes(w)) score += 1;
    else return 0;
  }
  return score;
}

export function searchCatalog(models: readonly Model[], q: CatalogQuery): CatalogPage {
  const queryWords = q.query ? words(q.query) : [];
  const scored: { model: Model; compact: CompactModel; score: number }[] = [];
  for (const model of models) {
    const score = queryWords.length ? relevance(model, queryWords) : 1;
    if (score === 0) continue;
    const compact = toCompact(model, q.include_descriptions);
    if (!matches(model, compact, q)) continue;
    scored.push({ model, compact, score });
  }
  const sort = q.sort ?? (queryWords.length ? 'relevance' : 'newest');
  scored.sort(comparator(sort));
  const page = scored.slice(q.offset, q.offset + q.limit).map((s) => s.compact);
  const next = q.offset + page.length;
  return { total: scored.length, offset: q.offset, limit: q.limit, next_offset: next < scored.length ? next : null, models: page };
}

function matches(model: Model, c: CompactModel, q: CatalogQuery): boolean {
  if (q.input_modality && !c.input_modalities.includes(q.input_modality)) return false;
  if (q.output_modality && !c.output_modalities.includes(q.output_modality)) return false;
  const params = model.supported_parameters ?? [];
  if (q.supported_parameters?.some((p) => !params.includes(p))) return false;
  if (q.free_only && !c.capabilities.free) return false;
  if (q.max_prompt_price_per_m !== undefined && (c.prompt_price_per_m === null || c.prompt_price_per_m > q.max_prompt_price_per_m)) return false;
  if (q.max_completion_price_per_m !== undefined && (c.completion_price_per_m === null || c.completion_price_per_m > q.max_completion_price_per_m)) return false;
  if (q.min_context_length !== undefined && (c.context_length ?? 0) < q.min_context_length) return false;
  return true;
}

type Scored = { compact: CompactModel; score: number };

// Built on first use, like pricing.ts's number format: the first Intl object loads ICU data, which a cold start
// that never sorts the catalog (tools/list, authentication) should not pay.
let collator: Intl.Collator | undefined;

/** Natural order: numbers inside ids and names compare as numbers ("model-2" before "model-10"); ties by code unit. */
export function naturalCompare(a: string, b: string): number {
  collator ??= new Intl.Collator('en', { numeric: true });
  return collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

function comparator(sort: CatalogSort): (a: Scored, b: Scored) => number {
  const price = (c: CompactModel) => (c.prompt_price_per_m ?? Infinity) + (c.completion_price_per_m ?? Infinity);
  const byId = (a: Scored, b: Scored) => naturalCompare(a.compact.id, b.compact.id);
  switch (sort) {
    case 'relevance':
      return (a, b) => b.score - a.score || (b.compact.created ?? 0) - (a.compact.created ?? 0) || byId(a, b);
    case 'newest':
      return (a, b) => (b.compact.created ?? 0) - (a.compact.created ?? 0) || byId(a, b);
    case 'price_asc':
      return (a, b) => price(a.compact) - price(b.compact) || byId(a, b);
    case 'price_desc':
      // Unknown prices sort last in both directions.
      return (a, b) => {
        const pa = price(a.compact), pb = price(b.compact);
        if (pa === Infinity || pb === Infinity) return pa === pb ? byId(a, b) : pa === Infinity ? 1 : -1;
        return pb - pa || byId(a, b);
      };
    case 'context_desc':
      return (a, b) => (b.compact.context_length ?? 0) - (a.compact.context_length ?? 0) || byId(a, b);
    case 'name':
      return (a, b) => naturalCompare(a.compact.name, b.compact.name) || byId(a, b);
  }
}

/**
 * Process-wide catalog cache: one fetch serves every user for `ttlMs`; concurrent misses share one fetch.
 * Staleness: at most `ttlMs` behind OpenRouter; a failed refresh keeps serving the previous copy for up to
 * `staleOnErrorMs` more.
 */
export class CatalogCache {
  private value: { models: Model[]; fetchedAt: number } | undefined;
  private inflight: Promise<Model[]> | undefined;

  constructor(
    private readonly ttlMs = 10 * 60_000,
    private readonly staleOnErrorMs = 60 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  async get(fetcher: () => Promise<Model[]>): Promise<Model[]> {
    const cached = this.value;
    if (cached && this.now() - cached.fetchedAt < this.ttlMs) return cached.models;
    this.inflight ??= fetcher()
      .then((models) => {
        this.value = { models, fetchedAt: this.now() };
        return models;
      })
      .catch((err: unknown) => {
        if (cached && this.now() - cached.fetchedAt < this.ttlMs + this.staleOnErrorMs) return cached.models;
        throw err;
      })
      .finally(() => {
        this.inflight = undefined;
      });
    return this.inflight;
  }
}
