/**
 * The operator policy as an OpenRouter guardrail on the keys this server creates with the management key, so the
 * rules a guardrail can express still hold when such a key is used elsewhere (it leaked, or a user copied it out).
 *
 * What a guardrail carries (all `CreateGuardrailRequest` fields):
 * - the allow list as `allowed_models`, only when every entry is an exact model id: a glob (`openai/*`) has no
 *   guardrail form, and sending just the exact entries would forbid models the policy allows;
 * - the exact ids of the deny list as `ignored_models` (a deny glob stays server-only: leaving one out only makes
 *   the guardrail looser than the policy, never stricter);
 * - a ZDR requirement as every `enforce_zdr_*` field;
 * - `data_collection: deny` as the three training/publication switches off, the guardrail's nearest equivalent.
 * Only the server enforces the price ceiling (a guardrail's `limit_usd` is a spending budget, not a price per
 * token; the key's own credit limit is set when it is created), the plugin allow list, the glob rules, and the
 * rule that a request must name a model.
 *
 * One guardrail per policy: its name holds a hash of the rules it carries, so a changed policy makes (and finds)
 * another one, and every instance finds the same one by listing.
 */
import { createHash } from 'node:crypto';
import * as z from 'zod';
import { trimTrailingSlashes } from '../http/path.js';
import type { PolicySettings } from '../policy/policy.js';
import type { OpenRouterAuthOptions } from './auth-keys.js';

export class GuardrailError extends Error {
  override readonly name = 'GuardrailError';
  constructor(
    message: string,
    /** HTTP status OpenRouter answered, when it answered. */
    readonly status?: number,
  ) {
    super(message);
  }
}

/** The policy rules a guardrail can carry, in the spec's field names. */
export interface GuardrailRules {
  allowed_models?: string[];
  ignored_models?: string[];
  enforce_zdr_anthropic?: true;
  enforce_zdr_google?: true;
  enforce_zdr_openai?: true;
  enforce_zdr_xai?: true;
  enforce_zdr_other?: true;
  enable_paid_model_training?: false;
  enable_free_model_training?: false;
  enable_free_model_publication?: false;
}

const isExactId = (pattern: string): boolean => !pattern.includes('*');
const sortedUnique = (ids: readonly string[]): string[] => [...new Set(ids)].sort();

/** What of the policy a guardrail carries; undefined when nothing (an open policy, or only server-side rules). */
export function guardrailRulesFor(settings: PolicySettings): GuardrailRules | undefined {
  const rules: GuardrailRules = {};
  if (settings.allowedModels.length > 0 && settings.allowedModels.every(isExactId)) rules.allowed_models = sortedUnique(settings.allowedModels);
  const deniedIds = settings.deniedModels.filter(isExactId);
  if (deniedIds.length > 0) rules.ignored_models = sortedUnique(deniedIds);
  if (settings.requireZdr) {
    Object.assign(rules, { enforce_zdr_anthropic: true, enforce_zdr_google: true, enforce_zdr_openai: true, enforce_zdr_xai: true, enforce_zdr_other: true });
  }
  if (settings.dataCollection === 'deny') Object.assign(rules, { enable_paid_model_training: false, enable_free_model_training: false, enable_free_model_publication: false });
  return Object.keys(rules).length > 0 ? rules : undefined;
}

/** The guardrail's name: changes whenever the rules do (their fields are always built in one order). */
export function guardrailName(rules: GuardrailRules): string {
  return `ormcp policy ${createHash('sha256').update(JSON.stringify(rules)).digest('hex').slice(0, 16)}`;
}

/** A guardrail id goes into URL paths: only URL-safe ones are taken. */
const GuardrailId = z.string().regex(/^[A-Za-z0-9_-]{1,100}$/);
const GuardrailSummary = z.object({ id: GuardrailId, name: z.string() });
const ListResponse = z.object({ data: z.array(GuardrailSummary).max(100), total_count: z.number().int().nonnegative() });
const CreateResponse = z.object({ data: GuardrailSummary });
const AssignResponse = z.object({ assigned_count: z.number().int().nonnegative() });

/** The spec's page size cap; at most this many pages are read looking for our guardrail. */
const PAGE_SIZE = 100;
const MAX_PAGES = 10;

