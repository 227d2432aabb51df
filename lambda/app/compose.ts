/**
 * The composition root: the one place the object graph behind every host is built — the stores on the table,
 * the authenticator, the per-user limiter, sign-in (the OAuth façade and the pages), the app and its HTTP
 * metrics. The hosts (the Lambda, `npm start`, the tests) differ only in the parts they pass in:
 * where the table and the server secret come from, where logs and metrics go, where limits are counted, which
 * identity provider users sign in with, how the management key is read and where generated images are kept.
 */
import type { Authenticator } from '../auth/authenticator.js';
import { CachedAuthenticator } from '../auth/cached-authenticator.js';
import type { CatalogCache } from '../catalog/catalog.js';
import { processLimiter, tableLimiter, type Limiter } from '../limits/index.js';
import { AuthorizationFlow } from '../oauth/authorization-flow.js';
import { AuthorizationServer } from '../oauth/authorization-server.js';
import { httpsMetadataFetcher, limitedMetadataFetcher, type MetadataFetcher } from '../oauth/client-metadata.js';
import { ClientDirectory } from '../oauth/clients.js';
import { IdentitySignIn } from '../oauth/sign-in.js';
import { TokenEndpoint } from '../oauth/token-endpoint.js';
import type { IdentityProvider } from '../oauth/upstream-oidc.js';
import type { Logger } from '../observability/logger.js';
import { PolicyGuardrail, guardrailRulesFor } from '../openrouter/guardrails.js';
import { NO_METRICS, emfMetrics, type Metrics } from '../observability/metrics.js';
import { KeyProvisioner } from '../web/provisioning.js';
import { Cookies } from '../ui/session.js';
import { WebApp } from '../web/web-app.js';
import { createApp, type App, type ImageParts, type SignIn } from './app.js';
import type { AppConfig } from './config.js';
import { TeamControl } from '../team/guard.js';
import { withHttpMetrics } from './http-metrics.js';
import type { Stores, Table } from './stores.js';

/**
 * Where per-user limits are counted: in the table, so every instance sees the same counts (the Lambda), or in
 * this process's memory, when one process serves every request (`npm start`).
 */
export type LimiterPlacement = { kind: 'table'; table: Table; timeoutMs?: number } | { kind: 'process' };

/** What sign-in needs besides the stores; absent → /mcp only. */
export interface SignInParts {
  /** The identity provider users sign in with (Cognito in the stack); absent → OAuth and pages answer "not configured". */
  identity?: IdentityProvider;
  /** Reads the operator's OpenRouter management key, when per-user keys may be created with it; called on use only. */
  managementKey?: () => Promise<string>;
  /** Fetches client ID metadata documents (default: the SSRF-fenced https fetcher). */
  metadataFetcher?: MetadataFetcher;
}

export interface AppParts {
  config: AppConfig;
  logger: Logger;
  metrics: Metrics;
  /**
   * The stores, or a promise of them: the Lambda passes one that waits for the server secret, and everything
   * that does not need the secret is built here while that read is in flight.
   */
  stores: Stores | Promise<Stores>;
  limiter: LimiterPlacement;
  /** How long a verified token is remembered (0: every request reads the store). */
  authCacheMs?: number;
  signIn?: SignInParts;
  /** fetch used for upstream calls (tests may pass an instrumented one). */
  upstreamFetch?: typeof fetch;
  /** Shared across requests; defaults to a fresh cache with the configured TTL. */
  catalog?: CatalogCache;
  /** Where generated images are kept for their links (S3 on AWS, the data dir locally); absent → inline only. */
  images?: ImageParts;
}

/** The app, and a way to wait for the work it left running after its responses (limit releases, last-used stamps, ledger records). */
export type ComposedApp = App & { settle(): Promise<void> };

