/** Account tools: what a generation finally cost, and how much of the key's credit is left. */
import type { McpServer } from '@modelcontextprotocol/server';
import * as z from 'zod';
import { formatUsd } from '../catalog/pricing.js';
import { UpstreamError } from '../openrouter/errors.js';
import { READ_ONLY, type ToolDeps } from './context.js';
import { ToolInputError, runTool } from './run.js';

// Module constants, not built per request: the JSON Schema the server advertises is cached per schema object.
export const GenerationInput = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_-]{1,200}$/, 'a generation id looks like "gen-…"').describe('Generation id.'),
});

export const KeyUsageInput = z.strictObject({});

export const GenerationStats = z.object({
  id: z.string(),
  model: z.string().nullable(),
  provider: z.string().nullable(),
  created_at: z.string().nullable(),
  total_cost: z.number().nullable().describe('Final billed cost in dollars.'),
  cache_discount: z.number().nullable(),
  tokens_prompt: z.number().nullable(),
  tokens_completion: z.number().nullable(),
  native_tokens_prompt: z.number().nullable(),
  native_tokens_completion: z.number().nullable(),
  native_tokens_reasoning: z.number().nullable(),
  latency_ms: z.number().nullable().describe('Time to first token.'),
  generation_time_ms: z.number().nullable(),
  finish_reason: z.string().nullable(),
  streamed: z.boolean().nullable(),
  cancelled: z.boolean().nullable(),
  is_byok: z.boolean().nullable(),
});

export const KeyUsage = z.object({
  limit: z.number().nullable().describe('Credit limit in dollars (null: no limit).'),
  limit_remaining: z.number().nullable(),
  limit_reset: z.string().nullable().describe('How often the limit resets (e.g. "monthly"), if it does.'),
  usage: z.number().nullable().describe('Dollars spent with this key, all time.'),
  usage_daily: z.number().nullable(),
  usage_weekly: z.number().nullable(),
  usage_monthly: z.number().nullable(),
  is_free_tier: z.boolean().nullable().describe('True until credits have ever been purchased.'),
  expires_at: z.string().nullable(),
});

export function registerAccountTools(server: McpServer, deps: ToolDeps): void {
  server.registerTool(
    'get_generation',
    {
      title: 'Generation cost and stats',
      description:
        'Look up a finished generation by its id (the `id` returned by the chat/completion tools, "gen-…"): exact billed ' +
        'cost, native token counts, provider, latency and finish reason. Stats can take a few seconds to appear.',
      inputSchema: GenerationInput,
      outputSchema: GenerationStats,
      annotations: { title: 'Generation cost and stats', ...READ_ONLY },
    },
    ({ id }, ctx) =>
      runTool('get_generation', deps, async () => {
        let g;
        try {
          g = (await deps.openRouter.generation(id, ctx.mcpReq.signal)).data;
        } catch (err) {
          if (err instanceof UpstreamError && err.status === 404) {
            throw new ToolInputError(`No generation "${id}" for this key yet. Stats appear a few seconds after a generation ends; try again shortly.`);
          }
          throw err;
        }
        const structured = {
          id: g.id,
          model: g.model ?? null,
          provider: g.provider_name ?? null,
          created_at: g.created_at ?? null,
          total_cost: g.total_cost ?? g.usage ?? null,
          cache_discount: g.cache_discount ?? null,
          tokens_prompt: g.tokens_prompt ?? null,
          tokens_completion: g.tokens_completion ?? null,
          native_tokens_prompt: g.native_tokens_prompt ?? null,
          native_tokens_completion: g.native_tokens_completion ?? null,
          native_tokens_reasoning: g.native_tokens_reasoning ?? null,
          latency_ms: g.latency ?? null,
          generation_time_ms: g.generation_time ?? null,
          finish_reason: g.finish_reason ?? null,
          streamed: g.streamed ?? null,
          cancelled: g.cancelled ?? null,
          is_byok: g.is_byok ?? null,
        };
        const text =
          `${structured.id}: ${formatUsd(structured.total_cost)} · ${structured.model ?? '?'} via ${structured.provider ?? '?'} · ` +
          `${structured.tokens_prompt ?? '?'} in / ${structured.tokens_completion ?? '?'} out tokens · ` +
          `latency ${structured.latency_ms ?? '?'} ms · finish_reason ${structured.finish_reason ?? 'n/a'}`;
        return { structured, text: [text], log: { cost: structured.total_cost } };
      }),
  );

  server.registerTool(
    'get_key_usage',
    {
      title: 'OpenRouter credit and limits',
      description:
        'Show the connected OpenRouter key\'s spending: usage today, this week, this month and overall, its credit limit ' +
        'and what remains, and whether it is on the free tier. Use it before large jobs or after a 402 error.',
      inputSchema: KeyUsageInput,
      outputSchema: KeyUsage,
      annotations: { title: 'OpenRouter credit and limits', ...READ_ONLY },
    },
    (_args, ctx) =>
      runTool('get_key_usage', deps, async () => {
        const k = (await deps.openRouter.key(ctx.mcpReq.signal)).data;
        const structured = {
          limit: k.limit ?? null,
          limit_remaining: k.limit_remaining ?? null,
          limit_reset: k.limit_reset ?? null,
          usage: k.usage ?? null,
          usage_daily: k.usage_daily ?? null,
          usage_weekly: k.usage_weekly ?? null,
          usage_monthly: k.usage_monthly ?? null,
          is_free_tier: k.is_free_tier ?? null,
          expires_at: k.expires_at ?? null,
        };
        const limit = structured.limit === null ? 'no credit limit' : `limit ${formatUsd(structured.limit)} (${formatUsd(structured.limit_remaining)} left${structured.limit_reset ? `, resets ${structured.limit_reset}` : ''})`;
        const text =
          `Spent ${formatUsd(structured.usage_daily)} today, ${formatUsd(structured.usage_weekly)} this week, ` +
          `${formatUsd(structured.usage_monthly)} this month, ${formatUsd(structured.usage)} in all · ${limit}` +
          (structured.is_free_tier ? ' · free tier' : '');
        return { structured, text: [text] };
      }),
  );
}
