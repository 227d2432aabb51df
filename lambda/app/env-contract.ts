/**
 * The environment contract between the stack and the runtime: the name, default and bounds of every variable the
 * server reads, as zod schemas. The runtime parses them (config.ts; aws/app.ts for the Lambda's own variables),
 * and the stack (infra/constructs/mcp-function.ts, infra/config.ts) writes the variables by the names in `ENV`
 * and takes the defaults and bounds it shares with the runtime from here — as it takes the table from
 * store/schema.ts — so a renamed variable or a changed bound is one edit, and a misspelt name a compile error.
 *
 * Kept free of runtime wiring: the stack imports this file at synth time.
 */
import * as z from 'zod';
import type { LogLevel } from '../observability/logger.js';
import { GLOB_PATTERN } from '../policy/glob.js';

/** What a model glob may look like; the stack checks context values with the same pattern at synth. */
export { GLOB_PATTERN };

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const satisfies readonly LogLevel[];

/** An integer setting's default and inclusive bounds. */
export interface IntegerSetting {
  readonly default: number;
  readonly min: number;
  readonly max: number;
}

/** The integer settings; the stack's own settings for the same values (limits) use the same defaults and bounds. */
export const INTEGER_SETTINGS = {
  ORMCP_MAX_BODY_BYTES: { default: 4 * 1024 * 1024, min: 1024, max: 6 * 1024 * 1024 },
  ORMCP_CATALOG_TTL_SECONDS: { default: 600, min: 0, max: 86_400 },
  ORMCP_PROGRESS_INTERVAL_MS: { default: 100, min: 0, max: 10_000 },
  ORMCP_UPSTREAM_TIMEOUT_MS: { default: 600_000, min: 1_000, max: 900_000 },
  ORMCP_SSE_KEEPALIVE_MS: { default: 15_000, min: 0, max: 240_000 },
  ORMCP_RATE_LIMIT_PER_MINUTE: { default: 60, min: 0, max: 100_000 },
  ORMCP_MAX_CONCURRENT_PER_USER: { default: 4, min: 0, max: 1_000 },
  ORMCP_ACCESS_TOKEN_SECONDS: { default: 3600, min: 300, max: 86_400 },
  ORMCP_LEDGER_DAYS: { default: 90, min: 1, max: 3650 },
  /** Hours a stored conversation is kept after its last use; 0 stores none. */
  ORMCP_CONVERSATION_TTL_HOURS: { default: 168, min: 0, max: 8760 },
  // ---- the Lambda's own ----
  ORMCP_AUTH_CACHE_SECONDS: { default: 60, min: 0, max: 3600 },
  /** Longest a cold start waits for the server secret, all attempts included. */
  ORMCP_SECRET_TIMEOUT_MS: { default: 4_000, min: 100, max: 30_000 },
} as const satisfies Record<string, IntegerSetting>;

/** Credit limit of keys created with the management key, in USD. */
export const PROVISIONED_KEY_LIMIT_USD = { min: 0, max: 1_000_000 } as const;

const int = (s: IntegerSetting) => z.coerce.number().int().min(s.min).max(s.max).default(s.default);
const I = INTEGER_SETTINGS;

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

