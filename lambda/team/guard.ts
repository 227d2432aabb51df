/**
 * Team control around one paid tool call: the user's defaults, the operator's policy and the budget, applied before
 * anything goes upstream, and the one ledger record written when the call ends. runTool drives it:
 *
 *   begin()   starts the usage read (one BatchGet: the three windows, the user's cap override and defaults) so it
 *             runs in parallel with the per-user limits check;
 *   admit()   defaults → policy → budget check → max_tokens clamp (catalog prices) → reservation of the worst case;
 *             a refusal names the rule (policy) or the window, cap, spend and reset (budget), and nothing is sent;
 *   record()  one ledger record from runTool's finish step, settling the reservation to the real cost (or releasing
 *             it). A failed write is logged and counted, never the user's failure. It is not on the caller's path:
 *             TeamControl tracks it until it lands, and a host that may freeze after its response (the Lambda)
 *             awaits `settle()` once the response has been sent — as it does for the limiter's releases.
 *
 * A deferred record does not loosen the budget: the reservation of the call's worst case is written BEFORE the call
 * goes upstream and counts against the caps until the record settles it. A user's next call that reads usage before
 * the previous record has landed (on another instance) sees that reservation — the worst case — in place of the
 * real cost, so the over-spend bound is the one the reservations give, as before; at worst such a call is clamped or
 * refused a little early. On the same instance the next usage read waits for that user's
 * records still in flight (usually none), so one client's calls in sequence see each other's real cost.
 *
 * Cost of a call that ended in an error without a reported cost is counted as zero: OpenRouter bills a generation
 * that produced tokens, and such a result reports its usage; a crash mid-stream is the documented gap (ledger-store.ts).
 */
import type { Principal } from '../auth/authenticator.js';
import { checkBudget, effectiveCaps, uncapped, type BudgetCaps } from '../budget/check.js';
import { estimatePromptTokens } from '../budget/estimate.js';
import { planCall } from '../budget/plan.js';
import { flatPrice } from '../catalog/pricing.js';
import type { Logger } from '../observability/logger.js';
import { errorName } from '../observability/error-name.js';
import type { Metrics, ToolOutcomeKind } from '../observability/metrics.js';
import type { Model } from '../openrouter/schemas.js';
import { applyImagePolicy, applyPolicy, createPolicy, modelAllowed, type Policy, type PolicySettings } from '../policy/policy.js';
import { applyUserDefaults } from '../policy/user-defaults.js';
import type { LedgerRecordInput, LedgerStore, Reservation, UsageSnapshot } from '../store/ledger-store.js';
import type { ToolCallEvent, UpstreamRequestKind } from '../tools/outcome.js';
import { WINDOWS, type BudgetWindow } from '../budget/windows.js';
import { formatUsd } from '../budget/money.js';

/** What OpenRouter charges per web-search result (Exa, $4 per 1,000) and how many it fetches by default. */
export const WEB_RESULT_USD = 0.004;
export const WEB_DEFAULT_RESULTS = 5;

/** A refusal before anything went upstream: the ledger reason code and the text the user sees. */
export interface TeamRefusal {
  ok: false;
  kind: 'policy' | 'budget';
  /** `policy:model_denied`, `budget:daily`, `budget:unknown_price`… */
  reason: string;
  message: string;
}

/** One window of a user's budget as they see it (get_key_usage). */
export interface BudgetWindowView {
  spent_usd: number;
  /** Absent: no cap in this window. */
  cap_usd?: number;
  /** Worst cases held by calls still running. */
  reserved_usd: number;
  resets_at: string;
}

export type BudgetView = Record<BudgetWindow, BudgetWindowView>;

export type Admission = { ok: true; args: Record<string, unknown> } | TeamRefusal;

export interface TeamControlOptions {
  ledger: LedgerStore;
  policy: Policy;
  /** The operator's default caps; a user's override replaces them per window. */
  budgetDefaults: BudgetCaps;
  logger: Logger;
  metrics?: Metrics | undefined;
  /**
   * How long a user's last usage read on this instance may stand in for a new one when no cap applies to them
   * (see readUsageForCall); 0: never, and never more than SETTINGS_REUSE_MAX_MS.
   */
  settingsCacheMs?: number;
  now?: () => Date;
}

/**
 * The longest a settings read is reused. Short on purpose: the read carries the user's own defaults, data policy
 * included (`provider.data_collection: deny`), which they expect to hold on their next call wherever it lands.
 */
