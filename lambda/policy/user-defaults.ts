/**
 * A user's own defaults (the settings page): applied only where a call leaves a field out, and always before the
 * operator's policy, so a default can never carry a request past the policy.
 */
import * as z from 'zod';

/** The same shape as a request's model id (validated again by the tool schema). */
const ModelId = z.string().min(1).max(200).regex(/^[A-Za-z0-9][A-Za-z0-9._:/@~-]*$/, 'a model id looks like "openai/gpt-4o"');

export const UserDefaultsSchema = z.strictObject({
  model: ModelId.optional(),
  max_tokens: z.number().int().min(1).max(1_000_000).optional(),
  provider: z
    .strictObject({
      sort: z.enum(['price', 'throughput', 'latency']).optional(),
      data_collection: z.enum(['allow', 'deny']).optional(),
      zdr: z.boolean().optional(),
    })
    .optional(),
  reasoning_effort: z.enum(['max', 'xhigh', 'high', 'medium', 'low', 'minimal', 'none']).optional(),
});

export type UserDefaults = z.infer<typeof UserDefaultsSchema>;

/** The request fields defaults may fill. */
export interface DefaultableRequest {
  model?: string;
  models?: string[];
  max_tokens?: number;
  provider?: { sort?: unknown; data_collection?: unknown; zdr?: unknown; [key: string]: unknown };
  reasoning?: { effort?: unknown; max_tokens?: unknown; enabled?: unknown; [key: string]: unknown };
}

/** Fills what the request omits from the user's defaults; never overrides a value the call gave. Never mutates. */
export function applyUserDefaults<T extends DefaultableRequest>(defaults: UserDefaults | undefined, request: T): T {
  if (!defaults) return request;
  const out: T = { ...request };
  if (defaults.model !== undefined && request.model === undefined && request.models === undefined) out.model = defaults.model;
  if (defaults.max_tokens !== undefined && request.max_tokens === undefined) out.max_tokens = defaults.max_tokens;
  const p = defaults.provider;
  if (p) {
    const provider = { ...(request.provider ?? {}) };
    if (p.sort !== undefined && provider.sort === undefined) provider.sort = p.sort;
    if (p.data_collection !== undefined && provider.data_collection === undefined) provider.data_collection = p.data_collection;
    if (p.zdr !== undefined && provider.zdr === undefined) provider.zdr = p.zdr;
    if (Object.keys(provider).length > 0) out.provider = provider;
  }
  // A call that sets its own reasoning budget (max_tokens) or switches reasoning off has chosen already.
  const r = request.reasoning;
  if (defaults.reasoning_effort !== undefined && r?.effort === undefined && r?.max_tokens === undefined && r?.enabled !== false) {
    out.reasoning = { ...(r ?? {}), effort: defaults.reasoning_effort };
  }
  return out;
}
