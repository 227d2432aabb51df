/**
 * Runtime configuration, parsed once from the environment with zod so a bad value fails at start-up
 * with a message naming the variable, not later inside a request.
 */
import * as z from 'zod';
import { trimTrailingSlashes } from '../http/path.js';
import type { BudgetCaps } from '../budget/check.js';
import { GLOB_PATTERN } from '../policy/glob.js';
import type { PolicySettings } from '../policy/policy.js';

const int = (fallback: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(fallback);

/** A cap or price in USD: a plain decimal (the policy passes prices on to OpenRouter as the decimal string given). */
const usdString = z.string().trim().regex(/^\d{1,7}(\.\d{1,9})?$/, 'a plain decimal number of USD, e.g. 2.50');
const usdCap = usdString.transform(Number);
/** Comma-separated globs of model ids (`openai/*,*:free`). */
const globList = z
  .string()
  .default('')
  .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
  .pipe(z.array(z.string().regex(GLOB_PATTERN, 'a glob is model-id characters and * (e.g. openai/*, *:free)')).max(200));
const flag = z.enum(['true', 'false']).default('false').transform((v) => v === 'true');

const EnvSchema = z.object({
  OPENROUTER_BASE_URL: z.url().default('https://openrouter.ai/api/v1'),
  ORMCP_PUBLIC_URL: z.url().optional(),
  ORMCP_ALLOWED_ORIGINS: z.string().default(''),
  ORMCP_MAX_BODY_BYTES: int(4 * 1024 * 1024, 1024, 6 * 1024 * 1024),
  ORMCP_APP_TITLE: z.string().max(100).default('OpenRouter MCP'),
  ORMCP_APP_URL: z.url().optional(),
  ORMCP_CATALOG_TTL_SECONDS: int(600, 0, 86_400),
  ORMCP_PROGRESS_INTERVAL_MS: int(100, 0, 10_000),
  ORMCP_UPSTREAM_TIMEOUT_MS: int(600_000, 1_000, 900_000),
  ORMCP_SSE_KEEPALIVE_MS: int(15_000, 0, 240_000),
  ORMCP_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  ORMCP_RATE_LIMIT_PER_MINUTE: int(60, 0, 100_000),
  ORMCP_MAX_CONCURRENT_PER_USER: int(4, 0, 1_000),
  ORMCP_METRICS: z.enum(['emf', 'off']).default('off'),
  ORMCP_METRICS_SERVICE: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, 'letters, digits, . _ - (1-128)').default('openrouter-mcp'),
  ORMCP_OIDC_ISSUER: z.url().optional(),
  ORMCP_OIDC_CLIENT_ID: z.string().max(200).optional(),
  ORMCP_OIDC_CLIENT_SECRET: z.string().max(500).optional(),
  ORMCP_OIDC_LOGOUT_URL: z.url().optional(),
  ORMCP_OAUTH_REDIRECT_URIS: z.string().default(''),
  ORMCP_ACCESS_TOKEN_SECONDS: int(3600, 300, 86_400),
  ORMCP_OPENROUTER_AUTH_URL: z.url().default('https://openrouter.ai/auth'),
  ORMCP_PROVISIONED_KEY_LIMIT_USD: z.coerce.number().min(0).max(1_000_000).optional(),
  ORMCP_ALLOW_REPROVISION: z.enum(['true', 'false']).default('false'),
  // ---- team control: budgets, operator policy, ledger retention ----
  ORMCP_ADMIN_GROUP: z.string().max(128).regex(/^\S+$/, 'a group name without spaces').optional(),
  ORMCP_ADMIN_CLAIM: z.string().max(128).regex(/^[A-Za-z0-9:_.-]+$/, 'a claim name like custom:groups').optional(),
  ORMCP_BUDGET_DAILY_USD: usdCap.optional(),
  ORMCP_BUDGET_WEEKLY_USD: usdCap.optional(),
  ORMCP_BUDGET_MONTHLY_USD: usdCap.optional(),
  ORMCP_ALLOWED_MODELS: globList,
  ORMCP_DENIED_MODELS: globList,
  ORMCP_REQUIRE_ZDR: flag,
  ORMCP_DATA_COLLECTION: z.enum(['allow', 'deny']).default('allow'),
  ORMCP_MAX_PRICE_PER_M_IN: usdString.optional(),
  ORMCP_MAX_PRICE_PER_M_OUT: usdString.optional(),
  // Unset: every plugin; `none`: none (":online" models included); else a comma-separated list of plugin ids.
  ORMCP_ALLOWED_PLUGINS: z
    .string()
    .optional()
    .transform((v) => (v === undefined ? ('all' as const) : v.trim() === 'none' ? [] : v.split(',').map((s) => s.trim()).filter(Boolean)))
    .pipe(z.union([z.literal('all'), z.array(z.string().regex(/^[a-z0-9_-]{1,64}$/, 'a plugin id such as web or file-parser')).max(50)])),
  ORMCP_LEDGER_DAYS: int(90, 1, 3650),
});