export const SETTINGS_REUSE_MAX_MS = 5_000;

/** The generation fields the guard reads; everything else passes through to the tool untouched. */
interface GenerationArgs {
  model?: string;
  models?: string[];
  max_tokens?: number;
  prompt?: unknown;
  messages?: unknown[];
  tools?: unknown;
  response_format?: unknown;
  plugins?: { id: string; enabled?: boolean; max_results?: number }[];
}

export class TeamControl {
  readonly policy: Policy;
  readonly budgetDefaults: BudgetCaps;
  readonly ledger: LedgerStore;
  private readonly log: Logger;
  private readonly metrics: Metrics | undefined;
  private readonly now: () => Date;
  private readonly settingsCacheMs: number;
  /** Ledger records still being written after their call returned, until they land (see settle()). */
  private readonly pending = new Set<Promise<void>>();
  /** The same, by user: that user's next usage read on this instance waits for them (see readUsage()). */
  private readonly recording = new Map<string, Set<Promise<void>>>();

  constructor(options: TeamControlOptions) {
    this.ledger = options.ledger;
    this.policy = options.policy;
    this.budgetDefaults = options.budgetDefaults;
    this.log = options.logger;
    this.metrics = options.metrics;
    this.now = options.now ?? (() => new Date());
    this.settingsCacheMs = Math.min(options.settingsCacheMs ?? 0, SETTINGS_REUSE_MAX_MS);
  }

  /** As every host builds it: the operator's settings from the config, over the table's ledger. */
  static fromConfig(config: { policy: PolicySettings; budgetDefaults: BudgetCaps }, ledger: LedgerStore, logger: Logger, metrics?: Metrics, settingsCacheMs = 0): TeamControl {
    return new TeamControl({ ledger, policy: createPolicy(config.policy), budgetDefaults: config.budgetDefaults, logger, metrics, settingsCacheMs });
  }

  /** Whether the catalog tools show this model. */
  allows(modelId: string): boolean {
    return modelAllowed(this.policy, modelId);
  }

  /** The user's spend against each cap in the current windows (one read). */
  async budgetView(userId: string): Promise<BudgetView> {
    const snapshot = await this.readUsage(userId, this.now());
    const caps = effectiveCaps(this.budgetDefaults, snapshot.override);
    const view = {} as BudgetView;
    for (const w of WINDOWS) {
      const s = snapshot.windows[w];
      view[w] = { spent_usd: s.spentUsd, ...(caps[w] !== undefined ? { cap_usd: caps[w] } : {}), reserved_usd: s.reservedUsd, resets_at: s.resetsAt };
    }
    return view;
  }

  /** One paid call; its usage read starts with readUsage() (a call refused for want of a key never reads). */
  begin(principal: Principal, tool: string, args: Record<string, unknown> = {}, kind: UpstreamRequestKind = 'generation'): TeamCall {
    return new TeamCall(this, principal, tool, this.now(), requestedModelOf(args), kind);
  }

  /**
   * Writes a call's ledger record in the background, tracked until it lands; a failure is logged and counted, never
   * thrown. The returned promise never rejects.
   */
  write(input: LedgerRecordInput, options: { reservation?: Reservation; estimatedCostUsd?: number }): Promise<void> {
    return this.track(input.userId, () => this.ledger.record(input, options), { tool: input.tool, outcome: input.outcome });
  }

  /**
   * The cost OpenRouter's stats give for a generation (get_generation), into the user's record of it if that record
   * is missing its cost; in the background, tracked like a record. The returned promise never rejects.
   */
  fillGenerationCost(userId: string, generationId: string, costUsd: number): Promise<void> {
    return this.track(userId, () => this.ledger.fillCostOfGeneration(userId, generationId, costUsd), { tool: 'get_generation' });
  }

  /** Runs a ledger write tracked until it lands (settle(), and this user's next usage read); logs and counts a failure. */
  private track(userId: string, write: () => Promise<unknown>, fields: Record<string, string>): Promise<void> {
    // Started inside a promise chain, so even a store that throws before returning a promise ends in the catch.
    const work = Promise.resolve()
      .then(write)
      .then(
        () => undefined,
        (err: unknown) => {
          this.log.error('ledger write failed', { ...fields, error: errorName(err) });
          this.metrics?.ledgerWriteFailure?.();
        },
      );
    const own = this.recording.get(userId) ?? new Set<Promise<void>>();
    this.recording.set(userId, own);
    this.pending.add(work);
    own.add(work);
    void work.finally(() => {
      this.pending.delete(work);
      own.delete(work);
      if (own.size === 0 && this.recording.get(userId) === own) this.recording.delete(userId);
    });
    return work;
  }

