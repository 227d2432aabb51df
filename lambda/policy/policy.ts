/**
 * The operator's policy over generation requests, as pure functions of the parsed settings: which models may be
 * named (allow/deny globs, deny wins), a data-policy floor (`provider.zdr`, `provider.data_collection`), a price
 * ceiling merged into `provider.max_price`, and which plugins a user may pass. It holds for every key and client
 * because it rewrites (or refuses) the request itself, before anything is sent upstream.
 *
 * A user may make a request stricter than the floor, never looser: a looser explicit value is refused (silently
 * overriding it would send the request somewhere the user did not ask for), a missing one is filled in.
 */
import { compileGlob, type Glob } from './glob.js';

/** The policy as configured (plain data: what `ormcp policy show --json` prints). */
export interface PolicySettings {
  /** Globs; empty = every model not denied. */
  allowedModels: readonly string[];
  /** Globs; a match here refuses even a model the allow list names. */
  deniedModels: readonly string[];
  /** Force `provider.zdr: true` (zero-data-retention endpoints only). */
  requireZdr: boolean;
  /** `deny` forces `provider.data_collection: "deny"`; `allow` sets no floor. */
  dataCollection: 'allow' | 'deny';
  /** Highest price in USD per 1M tokens, decimal strings as OpenRouter's `provider.max_price` takes them. */
  maxPricePerMillion: { prompt?: string; completion?: string };
  /** Plugin ids users may pass (`web`, `file-parser`, …); `all` = no restriction. */
  allowedPlugins: readonly string[] | 'all';
}

export const OPEN_POLICY: PolicySettings = { allowedModels: [], deniedModels: [], requireZdr: false, dataCollection: 'allow', maxPricePerMillion: {}, allowedPlugins: 'all' };

/** The settings with their globs compiled once (the catalog filter matches every model against them). */
export interface Policy {
  readonly settings: PolicySettings;
  readonly allowed: readonly Glob[];
  readonly denied: readonly Glob[];
}

export function createPolicy(settings: PolicySettings): Policy {
  return { settings, allowed: settings.allowedModels.map(compileGlob), denied: settings.deniedModels.map(compileGlob) };
}

export type PolicyRule = 'model_required' | 'model_denied' | 'model_not_allowed' | 'zdr' | 'data_collection' | 'plugin_not_allowed' | 'price_ceiling';

export type PolicyOutcome<T> = { ok: true; request: T } | { ok: false; rule: PolicyRule; message: string };

export interface MaxPrice {
  prompt?: string;
  completion?: string;
  request?: string;
  image?: string;
  audio?: string;
}

/** The parts of a generation request the policy reads; everything else passes through untouched. */
export interface PolicyRequest {
  model?: string;
  models?: string[];
  provider?: { zdr?: boolean | null; data_collection?: 'allow' | 'deny' | null; max_price?: MaxPrice; [key: string]: unknown };
  plugins?: { id: string; enabled?: boolean; [key: string]: unknown }[];
}

/** The `:online` variant of a model is OpenRouter's shorthand for the web plugin. */
const ONLINE_SUFFIX = ':online';

/**
 * A model id without its variant suffix (`openai/gpt-4o:nitro` → `openai/gpt-4o`), so denying a model also denies
 * its `:free`, `:nitro`, `:floor`, `:online`… variants.
 */
function baseId(id: string): string {
  const slash = id.lastIndexOf('/');
  const colon = id.indexOf(':', slash + 1);
  return colon < 0 ? id : id.slice(0, colon);
}

type ModelVerdict = { ok: true } | { ok: false; rule: 'model_denied' | 'model_not_allowed'; pattern?: string };

function judgeModel(policy: Policy, id: string): ModelVerdict {
  const base = baseId(id);
  const deny = policy.denied.find((g) => g.test(id) || g.test(base));
  if (deny) return { ok: false, rule: 'model_denied', pattern: deny.source };
  if (policy.allowed.length > 0 && !policy.allowed.some((g) => g.test(id) || g.test(base))) return { ok: false, rule: 'model_not_allowed' };
  return { ok: true };
}

function pluginAllowed(policy: Policy, id: string): boolean {
  const allowed = policy.settings.allowedPlugins;
  return allowed === 'all' || allowed.includes(id);
}