type Call = { method: 'GET' | 'POST'; path: string; body?: unknown };

async function call(options: OpenRouterAuthOptions, managementKey: string, c: Call): Promise<unknown> {
  const res = await (options.fetch ?? fetch)(`${trimTrailingSlashes(options.baseUrl)}${c.path}`, {
    method: c.method,
    headers: { Accept: 'application/json', Authorization: `Bearer ${managementKey}`, ...(c.body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    ...(c.body !== undefined ? { body: JSON.stringify(c.body) } : {}),
    signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
  }).catch(() => {
    throw new GuardrailError('OpenRouter could not be reached');
  });
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    throw new GuardrailError(`OpenRouter refused the guardrail request (HTTP ${res.status})`, res.status);
  }
  return res.json().catch(() => undefined);
}

function parsed<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new GuardrailError('OpenRouter returned an unexpected guardrail response');
  return result.data;
}

/** The id of the guardrail with this name, looking through at most MAX_PAGES pages of the list. */
export async function findGuardrail(options: OpenRouterAuthOptions, managementKey: string, name: string): Promise<string | undefined> {
  for (let page = 0; page < MAX_PAGES; page++) {
    const list = parsed(ListResponse, await call(options, managementKey, { method: 'GET', path: `/guardrails?limit=${PAGE_SIZE}&offset=${page * PAGE_SIZE}` }));
    const found = list.data.find((g) => g.name === name);
    if (found) return found.id;
    if (list.data.length < PAGE_SIZE || (page + 1) * PAGE_SIZE >= list.total_count) return undefined;
  }
  return undefined;
}

export async function createGuardrail(options: OpenRouterAuthOptions, managementKey: string, name: string, rules: GuardrailRules): Promise<string> {
  const body = { name, description: 'The MCP server operator policy, on every key the server creates', ...rules };
  return parsed(CreateResponse, await call(options, managementKey, { method: 'POST', path: '/guardrails', body })).data.id;
}

/** Assigns keys to the guardrail; a key holds at most one guardrail, so this replaces any other on them. */
export async function assignKeysToGuardrail(options: OpenRouterAuthOptions, managementKey: string, id: string, keyHashes: string[]): Promise<void> {
  const path = `/guardrails/${encodeURIComponent(GuardrailId.parse(id))}/assignments/keys`;
  parsed(AssignResponse, await call(options, managementKey, { method: 'POST', path, body: { key_hashes: keyHashes } }));
}

/**
 * This server's policy guardrail: found or created on first use, its id remembered for the process. One instance
 * per process (built by the composition root); two instances racing on the first key may each create one, which
 * is harmless (both carry the same rules) and later lookups settle on the first listed.
 */
export class PolicyGuardrail {
  private id: Promise<string> | undefined;
  readonly name: string;

  constructor(
    private readonly options: OpenRouterAuthOptions,
    private readonly rules: GuardrailRules,
  ) {
    this.name = guardrailName(rules);
  }

  /** Puts the key under the policy guardrail; throws GuardrailError when that could not be done. */
  async assign(managementKey: string, keyHash: string): Promise<void> {
    const lookup = this.ensure(managementKey);
    try {
      await assignKeysToGuardrail(this.options, managementKey, await lookup, [keyHash]);
    } catch (err) {
      if (!(err instanceof GuardrailError && err.status === 404)) throw err;
      // The remembered guardrail was deleted at openrouter.ai since: find or create it again, once.
      this.forget(lookup);
      await assignKeysToGuardrail(this.options, managementKey, await this.ensure(managementKey), [keyHash]);
    }
  }

  /** The guardrail's id, remembered once known; a failed lookup is not remembered, so the next key tries again. */
  private ensure(managementKey: string): Promise<string> {
    if (!this.id) {
      const lookup = findGuardrail(this.options, managementKey, this.name).then((found) => found ?? createGuardrail(this.options, managementKey, this.name, this.rules));
      this.id = lookup;
      lookup.catch(() => this.forget(lookup));
    }
    return this.id;
  }

  private forget(lookup: Promise<string> | undefined): void {
    if (this.id === lookup) this.id = undefined;
  }
}
