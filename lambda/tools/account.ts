/** Account tools: what a generation finally cost, and how much of the key's credit is left. */
import * as z from 'zod';
import { formatUsd } from '../catalog/pricing.js';
import { describeBudget } from '../team/guard.js';
import { UpstreamError } from '../openrouter/errors.js';
import { advertiseAs } from './advertised.js';
import { READ_ONLY } from './context.js';
import { ToolInputError } from './run.js';
import { defineTool } from './tool.js';

// Module constants, not built per request: the JSON Schema the server advertises is cached per schema object.
export const GenerationInput = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_-]{1,200}$/, 'a generation id looks like "gen-…"').describe('Generation id.'),
});

export const KeyUsageInput = z.strictObject({});

// Upstream leaves out what it does not know, and so do these: an absent field is unknown (never a `null`).
export const GenerationStats = advertiseAs(z.object({
  id: z.string(),
  model: z.string().optional(),
  provider: z.string().optional(),
  created_at: z.string().optional(),
  total_cost: z.number().optional(),
  cache_discount: z.number().optional(),
  tokens_prompt: z.number().optional(),
  tokens_completion: z.number().optional(),
  native_tokens_prompt: z.number().optional(),
  native_tokens_completion: z.number().optional(),
  native_tokens_reasoning: z.number().optional(),
  latency_ms: z.number().optional(),
  generation_time_ms: z.number().optional(),
  finish_reason: z.string().optional(),
  streamed: z.boolean().optional(),
  cancelled: z.boolean().optional(),
  is_byok: z.boolean().optional(),
}), {
  type: 'object',
  description:
    'id, model, provider, created_at, total_cost (billed dollars), cache_discount, tokens_prompt, tokens_completion, ' +
    'native_tokens_prompt, native_tokens_completion, native_tokens_reasoning, latency_ms (to first token), ' +
    'generation_time_ms, finish_reason, streamed, cancelled, is_byok; unknown fields are left out',
  required: ['id'],
});
type GenerationStats = z.infer<typeof GenerationStats>;

const BudgetWindowOut = z.object({ spent_usd: z.number(), cap_usd: z.number().optional(), reserved_usd: z.number(), resets_at: z.string() });

export const KeyUsage = advertiseAs(z.object({
  limit: z.number().optional(),
  limit_remaining: z.number().optional(),
  limit_reset: z.string().optional(),
  usage: z.number().optional(),
  usage_daily: z.number().optional(),
  usage_weekly: z.number().optional(),
  usage_monthly: z.number().optional(),
  is_free_tier: z.boolean().optional(),
  expires_at: z.string().optional(),
  budget: z.record(z.enum(['daily', 'weekly', 'monthly']), BudgetWindowOut).optional(),
}), {
  type: 'object',
  description:
    'Dollars: limit (absent: no limit), limit_remaining, usage (all time), usage_daily, usage_weekly, usage_monthly; ' +
    'limit_reset (e.g. "monthly"), is_free_tier (no credits ever bought), expires_at; unknown fields are left out; ' +
    'budget: this server\'s caps, {daily,weekly,monthly}: {spent_usd, cap_usd (absent: none), reserved_usd, resets_at}',
});

/** `fields` without the ones upstream left out or sent as null. */
function known<T extends Record<string, unknown>>(fields: { [K in keyof T]: T[K] | null | undefined }): T {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== null && v !== undefined)) as T;
}

/** One line of what is known about a generation; unknown parts are left out rather than printed as "?". */
export function generationLine(g: GenerationStats): string {
  const route = g.model ? `${g.model}${g.provider ? ` via ${g.provider}` : ''}` : g.provider ? `via ${g.provider}` : undefined;
  const tokens = g.tokens_prompt !== undefined || g.tokens_completion !== undefined
    ? [g.tokens_prompt !== undefined ? `${g.tokens_prompt} in` : undefined, g.tokens_completion !== undefined ? `${g.tokens_completion} out` : undefined].filter(Boolean).join(' / ') + ' tokens'
    : undefined;
  const parts = [
    g.total_cost !== undefined ? formatUsd(g.total_cost) : 'cost not reported yet',
    route,
    tokens,
    g.latency_ms !== undefined ? `latency ${g.latency_ms} ms` : undefined,
    g.finish_reason !== undefined ? `finish_reason ${g.finish_reason}` : undefined,
  ];
  return `${g.id}: ${parts.filter((p) => p !== undefined).join(' · ')}`;
}

