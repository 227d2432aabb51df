/**
 * The app: the one request handler (web Request → Response) behind every host — the Lambda adapter, the local
 * server and the tests — wired by the composition root (compose.ts). It owns routing, the HTTP-level guards
 * (method, origin, size, authentication) and hands authenticated MCP traffic to the SDK's stateless handler,
 * which builds a fresh server per request.
 */
import { createMcpHandler, localhostAllowedOrigins, validateOriginHeader, type AuthInfo } from '@modelcontextprotocol/server';
import type { Authenticator, Principal } from '../auth/authenticator.js';
import { MCP_PATH, MCP_SCOPE, serverUrls, type ServerUrls } from '../oauth/metadata.js';
import type { AuthorizationServer } from '../oauth/authorization-server.js';
import type { ConversationStore } from '../store/conversation-store.js';
import { signInNotConfiguredPage } from '../ui/pages.js';
import type { WebApp } from '../web/web-app.js';
import { CatalogCache } from '../catalog/catalog.js';
import { createMcpServer } from '../mcp/server.js';
import type { ImageStore } from '../images/image-store.js';
import { isFilesPath, serveImageFile } from '../images/files-route.js';
import type { ImageFileReader } from '../images/local-image-store.js';
import type { Limiter } from '../limits/limiter.js';
import type { Logger } from '../observability/logger.js';
import { errorName } from '../observability/error-name.js';
import type { Metrics } from '../observability/metrics.js';
import { UpstreamTrace, requestIdOf } from '../observability/request-context.js';
import { OpenRouterClient } from '../openrouter/client.js';
import type { TeamControl } from '../team/guard.js';
import type { AppConfig } from './config.js';
import { json, jsonRpcError } from '../http/json.js';
import { trimTrailingSlashes } from '../http/path.js';

export interface AppDeps {
  config: AppConfig;
  authenticator: Authenticator;
  logger: Logger;
  /** Shared across requests; defaults to a fresh cache with the configured TTL. */
  catalog?: CatalogCache;
  /** fetch used for upstream calls (tests may pass an instrumented one). */
  upstreamFetch?: typeof fetch;
  /** Per-user limits checked before upstream calls (default: none). */
  limiter?: Limiter;
  /** Per-tool-call metrics (default: none). */
  metrics?: Metrics;
  /** Without it only /mcp is served (the sign-in routes answer "not configured"). */
  signIn?: SignIn;
  /** Team control around paid calls: defaults, operator policy, budgets, usage ledger (default: none). */
  team?: TeamControl;
  /** Conversations that continue (none: storage is off, see conversationStoreFor). */
  conversations?: ConversationStore | undefined;
  /** Where generated images are kept for their links (default: none, images are returned inline only). */
  images?: ImageParts;
}

/** The host's image storage: S3 on AWS, the data dir under `npm start` (which also serves `/files/<id>`). */
export interface ImageParts {
  store: ImageStore;
  /** Serves `/files/<id>` (`npm start` only; on AWS the links go to S3). */
  files?: ImageFileReader;
}

/** Sign-in: the OAuth façade and the self-service pages, built by the composition root (compose.ts). */
export interface SignIn {
  auth: AuthorizationServer;
  web: WebApp;
}

export interface App {
  fetch(request: Request): Promise<Response>;
  close(): Promise<void>;
}

const OAUTH_CORS_PATHS = new Set(['/oauth/token', '/oauth/register', '/oauth/revoke']);
const MAX_TOKEN_LENGTH = 1024;
const CORS_ALLOW_HEADERS = 'Authorization, Content-Type, Accept, Mcp-Protocol-Version, Mcp-Session-Id, Last-Event-ID';
const CORS_EXPOSE_HEADERS = 'WWW-Authenticate, Mcp-Protocol-Version, Mcp-Session-Id';