/** Whether the catalog shows this model (and whether a request may name it, plugins aside). */
export function modelAllowed(policy: Policy, id: string): boolean {
  if (id.endsWith(ONLINE_SUFFIX) && !pluginAllowed(policy, 'web')) return false;
  return judgeModel(policy, id).ok;
}

function modelRulesActive(policy: Policy): boolean {
  return policy.allowed.length > 0 || policy.denied.length > 0;
}

function whatPasses(policy: Policy): string {
  const { allowedModels, deniedModels } = policy.settings;
  const parts: string[] = [];
  if (allowedModels.length > 0) parts.push(`allowed: ${allowedModels.join(', ')}`);
  if (deniedModels.length > 0) parts.push(`denied: ${deniedModels.join(', ')}`);
  return parts.join('; ');
}

function refuseModel(policy: Policy, id: string, where: string, verdict: Extract<ModelVerdict, { ok: false }>): PolicyOutcome<never> {
  const subject = `${where} "${id}"`;
  const message =
    verdict.rule === 'model_denied'
      ? `Refused by the operator's model policy: ${subject} matches the denied pattern "${verdict.pattern}". Choose a model the policy permits (${whatPasses(policy)}).`
      : `Refused by the operator's model policy: ${subject} is not on the allow list. Choose a model the policy permits (${whatPasses(policy)}).`;
  return { ok: false, rule: verdict.rule, message };
}

/** The lower of two decimal prices; an unparsable user value yields to the operator's. */
function stricterPrice(user: string | undefined, operator: string | undefined): string | undefined {
  if (operator === undefined) return user;
  if (user === undefined) return operator;
  const u = Number(user);
  return Number.isFinite(u) && u >= 0 && u <= Number(operator) ? user : operator;
}

/**
 * Checks a generation request against the policy and returns it rewritten with the forced provider fields, or the
 * rule that refused it and what would pass. Never mutates `request`.
 */
export function applyPolicy<T extends PolicyRequest>(policy: Policy, request: T): PolicyOutcome<T> {
  const s = policy.settings;
  const named: [string, string][] = [];
  if (request.model !== undefined) named.push(['the model', request.model]);
  (request.models ?? []).forEach((m, i) => named.push([`the fallback model models[${i}]`, m]));

  // Without a model OpenRouter serves the account's default model, which the policy cannot see.
  if (named.length === 0 && modelRulesActive(policy)) {
    return { ok: false, rule: 'model_required', message: `The operator's model policy needs an explicit model: pass \`model\` (or \`models\`) naming one the policy permits (${whatPasses(policy)}).` };
  }
  for (const [where, id] of named) {
    const verdict = judgeModel(policy, id);
    if (!verdict.ok) return refuseModel(policy, id, where, verdict);
  }

  if (s.allowedPlugins !== 'all') {
    const allowedText = s.allowedPlugins.length > 0 ? `allowed plugins: ${s.allowedPlugins.join(', ')}` : 'no plugins are allowed';
    const online = named.find(([, id]) => id.endsWith(ONLINE_SUFFIX));
    if (online && !pluginAllowed(policy, 'web')) {
      return { ok: false, rule: 'plugin_not_allowed', message: `Refused by the operator's plugin policy: ${online[0]} "${online[1]}" uses the web plugin (${allowedText}). Use the model without ":online".` };
    }
    const plugin = (request.plugins ?? []).find((p) => p.enabled !== false && !pluginAllowed(policy, p.id));
    if (plugin) {
      return { ok: false, rule: 'plugin_not_allowed', message: `Refused by the operator's plugin policy: the plugin "${plugin.id}" is not allowed (${allowedText}). Remove it from \`plugins\`.` };
    }
  }

  const provider = { ...(request.provider ?? {}) };
  if (s.requireZdr) {
    if (provider.zdr === false) {
      return { ok: false, rule: 'zdr', message: 'Refused by the operator\'s data policy: only zero-data-retention endpoints may be used, and this request sets provider.zdr to false. Omit provider.zdr or set it to true.' };
    }
    provider.zdr = true;
  }
  if (s.dataCollection === 'deny') {
    if (provider.data_collection === 'allow') {
      return { ok: false, rule: 'data_collection', message: 'Refused by the operator\'s data policy: only providers that do not collect data may be used, and this request sets provider.data_collection to "allow". Omit it or set it to "deny".' };
    }
    provider.data_collection = 'deny';
  }
  const ceiling = s.maxPricePerMillion;
  if (ceiling.prompt !== undefined || ceiling.completion !== undefined) {
    const userPrice = provider.max_price ?? {};
    const prompt = stricterPrice(userPrice.prompt, ceiling.prompt);
    const completion = stricterPrice(userPrice.completion, ceiling.completion);
    provider.max_price = { ...userPrice, ...(prompt !== undefined ? { prompt } : {}), ...(completion !== undefined ? { completion } : {}) };
  }
  const touched = s.requireZdr || s.dataCollection === 'deny' || ceiling.prompt !== undefined || ceiling.completion !== undefined;
  return { ok: true, request: touched ? { ...request, provider } : request };
}