/** The app every host serves: routing, MCP, sign-in and limits, with every response counted in the metrics. */
export async function composeApp(parts: AppParts): Promise<ComposedApp> {
  const { config, logger, metrics } = parts;
  const limiter = limiterFor(config, parts.limiter, logger);
  const stores = await parts.stores;
  const authenticator: Authenticator = parts.authCacheMs ? new CachedAuthenticator(stores.accounts, parts.authCacheMs) : stores.accounts;
  // Defaults, the operator policy, budgets and the usage ledger around every paid call.
  // Admission reuses a user's recent settings read for as long as a verified token is reused, 5 s at most (guard.ts).
  const team = TeamControl.fromConfig(config, stores.ledger, logger, metrics, parts.authCacheMs ?? 0);
  const app = createApp({
    config,
    logger,
    authenticator,
    limiter,
    metrics,
    team,
    ...(stores.conversations ? { conversations: stores.conversations } : {}),
    ...(parts.catalog ? { catalog: parts.catalog } : {}),
    ...(parts.upstreamFetch ? { upstreamFetch: parts.upstreamFetch } : {}),
    ...(parts.images ? { images: parts.images } : {}),
    ...(parts.signIn ? { signIn: createSignIn(stores, parts.signIn, config, logger, parts.upstreamFetch) } : {}),
  });
  return { ...withHttpMetrics(app, metrics), settle: async () => void (await Promise.all([limiter.settle(), stores.accounts.settle(), team.settle(), stores.conversations?.settle()])) };
}

/** EMF lines (on stdout unless `write` says otherwise) when the configuration turns metrics on, else none. */
export function configuredMetrics(config: AppConfig, write?: (line: string) => void): Metrics {
  return config.metrics === 'emf' ? emfMetrics({ service: config.metricsService, ...(write ? { write } : {}) }) : NO_METRICS;
}

function limiterFor(config: AppConfig, placement: LimiterPlacement, logger: Logger): Limiter {
  if (placement.kind === 'process') return processLimiter(config.limits);
  const { table, timeoutMs } = placement;
  return tableLimiter(config.limits, { client: table.client, tableName: table.tableName, logger, ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
}

export function createSignIn(stores: Stores, parts: SignInParts, config: AppConfig, logger: Logger, upstreamFetch?: typeof fetch): SignIn {
  const { accounts, oauth, keyring } = stores;
  const secure = (config.publicUrl ?? '').startsWith('https://');
  const cookies = new Cookies(keyring, secure);
  const clients = new ClientDirectory({ store: oauth, metadata: parts.metadataFetcher ?? limitedMetadataFetcher(httpsMetadataFetcher()), extraRedirectUris: config.oauthRedirectUris });
  const openRouter = { baseUrl: config.openRouterBaseUrl, authUrl: config.openRouterAuthUrl, ...(upstreamFetch ? { fetch: upstreamFetch } : {}) };
  // Keys we create carry what of the policy a guardrail can express, so it holds even where the key leaks to.
  const guardrailRules = guardrailRulesFor(config.policy);
  const provisioning = parts.managementKey
    ? new KeyProvisioner({
        accounts,
        openRouter,
        managementKey: parts.managementKey,
        logger,
        allowReprovision: config.allowReprovision,
        ...(config.provisionedKeyLimitUsd !== undefined ? { limitUsd: config.provisionedKeyLimitUsd } : {}),
        ...(guardrailRules ? { guardrail: new PolicyGuardrail(openRouter, guardrailRules) } : {}),
      })
    : undefined;
  const signIn = new IdentitySignIn({
    accounts,
    ...(parts.identity ? { identity: parts.identity } : {}),
    cookies,
    logger,
    ...(provisioning ? { afterSignIn: (userId: string) => provisioning.provisionIfMissing(userId) } : {}),
    adminAccess: config.admin,
  });
  const flow = new AuthorizationFlow({ accounts, store: oauth, clients, signIn, cookies, logger, openRouterAuthOrigin: new URL(config.openRouterAuthUrl).origin });
  const tokens = new TokenEndpoint({ accounts, store: oauth, clients, logger, accessTokenTtlSeconds: config.accessTokenSeconds });
  const auth = new AuthorizationServer({ signIn, flow, tokens, clients, logger, resourceName: config.appTitle });
  const web = new WebApp({
    accounts,
    auth: signIn,
    cookies,
    logger,
    openRouter,
    ...(provisioning ? { provisioning } : {}),
    team: { ledger: stores.ledger, budgetDefaults: config.budgetDefaults, policy: config.policy },
    ...(stores.conversations ? { conversations: stores.conversations } : {}),
  });
  return { auth, web };
}
