/**
 * Runtime configuration, parsed once from the environment (names, defaults and bounds: env-contract.ts) so a bad
 * value fails at start-up with a message naming the variable, not later inside a request.
 */
import { trimTrailingSlashes } from '../http/path.js';
import type { BudgetCaps } from '../budget/check.js';
import type { PolicySettings } from '../policy/policy.js';
import type { LogLevel } from '../observability/logger.js';
import { AppEnv } from './env-contract.js';

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
  logLevel: LogLevel;
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
  const parsed = AppEnv.safeParse(present);
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