/**
 * The policy over an image request (`POST /images`): the model rules hold as for any generation. The data floor and
 * the price ceiling cannot be carried: the spec's image provider preferences have no zdr, data_collection or
 * max_price. So with either in force an image request is refused, never sent past the floor. Never mutates.
 */
export function applyImagePolicy<T extends { model: string }>(policy: Policy, request: T): PolicyOutcome<T> {
  const verdict = judgeModel(policy, request.model);
  if (!verdict.ok) return refuseModel(policy, request.model, 'the model', verdict);
  const s = policy.settings;
  const cannot = 'and an image request cannot carry that setting (OpenRouter\'s /images takes no such provider preference), so image generation is off on this server.';
  if (s.requireZdr) return { ok: false, rule: 'zdr', message: `Refused by the operator's data policy: only zero-data-retention endpoints may be used, ${cannot}` };
  if (s.dataCollection === 'deny') return { ok: false, rule: 'data_collection', message: `Refused by the operator's data policy: only providers that do not collect data may be used, ${cannot}` };
  if (s.maxPricePerMillion.prompt !== undefined || s.maxPricePerMillion.completion !== undefined) {
    return { ok: false, rule: 'price_ceiling', message: `Refused by the operator's price ceiling (per 1M tokens), ${cannot}` };
  }
  return { ok: true, request };
}

/** The policy in force, for `ormcp policy show`, the admin page and a tool result. */
export interface PolicyView {
  models: { allowed: string[] | 'all'; denied: string[] };
  dataPolicy: { requireZdr: boolean; dataCollection: 'allow' | 'deny' };
  maxPricePerMillion: { prompt: string | null; completion: string | null };
  plugins: string[] | 'all';
  /** The same, as sentences for people. */
  summary: string[];
}

export function describePolicy(policy: Policy): PolicyView {
  const s = policy.settings;
  const summary = [
    s.allowedModels.length > 0 ? `Models: only those matching ${s.allowedModels.join(', ')}.` : 'Models: any model.',
    ...(s.deniedModels.length > 0 ? [`Denied models (win over the allow list, variants included): ${s.deniedModels.join(', ')}.`] : []),
    s.requireZdr ? 'Zero-data-retention endpoints only (provider.zdr is forced to true).' : 'Zero data retention: not required.',
    s.dataCollection === 'deny' ? 'Providers that collect data are excluded (provider.data_collection is forced to "deny").' : 'Data collection: not restricted.',
    s.maxPricePerMillion.prompt !== undefined || s.maxPricePerMillion.completion !== undefined
      ? `Price ceiling per 1M tokens: prompt ${s.maxPricePerMillion.prompt !== undefined ? `$${s.maxPricePerMillion.prompt}` : 'unlimited'}, completion ${s.maxPricePerMillion.completion !== undefined ? `$${s.maxPricePerMillion.completion}` : 'unlimited'}.`
      : 'Price ceiling: none.',
    s.allowedPlugins === 'all' ? 'Plugins: any.' : s.allowedPlugins.length > 0 ? `Plugins: only ${s.allowedPlugins.join(', ')}.` : 'Plugins: none (":online" models included).',
  ];
  return {
    models: { allowed: s.allowedModels.length > 0 ? [...s.allowedModels] : 'all', denied: [...s.deniedModels] },
    dataPolicy: { requireZdr: s.requireZdr, dataCollection: s.dataCollection },
    maxPricePerMillion: { prompt: s.maxPricePerMillion.prompt ?? null, completion: s.maxPricePerMillion.completion ?? null },
    plugins: s.allowedPlugins === 'all' ? 'all' : [...s.allowedPlugins],
    summary,
  };
}