/** Every host's settings (config.ts turns them into AppConfig). */
export const AppEnv = z.object({
  OPENROUTER_BASE_URL: z.url().default('https://openrouter.ai/api/v1'),
  ORMCP_PUBLIC_URL: z.url().optional(),
  ORMCP_ALLOWED_ORIGINS: z.string().default(''),
  ORMCP_MAX_BODY_BYTES: int(I.ORMCP_MAX_BODY_BYTES),
  ORMCP_APP_TITLE: z.string().max(100).default('OpenRouter MCP'),
  ORMCP_APP_URL: z.url().optional(),
  ORMCP_CATALOG_TTL_SECONDS: int(I.ORMCP_CATALOG_TTL_SECONDS),
  ORMCP_PROGRESS_INTERVAL_MS: int(I.ORMCP_PROGRESS_INTERVAL_MS),
  ORMCP_UPSTREAM_TIMEOUT_MS: int(I.ORMCP_UPSTREAM_TIMEOUT_MS),
  ORMCP_SSE_KEEPALIVE_MS: int(I.ORMCP_SSE_KEEPALIVE_MS),
  ORMCP_LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  ORMCP_RATE_LIMIT_PER_MINUTE: int(I.ORMCP_RATE_LIMIT_PER_MINUTE),
  ORMCP_MAX_CONCURRENT_PER_USER: int(I.ORMCP_MAX_CONCURRENT_PER_USER),
  ORMCP_METRICS: z.enum(['emf', 'off']).default('off'),
  ORMCP_METRICS_SERVICE: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, 'letters, digits, . _ - (1-128)').default('openrouter-mcp'),
  ORMCP_OIDC_ISSUER: z.url().optional(),
  ORMCP_OIDC_CLIENT_ID: z.string().max(200).optional(),
  ORMCP_OIDC_CLIENT_SECRET: z.string().max(500).optional(),
  ORMCP_OIDC_LOGOUT_URL: z.url().optional(),
  ORMCP_OAUTH_REDIRECT_URIS: z.string().default(''),
  ORMCP_ACCESS_TOKEN_SECONDS: int(I.ORMCP_ACCESS_TOKEN_SECONDS),
  ORMCP_OPENROUTER_AUTH_URL: z.url().default('https://openrouter.ai/auth'),
  ORMCP_PROVISIONED_KEY_LIMIT_USD: z.coerce.number().min(PROVISIONED_KEY_LIMIT_USD.min).max(PROVISIONED_KEY_LIMIT_USD.max).optional(),
  ORMCP_ALLOW_REPROVISION: z.enum(['true', 'false']).default('false'),
  // ---- team control: budgets, operator policy, ledger retention ----
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
  ORMCP_LEDGER_DAYS: int(I.ORMCP_LEDGER_DAYS),
  // ---- conversations that continue: hours kept after last use; 0 stores none ----
  ORMCP_CONVERSATION_TTL_HOURS: int(I.ORMCP_CONVERSATION_TTL_HOURS),
  // Who may open /admin: the Cognito group, and the claim listing a federated user's IdP groups (the stack writes both).
  ORMCP_ADMIN_GROUP: z.string().max(128).regex(/^\S+$/, 'a group name without spaces').optional(),
  ORMCP_ADMIN_CLAIM: z.string().max(128).regex(/^[A-Za-z0-9:_.-]+$/, 'a claim name like custom:groups').optional(),
});

/** What only the Lambda reads (aws/app.ts): where its table, secrets and images are, and how long it waits for them. */
export const LambdaEnv = z.object({
  ORMCP_TABLE_NAME: z.string().min(1),
  ORMCP_SECRET_ARN: z.string().min(1),
  ORMCP_AUTH_CACHE_SECONDS: int(I.ORMCP_AUTH_CACHE_SECONDS),
  ORMCP_SECRET_TIMEOUT_MS: int(I.ORMCP_SECRET_TIMEOUT_MS),
  /** Optional: a secret holding an OpenRouter management key, to create per-user keys. */
  ORMCP_OPENROUTER_MANAGEMENT_SECRET_ARN: z.string().min(1).optional(),
  /** Optional: the bucket generated images go to (links are presigned GETs); without it images come back inline only. */
  ORMCP_IMAGES_BUCKET: z.string().min(3).max(63).optional(),
  /** An S3-compatible endpoint instead of the bucket's own (tests, or S3 through a VPC endpoint). */
  ORMCP_IMAGES_S3_ENDPOINT: z.url().optional(),
});

export type EnvName = keyof typeof AppEnv.shape | keyof typeof LambdaEnv.shape;

/** Every variable name, as itself: `ENV.ORMCP_TABLE_NAME === 'ORMCP_TABLE_NAME'`, and a misspelt one does not compile. */
export const ENV = Object.freeze(
  Object.fromEntries([...Object.keys(AppEnv.shape), ...Object.keys(LambdaEnv.shape)].map((name) => [name, name])),
) as { readonly [K in EnvName]: K };

/**
 * The stack output that publishes the function's team-control variables (JSON: name → value), so `ormcp --stack`
 * shows the policy and default caps the deployment runs with (lambda/cli/server-settings.ts) without Lambda rights.
 */
export const TEAM_CONTROL_OUTPUT = 'TeamControl';
/** Past this many characters the output is left out (CloudFormation bounds output values): the CLI then says so. */
export const TEAM_CONTROL_OUTPUT_MAX_CHARS = 4_000;