export function createApp(deps: AppDeps): App {
  const { config, logger } = deps;
  const catalog = deps.catalog ?? new CatalogCache(config.catalogTtlMs);
  const allowedOrigins = [
    ...localhostAllowedOrigins(),
    ...(config.publicUrl ? [new URL(config.publicUrl).hostname] : []),
    ...config.allowedOrigins,
  ];

  const { signIn } = deps;
  const urlsFor = (request: Request): ServerUrls => serverUrls(config.publicUrl ?? new URL(request.url).origin);

  const mcp = createMcpHandler(
    ({ authInfo, requestInfo }) => {
      const principal = authInfo?.extra?.principal as Principal | undefined;
      // The HTTP layer authenticates before the SDK is reached; no principal here is a wiring bug.
      if (!principal) throw new Error('unauthenticated MCP request reached the server factory');
      const upstream = new UpstreamTrace();
      return createMcpServer({
        principal,
        catalog,
        logger,
        progressIntervalMs: config.progressIntervalMs,
        limiter: deps.limiter,
        metrics: deps.metrics,
        team: deps.team,
        requestId: requestIdOf(requestInfo),
        upstream,
        conversations: deps.conversations,
        images: deps.images?.store,
        openRouter: new OpenRouterClient({
          baseUrl: config.openRouterBaseUrl,
          apiKey: principal.openRouterKey ?? '',
          title: config.appTitle,
          ...(config.appUrl ? { referer: config.appUrl } : {}),
          fetch: upstream.wrap(deps.upstreamFetch ?? fetch),
          generationTimeoutMs: config.upstreamTimeoutMs,
        }),
      });
    },
    {
      legacy: 'stateless',
      // Always answer modern requests over SSE so keep-alive comments flow from the start: API Gateway cuts a
      // streamed response after 5 minutes without bytes, and a long generation without progress sends none.
      responseMode: 'sse',
      keepAliveMs: config.sseKeepAliveMs,
      maxRequestBodySize: config.maxBodyBytes,
      onerror: (error) => logger.warn('mcp request rejected', { error: error.message.slice(0, 200) }),
    },
  );

  async function serveMcp(request: Request, urls: ServerUrls): Promise<Response> {
    const origin = request.headers.get('origin');
    if (origin && !validateOriginHeader(origin, allowedOrigins).ok) {
      return jsonRpcError(403, -32000, 'Forbidden: this Origin may not call the MCP endpoint.');
    }
    const cors = origin ? corsHeaders(origin) : undefined;
    if (request.method === 'OPTIONS') {
      return new Response(null, {
        status: 204,
        headers: { ...cors, 'Access-Control-Allow-Methods': 'POST, OPTIONS', 'Access-Control-Allow-Headers': CORS_ALLOW_HEADERS, 'Access-Control-Max-Age': '600' },
      });
    }
    if (request.method !== 'POST') {
      return withHeaders(jsonRpcError(405, -32000, 'Method not allowed: this server is stateless; use POST.'), { Allow: 'POST', ...cors });
    }
    const declared = Number(request.headers.get('content-length') ?? '0');
    if (declared > config.maxBodyBytes) {
      return withHeaders(jsonRpcError(413, -32000, `Request body too large (limit ${config.maxBodyBytes} bytes).`), cors);
    }

    const principal = await authenticate(request);
    // An OAuth token is good only for the resource it was issued for (RFC 8707); static tokens have no audience.
    if (!principal || (principal.audience !== undefined && principal.audience !== urls.resource)) {
      return withHeaders(unauthorized(request.headers.has('authorization'), urls), cors);
    }

    const authInfo: AuthInfo = { token: '', clientId: principal.tokenId, scopes: ['mcp'], extra: { principal } };
    const response = await mcp.fetch(request, { authInfo });
    return cors ? withHeaders(response, cors) : response;
  }

  async function authenticate(request: Request): Promise<Principal | undefined> {
    const header = request.headers.get('authorization');
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    const token = match?.[1];
    if (!token || token.length > MAX_TOKEN_LENGTH) return undefined;
    try {
      return await deps.authenticator.authenticate(token);
    } catch (err) {
      // A failing store must not read as "bad token" to the operator: log it, but still refuse.
      logger.error('authentication backend failed', { error: errorName(err) });
      throw new ServiceUnavailable();
    }
  }

  return {
    async fetch(request) {
      const started = performance.now();
      let response: Response;
      try {
        const path = trimTrailingSlashes(new URL(request.url).pathname) || '/';
        const urls = urlsFor(request);
        if (path === MCP_PATH) response = await serveMcp(request, urls);
        else if (deps.images?.files && isFilesPath(path)) response = await serveImageFile(deps.images.files, request, path);
        else if (signIn) response = (await routeSignIn(signIn, request, path, urls)) ?? notFound();
        else if (path === '/' && (request.method === 'GET' || request.method === 'HEAD')) response = landing(urls);
        else if (path === '/app' || path.startsWith('/app/')) response = signInNotConfiguredPage(urls.base);
        else response = notFound();
      } catch (err) {
        if (err instanceof ServiceUnavailable) {
          response = withHeaders(jsonRpcError(503, -32000, 'The account store is unavailable; try again shortly.'), { 'Retry-After': '5' });
        } else {
          logger.error('request failed', { error: errorName(err) });
          response = jsonRpcError(500, -32603, 'Internal server error.');
        }
      }
      logger.debug('http request', { method: request.method, status: response.status, latency_ms: Math.round(performance.now() - started) });
      return response;
    },
    close: () => mcp.close(),
  };
}