  /**
   * A user's usage. When a cap applies, after this instance's records for them still in flight have landed: a
   * user's calls one after another on one instance then see each other's real cost, not the reservation it replaces
   * (which would refuse or clamp the next call for nothing). Without a cap only the defaults and overrides matter,
   * and the read is not held up by the previous call's record.
   */
  async readUsage(userId: string, now: Date): Promise<UsageSnapshot> {
    const own = this.recording.get(userId);
    const first = await this.ledger.readUsage(userId, now);
    if (!own || uncapped(effectiveCaps(this.budgetDefaults, first.override))) return first;
    await Promise.all([...own]);
    return this.ledger.readUsage(userId, now);
  }

  /**
   * The usage a call is admitted on. When no cap applies to the user, admission reads only their override and
   * defaults, so this instance's read of them within `settingsCacheMs` serves and the call goes out without a round
   * trip. Bound: a cap or defaults set on another instance (the CLI, another Lambda) apply to this one's calls within
   * that time (at most 5 s); set here, at once. Any cap: a fresh read.
   */
  readUsageForCall(userId: string, now: Date): Promise<UsageSnapshot> {
    const recent = this.settingsCacheMs > 0 ? this.ledger.recentUsage(userId, this.settingsCacheMs) : undefined;
    if (recent && uncapped(effectiveCaps(this.budgetDefaults, recent.override))) return Promise.resolve(recent);
    return this.readUsage(userId, now);
  }

  /** Resolves once every ledger record started so far (and any started meanwhile) has landed or failed. */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
    await this.ledger.flush().catch((err: unknown) => this.log.error('ledger write failed', { error: errorName(err) }));
  }
}

export class TeamCall {
  /** Read once; a failure surfaces in admit() (fail closed: a budget that cannot be read is not enforced blindly). */
  private snapshot: Promise<UsageSnapshot> | undefined;
  private reservation: Reservation | undefined;
  private refusal: TeamRefusal | undefined;

  constructor(
    private readonly team: TeamControl,
    private readonly principal: Principal,
    private readonly tool: string,
    private readonly startedAt: Date,
    /** As the call named it; admit() replaces it with the model after the user's defaults. */
    private requestedModel: string | undefined,
    private readonly kind: UpstreamRequestKind = 'generation',
  ) {}

  /** Starts the usage read (idempotent), so the caller can run the limits check beside it. */
  readUsage(): Promise<UsageSnapshot> {
    if (!this.snapshot) {
      this.snapshot = this.team.readUsageForCall(this.principal.userId, this.startedAt);
      // A call refused by the limits never awaits it; its rejection must not go unhandled.
      this.snapshot.catch(() => undefined);
    }
    return this.snapshot;
  }

  /**
   * The request as it may go upstream, or why it may not. `models` supplies catalog prices, read only when a cap
   * applies (the catalog is cached per process).
   */
  async admit(args: Record<string, unknown>, models: () => Promise<readonly Model[]>): Promise<Admission> {
    const snapshot = await this.readUsage();
    if (this.kind === 'image') return this.admitImage(args, snapshot);
    const withDefaults = applyUserDefaults(snapshot.defaults, args as GenerationArgs & Record<string, unknown>);
    this.requestedModel = withDefaults.model ?? withDefaults.models?.[0];
    const policed = applyPolicy(this.team.policy, withDefaults);
    if (!policed.ok) return this.refuse({ ok: false, kind: 'policy', reason: `policy:${policed.rule}`, message: `${policed.message} Nothing was sent to OpenRouter.` });
    const request = policed.request;

    const caps = effectiveCaps(this.team.budgetDefaults, snapshot.override);
    if (uncapped(caps)) return { ok: true, args: request };
    // Refuse a user at a cap before the catalog is touched.
    const check = checkBudget(caps, snapshot.usage, this.startedAt);
    if (!check.ok) return this.refuse({ ok: false, kind: 'budget', reason: `budget:${check.window}`, message: check.message });

    const prices = priceOf(await models(), [request.model, ...(request.models ?? [])]);
    const plan = planCall({
      caps,
      usage: snapshot.usage,
      now: this.startedAt,
      promptTokensEstimate: estimatePromptTokens(request),
      promptPricePerToken: prices.prompt,
      completionPricePerToken: prices.completion,
      fixedCostUsd: prices.request + webSearchUsd(request),
      ...(request.max_tokens !== undefined ? { requestedMaxTokens: request.max_tokens } : {}),
      ...(prices.maxCompletionTokens !== undefined ? { modelMaxCompletionTokens: prices.maxCompletionTokens } : {}),
    });
    if (!plan.ok) {
      const reason = plan.reason === 'budget_reached' ? `budget:${plan.refusal.window}` : `budget:${plan.reason}`;
      return this.refuse({ ok: false, kind: 'budget', reason, message: plan.message });
    }
    const reserved = await this.team.ledger.reserve(this.principal.userId, caps, plan.worstCaseUsd ?? 0, this.startedAt);
    if (!reserved.ok) return this.refuse({ ok: false, kind: 'budget', reason: `budget:${reserved.window}`, message: reserved.message });
    this.reservation = reserved.reservation;
    return { ok: true, args: plan.clamped ? { ...request, max_tokens: plan.maxTokens } : request };
  }