export const generationTool = defineTool({
  name: 'get_generation',
  title: 'Generation cost and stats',
  description:
    'A finished generation by its id ("gen-…", from the chat/completion tools): billed cost, native token counts, ' +
    'provider, latency, finish reason. Stats appear a few seconds after it ends.',
  input: GenerationInput,
  output: GenerationStats,
  annotations: READ_ONLY,
  paid: false,
  needsKey: true,
  run: async ({ id }, ctx, deps) => {
    let g;
    try {
      g = (await deps.openRouter.generation(id, ctx.mcpReq.signal)).data;
    } catch (err) {
      if (err instanceof UpstreamError && err.status === 404) {
        throw new ToolInputError(`No generation "${id}" for this key yet. Stats appear a few seconds after a generation ends; try again shortly.`);
      }
      throw err;
    }
    const structured = known<GenerationStats>({
      id: g.id,
      model: g.model,
      provider: g.provider_name,
      created_at: g.created_at,
      total_cost: g.total_cost ?? g.usage,
      cache_discount: g.cache_discount,
      tokens_prompt: g.tokens_prompt,
      tokens_completion: g.tokens_completion,
      native_tokens_prompt: g.native_tokens_prompt,
      native_tokens_completion: g.native_tokens_completion,
      native_tokens_reasoning: g.native_tokens_reasoning,
      latency_ms: g.latency,
      generation_time_ms: g.generation_time,
      finish_reason: g.finish_reason,
      streamed: g.streamed,
      cancelled: g.cancelled,
      is_byok: g.is_byok,
    });
    // The past generation's cost is not this call's spend (it was counted when that generation ran); where its
    // record has no cost (OpenRouter reported none then), this one fills it, in the background.
    if (deps.team && g.total_cost !== undefined && g.total_cost !== null) void deps.team.fillGenerationCost(deps.principal.userId, g.id, g.total_cost);
    return { structured, text: [generationLine(structured)], log: { cost: structured.total_cost } };
  },
});

export const keyUsageTool = defineTool({
  name: 'get_key_usage',
  title: 'OpenRouter credit and limits',
  description:
    'The connected OpenRouter key\'s spending (today, this week, this month, all time), its credit limit and what ' +
    'remains, and whether it is on the free tier. Use it before large jobs or after a 402 error.',
  input: KeyUsageInput,
  output: KeyUsage,
  annotations: READ_ONLY,
  paid: false,
  needsKey: true,
  run: async (_args, ctx, deps) => {
    // The server's own budget (its caps, this user's spend) is read beside the key's credit.
    const [key, budget] = await Promise.all([deps.openRouter.key(ctx.mcpReq.signal), deps.team?.budgetView(deps.principal.userId)]);
    const k = key.data;
    const structured = known<z.infer<typeof KeyUsage>>({
      limit: k.limit,
      limit_remaining: k.limit_remaining,
      limit_reset: k.limit_reset,
      usage: k.usage,
      usage_daily: k.usage_daily,
      usage_weekly: k.usage_weekly,
      usage_monthly: k.usage_monthly,
      is_free_tier: k.is_free_tier,
      expires_at: k.expires_at,
      budget,
    });
    const limit = structured.limit === undefined ? 'no credit limit' : `limit ${formatUsd(structured.limit)} (${formatUsd(structured.limit_remaining)} left${structured.limit_reset ? `, resets ${structured.limit_reset}` : ''})`;
    const text =
      `Spent ${formatUsd(structured.usage_daily)} today, ${formatUsd(structured.usage_weekly)} this week, ` +
      `${formatUsd(structured.usage_monthly)} this month, ${formatUsd(structured.usage)} in all · ${limit}` +
      (structured.is_free_tier ? ' · free tier' : '') +
      (budget ? `\n${describeBudget(budget)}` : '');
    return { structured, text: [text] };
  },
});