class ServiceUnavailable extends Error {}

async function routeSignIn(s: SignIn, request: Request, path: string, urls: ServerUrls): Promise<Response | undefined> {
  // Token, registration and revocation take no cookies, so any origin may call them (browser-based clients do).
  if (OAUTH_CORS_PATHS.has(path)) {
    const cors = { 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Headers': 'Authorization, Content-Type', 'Access-Control-Allow-Methods': 'POST, OPTIONS' };
    if (request.method === 'OPTIONS') return new Response(null, { status: 204, headers: { ...cors, 'Access-Control-Max-Age': '600' } });
    const res = await s.auth.handle(request, path, urls);
    return res && withHeaders(res, cors);
  }
  return (await s.auth.handle(request, path, urls)) ?? (await s.web.handle(request, path, urls));
}

function notFound(): Response {
  return json(404, { error: 'not_found', error_description: `Nothing here. The MCP endpoint is ${MCP_PATH}.` });
}

function corsHeaders(origin: string): Record<string, string> {
  return { 'Access-Control-Allow-Origin': origin, 'Access-Control-Expose-Headers': CORS_EXPOSE_HEADERS, Vary: 'Origin' };
}

function unauthorized(hadCredentials: boolean, urls: ServerUrls): Response {
  // RFC 6750: no error code when the request carried no credentials at all. RFC 9728: where to discover how to get one.
  const discovery = `resource_metadata="${urls.resourceMetadata}", scope="${MCP_SCOPE}"`;
  const challenge = hadCredentials
    ? `Bearer realm="openrouter-mcp", error="invalid_token", error_description="The token is missing, malformed, expired or revoked", ${discovery}`
    : `Bearer realm="openrouter-mcp", ${discovery}`;
  return json(
    401,
    { error: 'invalid_token', error_description: 'Authentication required: send "Authorization: Bearer <token>" with a valid, unrevoked MCP token.' },
    { 'WWW-Authenticate': challenge },
  );
}

function withHeaders(response: Response, headers: Record<string, string> | undefined): Response {
  if (!headers) return response;
  const merged = new Headers(response.headers);
  for (const [k, v] of Object.entries(headers)) merged.set(k, v);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers: merged });
}

function landing(urls: ServerUrls): Response {
  return new Response(
    `OpenRouter MCP server\n\nMCP endpoint (Streamable HTTP, POST): ${urls.resource}\nSend "Authorization: Bearer <your MCP token>".\n`,
    { status: 200, headers: { 'Content-Type': 'text/plain; charset=utf-8' } },
  );
}