  /**
   * An image request: no user defaults (they are text-generation settings: max_tokens, provider sorting, reasoning —
   * none has a meaning on /images, and its model is required), the image policy (policy.ts), and no way to bound
   * its cost: image models are priced per image or per megapixel on /images, which the model catalog does not list,
   * so under any cap it is refused as an unknown price rather than let through unbounded. Its real cost is recorded.
   */
  private admitImage(args: Record<string, unknown>, snapshot: UsageSnapshot): Admission {
    const policed = applyImagePolicy(this.team.policy, args as { model: string } & Record<string, unknown>);
    if (!policed.ok) return this.refuse({ ok: false, kind: 'policy', reason: `policy:${policed.rule}`, message: `${policed.message} Nothing was sent to OpenRouter.` });
    const caps = effectiveCaps(this.team.budgetDefaults, snapshot.override);
    if (uncapped(caps)) return { ok: true, args: policed.request };
    const check = checkBudget(caps, snapshot.usage, this.startedAt);
    if (!check.ok) return this.refuse({ ok: false, kind: 'budget', reason: `budget:${check.window}`, message: check.message });
    return this.refuse({
      ok: false,
      kind: 'budget',
      reason: 'budget:unknown_price',
      message: "An image model's price is per image and not in the model catalog, so its cost cannot be bounded by your remaining budget: image generation is not available while a budget cap applies to you. Nothing was sent to OpenRouter.",
    });
  }

  /** The ledger record of this call, from runTool's finish step (exactly once per call). */
  record(event: ToolCallEvent): Promise<void> {
    const u = event.usage;
    const { outcome, reason } = ledgerOutcome(event, this.refusal);
    const input: LedgerRecordInput = {
      time: this.startedAt,
      userId: this.principal.userId,
      tokenId: this.principal.tokenId,
      ...(this.principal.clientId ? { clientId: this.principal.clientId } : {}),
      tool: this.tool,
      ...(this.requestedModel ? { requestedModel: this.requestedModel } : {}),
      ...(u.model ? { servedModel: u.model } : {}),
      ...(u.provider ? { provider: u.provider } : {}),
      ...(u.generationId ? { generationId: u.generationId } : {}),
      outcome,
      ...(reason ? { reason } : {}),
      ...(u.promptTokens !== undefined ? { tokensIn: u.promptTokens } : {}),
      ...(u.completionTokens !== undefined ? { tokensOut: u.completionTokens } : {}),
      ...(u.reasoningTokens !== undefined ? { tokensReasoning: u.reasoningTokens } : {}),
      ...(u.cachedTokens !== undefined ? { tokensCached: u.cachedTokens } : {}),
      ...(outcome !== 'refused' && u.costUsd !== undefined ? { costUsd: u.costUsd } : {}),
      latencyMs: Math.round(event.latencyMs),
    };
    // A result that reports usage without a cost counts the reserved worst case (fillCost corrects it later).
    const estimate = outcome === 'error' && u.costUsd === undefined ? { estimatedCostUsd: 0 } : {};
    return this.team.write(input, { ...(this.reservation ? { reservation: this.reservation } : {}), ...estimate });
  }

  private refuse(refusal: TeamRefusal): TeamRefusal {
    this.refusal = refusal;
    return refusal;
  }
}

