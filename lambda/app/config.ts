/**
 * Runtime configuration, parsed once from the environment with zod so a bad value fails at start-up
 * with a message naming the variable, not later inside a request.
 */
import * as z from 'zod';

const int = (fallback: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(fallback);

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
    openRouterBaseUrl: e.OPENROUTER_BASE_URL.replace(/\/+$/, ''),
    ...(e.ORMCP_PUBLIC_URL ? { publicUrl: e.ORMCP_PUBLIC_URL.replace(/\/+$/, '') } : {}),
    allowedOrigins: e.ORMCP_ALLOWED_ORIGINS.split(',').map((s) => s.trim()).filter(Boolean),
    maxBodyBytes: e.ORMCP_MAX_BODY_BYTES,
    appTitle: e.ORMCP_APP_TITLE,
    ...(e.ORMCP_APP_URL ? { appUrl: e.ORMCP_APP_URL } : {}),
    catalogTtlMs: e.ORMCP_CATALOG_TTL_SECONDS * 1000,
    progressIntervalMs: e.ORMCP_PROGRESS_INTERVAL_MS,
    upstreamTimeoutMs: e.ORMCP_UPSTREAM_TIMEOUT_MS,
    sseKeepAliveMs: e.ORMCP_SSE_KEEPALIVE_MS,
    logLevel: e.ORMCP_LOG_LEVEL,
    ...overrides,
  };
}