export interface AppConfig {
  openRouterBaseUrl: string;
  /** Public base URL of this server (no trailing slash), when known; used for links and origin checks. */
  publicUrl?: string;
  /** Extra browser origins (hostnames) allowed to call /mcp, besides localhost and the public URL's host. */
  allowedOrigins: string[];
  maxBodyBytes: number;
  appTitle: string;
  appUrl?: string;
  catalogTtlMs: number;
  progressIntervalMs: number;
  upstreamTimeoutMs: number;
  /** SSE comment frames while a response streams (0 disables); must stay under API Gateway's 5-minute idle limit. */
  sseKeepAliveMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Per-user limits (0 turns one off): tool calls per minute, generations in flight. */
  limits: { ratePerMinute: number; maxConcurrent: number };
  /** `emf`: a CloudWatch Embedded Metric Format line on stdout per tool call and HTTP request (the stack sets it). */
  metrics: 'emf' | 'off';
  /** The metrics' `Service` dimension (the stack sets its stack name). */
  metricsService: string;
  /** The identity provider users sign in with (the stack's Cognito pool); sign-in is off without it. */
  oidc?: { issuer: string; clientId: string; clientSecret?: string; logoutUrl?: string; groupsClaim?: string };
  /** Redirect URIs OAuth clients may register besides loopback and the known chat clients' callbacks. */
  oauthRedirectUris: string[];
  accessTokenSeconds: number;
  /** OpenRouter's page where a user approves a key for this server (OAuth PKCE). */
  openRouterAuthUrl: string;
  /** Credit limit (USD) of keys created with the operator's management key. */
  provisionedKeyLimitUsd?: number;
  /** Whether a user may have another key created after theirs was removed, without the operator's `user reset-key`. */
  allowReprovision: boolean;
  // ---- team control ----
  /** Operator default caps per user (USD per UTC day, ISO week, month); a missing one is no cap. */
  budgetDefaults: BudgetCaps;
  /** The operator policy applied to every generation request. */
  policy: PolicySettings;
  /** Ledger records expire this many days after their call; aggregates are kept. */
  ledgerDays: number;
  /** Who may open /admin: the group (`cognito:groups`, or a federated user's mapped claim); see auth/admin-access.ts. */
  admin: { group?: string; claim?: string };
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function loadConfig(env: Record<string, string | undefined>, overrides: Partial<AppConfig> = {}): AppConfig {
  // An empty variable means "not set", so `FOO=` falls back to the default instead of reading as 0.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`Invalid configuration: ${issues}`);
  }
  const e = parsed.data;
  return {
    openRouterBaseUrl: trimTrailingSlashes(e.OPENROUTER_BASE_URL),
    ...(e.ORMCP_PUBLIC_URL ? { publicUrl: trimTrailingSlashes(e.ORMCP_PUBLIC_URL) } : {}),
    allowedOrigins: e.ORMCP_ALLOWED_ORIGINS.split(',').map((s) => s.trim()).filter(Boolean),
    maxBodyBytes: e.ORMCP_MAX_BODY_BYTES,
    appTitle: e.ORMCP_APP_TITLE,
    ...(e.ORMCP_APP_URL ? { appUrl: e.ORMCP_APP_URL } : {}),
    catalogTtlMs: e.ORMCP_CATALOG_TTL_SECONDS * 1000,
    progressIntervalMs: e.ORMCP_PROGRESS_INTERVAL_MS,
    upstreamTimeoutMs: e.ORMCP_UPSTREAM_TIMEOUT_MS,
    sseKeepAliveMs: e.ORMCP_SSE_KEEPALIVE_MS,
    logLevel: e.ORMCP_LOG_LEVEL,
    limits: { ratePerMinute: e.ORMCP_RATE_LIMIT_PER_MINUTE, maxConcurrent: e.ORMCP_MAX_CONCURRENT_PER_USER },
    metrics: e.ORMCP_METRICS,
    metricsService: e.ORMCP_METRICS_SERVICE,
    ...(e.ORMCP_OIDC_ISSUER && e.ORMCP_OIDC_CLIENT_ID
      ? {
          oidc: {
            issuer: e.ORMCP_OIDC_ISSUER,
            clientId: e.ORMCP_OIDC_CLIENT_ID,
            ...(e.ORMCP_OIDC_CLIENT_SECRET ? { clientSecret: e.ORMCP_OIDC_CLIENT_SECRET } : {}),
            ...(e.ORMCP_OIDC_LOGOUT_URL ? { logoutUrl: e.ORMCP_OIDC_LOGOUT_URL } : {}),
            ...(e.ORMCP_ADMIN_CLAIM ? { groupsClaim: e.ORMCP_ADMIN_CLAIM } : {}),
          },
        }
      : {}),
    oauthRedirectUris: e.ORMCP_OAUTH_REDIRECT_URIS.split(',').map((s) => s.trim()).filter(Boolean),
    accessTokenSeconds: e.ORMCP_ACCESS_TOKEN_SECONDS,
    openRouterAuthUrl: e.ORMCP_OPENROUTER_AUTH_URL,
    ...(e.ORMCP_PROVISIONED_KEY_LIMIT_USD !== undefined ? { provisionedKeyLimitUsd: e.ORMCP_PROVISIONED_KEY_LIMIT_USD } : {}),
    allowReprovision: e.ORMCP_ALLOW_REPROVISION === 'true',
    // ---- team control ----
    budgetDefaults: {
      ...(e.ORMCP_BUDGET_DAILY_USD !== undefined ? { daily: e.ORMCP_BUDGET_DAILY_USD } : {}),
      ...(e.ORMCP_BUDGET_WEEKLY_USD !== undefined ? { weekly: e.ORMCP_BUDGET_WEEKLY_USD } : {}),
      ...(e.ORMCP_BUDGET_MONTHLY_USD !== undefined ? { monthly: e.ORMCP_BUDGET_MONTHLY_USD } : {}),
    },
    policy: {
      allowedModels: e.ORMCP_ALLOWED_MODELS,
      deniedModels: e.ORMCP_DENIED_MODELS,
      requireZdr: e.ORMCP_REQUIRE_ZDR,
      dataCollection: e.ORMCP_DATA_COLLECTION,
      maxPricePerMillion: {
        ...(e.ORMCP_MAX_PRICE_PER_M_IN !== undefined ? { prompt: e.ORMCP_MAX_PRICE_PER_M_IN } : {}),
        ...(e.ORMCP_MAX_PRICE_PER_M_OUT !== undefined ? { completion: e.ORMCP_MAX_PRICE_PER_M_OUT } : {}),
      },
      allowedPlugins: e.ORMCP_ALLOWED_PLUGINS,
    },
    ledgerDays: e.ORMCP_LEDGER_DAYS,
    admin: { ...(e.ORMCP_ADMIN_GROUP ? { group: e.ORMCP_ADMIN_GROUP } : {}), ...(e.ORMCP_ADMIN_CLAIM ? { claim: e.ORMCP_ADMIN_CLAIM } : {}) },
    ...overrides,
  };
}