/** The model a call asks for (its first fallback when it names none), for the ledger. */
function requestedModelOf(args: Record<string, unknown>): string | undefined {
  if (typeof args.model === 'string') return args.model;
  const first: unknown = Array.isArray(args.models) ? args.models[0] : undefined;
  return typeof first === 'string' ? first : undefined;
}

/** runTool's outcome for a team refusal (what the metrics count). */
export function refusalOutcome(refusal: TeamRefusal): ToolOutcomeKind {
  return refusal.kind === 'policy' ? 'policy_refused' : 'budget_refused';
}

function ledgerOutcome(event: ToolCallEvent, refusal: TeamRefusal | undefined): { outcome: LedgerRecordInput['outcome']; reason?: string } {
  if (refusal) return { outcome: 'refused', reason: refusal.reason };
  switch (event.outcome) {
    case 'ok':
      return { outcome: 'ok' };
    case 'no_key':
      return { outcome: 'refused', reason: 'no_key' };
    case 'throttled':
      return { outcome: 'refused', reason: `limit:${event.refusal ?? 'unknown'}` };
    case 'upstream_error':
      return { outcome: 'error', reason: event.upstreamStatus !== undefined ? `upstream:${event.upstreamStatus}` : 'upstream' };
    default:
      return { outcome: 'error', reason: event.outcome };
  }
}

interface Prices {
  /** USD per token; null when any candidate's price is unknown or variable (a router). */
  prompt: number | null;
  completion: number | null;
  request: number;
  maxCompletionTokens?: number;
}

/**
 * The worst prices over the model and its fallbacks (any of them may serve). A variant (`:nitro`, `:online`) is
 * priced as its base model when the catalog does not list it.
 */
export function priceOf(models: readonly Model[], ids: readonly (string | undefined)[]): Prices {
  const named = ids.filter((id): id is string => id !== undefined);
  if (named.length === 0) return { prompt: null, completion: null, request: 0 };
  const byId = new Map(models.map((m) => [m.id, m]));
  let prompt: number | null = 0;
  let completion: number | null = 0;
  let request = 0;
  let maxCompletionTokens: number | undefined = 0;
  for (const id of named) {
    const m = byId.get(id) ?? byId.get(id.replace(/:[^/]*$/, ''));
    const p = flatPrice(m?.pricing.prompt);
    const c = flatPrice(m?.pricing.completion);
    prompt = p === null || prompt === null ? null : Math.max(prompt, p);
    completion = c === null || completion === null ? null : Math.max(completion, c);
    request = Math.max(request, flatPrice(m?.pricing.request) ?? 0);
    // Without a listed completion limit, the context window bounds the output (never send an absurd max_tokens).
    const limit = m?.top_provider?.max_completion_tokens ?? m?.context_length;
    maxCompletionTokens = typeof limit === 'number' && maxCompletionTokens !== undefined ? Math.max(maxCompletionTokens, limit) : undefined;
  }
  return { prompt, completion, request, ...(maxCompletionTokens ? { maxCompletionTokens } : {}) };
}

/** The web plugin's search fee, known before the call from max_results (or OpenRouter's default). */
function webSearchUsd(request: GenerationArgs): number {
  const web = request.plugins?.find((p) => p.id === 'web' && p.enabled !== false);
  const online = [request.model, ...(request.models ?? [])].some((id) => id?.endsWith(':online'));
  if (!web && !online) return 0;
  return (web?.max_results ?? WEB_DEFAULT_RESULTS) * WEB_RESULT_USD;
}

const PERIOD: Record<BudgetWindow, string> = { daily: 'today', weekly: 'this week', monthly: 'this month' };

/** "Budget on this server: today $0.0123 of $1.00 (resets …); this week $0.0123 (no cap); …". */
export function describeBudget(view: BudgetView): string {
  const parts = WINDOWS.map((w) => {
    const v = view[w];
    const reserved = v.reserved_usd > 0 ? ` + ${formatUsd(v.reserved_usd)} reserved` : '';
    return v.cap_usd === undefined ? `${PERIOD[w]} ${formatUsd(v.spent_usd)} (no cap)` : `${PERIOD[w]} ${formatUsd(v.spent_usd)}${reserved} of ${formatUsd(v.cap_usd)} (resets ${v.resets_at})`;
  });
  return `Budget on this server: ${parts.join('; ')}.`;
}
