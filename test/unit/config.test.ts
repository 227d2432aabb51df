import { ConfigError, loadConfig } from '../../lambda/app/config.js';

function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  test('defaults with an empty environment', () => {
    expect(loadConfig({})).toEqual({
      openRouterBaseUrl: 'https://openrouter.ai/api/v1',
      allowedOrigins: [],
      maxBodyBytes: 4 * 1024 * 1024,
      appTitle: 'OpenRouter MCP',
      catalogTtlMs: 600_000,
      progressIntervalMs: 100,
      upstreamTimeoutMs: 600_000,
      sseKeepAliveMs: 15_000,
      logLevel: 'info',
      limits: { ratePerMinute: 60, maxConcurrent: 4 },
      metrics: 'off',
      metricsService: 'openrouter-mcp',
      oauthRedirectUris: [],
      accessTokenSeconds: 3600,
      openRouterAuthUrl: 'https://openrouter.ai/auth',
      allowReprovision: false,
      budgetDefaults: {},
      policy: { allowedModels: [], deniedModels: [], requireZdr: false, dataCollection: 'allow', maxPricePerMillion: {}, allowedPlugins: 'all' },
      ledgerDays: 90,
      admin: {},
    });
  });

  test('ignores unrelated environment variables', () => {
    expect(loadConfig({ PATH: '/usr/bin', HOME: '/root', ORMCP_UNKNOWN: 'x' })).toEqual(loadConfig({}));
  });

  test('reads every variable', () => {
    const c = loadConfig({
      OPENROUTER_BASE_URL: 'http://127.0.0.1:9999/api/v1',
      ORMCP_PUBLIC_URL: 'https://mcp.example.com',
      ORMCP_ALLOWED_ORIGINS: 'app.example.com',
      ORMCP_MAX_BODY_BYTES: '2048',
      ORMCP_APP_TITLE: 'My MCP',
      ORMCP_APP_URL: 'https://example.com/app',
      ORMCP_CATALOG_TTL_SECONDS: '30',
      ORMCP_PROGRESS_INTERVAL_MS: '0',
      ORMCP_UPSTREAM_TIMEOUT_MS: '5000',
      ORMCP_SSE_KEEPALIVE_MS: '250',
      ORMCP_LOG_LEVEL: 'debug',
      ORMCP_RATE_LIMIT_PER_MINUTE: '10',
      ORMCP_MAX_CONCURRENT_PER_USER: '2',
      ORMCP_METRICS: 'emf',
      ORMCP_METRICS_SERVICE: 'my-stack',
      ORMCP_OIDC_ISSUER: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc',
      ORMCP_OIDC_CLIENT_ID: 'client123',
      ORMCP_OIDC_CLIENT_SECRET: 'shh',
      ORMCP_OIDC_LOGOUT_URL: 'https://login.example.com/logout',
      ORMCP_OAUTH_REDIRECT_URIS: 'https://a.example/cb, myapp://cb',
      ORMCP_ACCESS_TOKEN_SECONDS: '900',
      ORMCP_OPENROUTER_AUTH_URL: 'https://openrouter.example/auth',
      ORMCP_PROVISIONED_KEY_LIMIT_USD: '12.5',
      ORMCP_ALLOW_REPROVISION: 'true',
      ORMCP_ADMIN_GROUP: 'ops',
      ORMCP_ADMIN_CLAIM: 'custom:groups',
    });
    expect(c).toEqual({
      openRouterBaseUrl: 'http://127.0.0.1:9999/api/v1',
      publicUrl: 'https://mcp.example.com',
      allowedOrigins: ['app.example.com'],
      maxBodyBytes: 2048,
      appTitle: 'My MCP',
      appUrl: 'https://example.com/app',
      catalogTtlMs: 30_000,
      progressIntervalMs: 0,
      upstreamTimeoutMs: 5000,
      sseKeepAliveMs: 250,
      logLevel: 'debug',
      limits: { ratePerMinute: 10, maxConcurrent: 2 },
      metrics: 'emf',
      metricsService: 'my-stack',
      oidc: { issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc', clientId: 'client123', clientSecret: 'shh', logoutUrl: 'https://login.example.com/logout', groupsClaim: 'custom:groups' },
      oauthRedirectUris: ['https://a.example/cb', 'myapp://cb'],
      accessTokenSeconds: 900,
      openRouterAuthUrl: 'https://openrouter.example/auth',
      provisionedKeyLimitUsd: 12.5,
      allowReprovision: true,
      budgetDefaults: {},
      policy: { allowedModels: [], deniedModels: [], requireZdr: false, dataCollection: 'allow', maxPricePerMillion: {}, allowedPlugins: 'all' },
      ledgerDays: 90,
      admin: { group: 'ops', claim: 'custom:groups' },
    });
  });

  test('strips trailing slashes from the base and public URLs', () => {
    const c = loadConfig({ OPENROUTER_BASE_URL: 'https://openrouter.ai/api/v1///', ORMCP_PUBLIC_URL: 'https://mcp.example.com/' });
    expect(c.openRouterBaseUrl).toBe('https://openrouter.ai/api/v1');
    expect(c.publicUrl).toBe('https://mcp.example.com');
  });

  test('explicit overrides win over the environment', () => {
    const c = loadConfig({ ORMCP_LOG_LEVEL: 'debug', ORMCP_PUBLIC_URL: 'https://a.example' }, { logLevel: 'error', publicUrl: 'http://127.0.0.1:1234', catalogTtlMs: 0 });
    expect(c.logLevel).toBe('error');
    expect(c.publicUrl).toBe('http://127.0.0.1:1234');
    expect(c.catalogTtlMs).toBe(0);
    expect(c.appTitle).toBe('OpenRouter MCP');
  });

  test('splits ORMCP_ALLOWED_ORIGINS on commas, trimming and dropping empties', () => {
    expect(loadConfig({ ORMCP_ALLOWED_ORIGINS: ' a.example.com, b.example.com ,,c.example.com, ' }).allowedOrigins).toEqual([
      'a.example.com',
      'b.example.com',
      'c.example.com',
    ]);
    expect(loadConfig({ ORMCP_ALLOWED_ORIGINS: ' , ' }).allowedOrigins).toEqual([]);
  });

  test('numeric limits are inclusive', () => {
    expect(loadConfig({ ORMCP_MAX_BODY_BYTES: '1024' }).maxBodyBytes).toBe(1024);
    expect(loadConfig({ ORMCP_MAX_BODY_BYTES: String(6 * 1024 * 1024) }).maxBodyBytes).toBe(6 * 1024 * 1024);
    expect(loadConfig({ ORMCP_CATALOG_TTL_SECONDS: '86400' }).catalogTtlMs).toBe(86_400_000);
    expect(loadConfig({ ORMCP_UPSTREAM_TIMEOUT_MS: '900000' }).upstreamTimeoutMs).toBe(900_000);
  });

  test.each([
    ['OPENROUTER_BASE_URL', 'not a url'],
    ['ORMCP_PUBLIC_URL', 'mcp.example.com'],
    ['ORMCP_APP_URL', 'nope'],
    ['ORMCP_MAX_BODY_BYTES', '1023'],
    ['ORMCP_MAX_BODY_BYTES', String(6 * 1024 * 1024 + 1)],
    ['ORMCP_MAX_BODY_BYTES', 'lots'],
    ['ORMCP_CATALOG_TTL_SECONDS', '-1'],
    ['ORMCP_CATALOG_TTL_SECONDS', '86401'],
    ['ORMCP_CATALOG_TTL_SECONDS', '1.5'],
    ['ORMCP_PROGRESS_INTERVAL_MS', '10001'],
    ['ORMCP_UPSTREAM_TIMEOUT_MS', '999'],
    ['ORMCP_UPSTREAM_TIMEOUT_MS', '900001'],
    ['ORMCP_LOG_LEVEL', 'verbose'],
    ['ORMCP_LOG_LEVEL', 'INFO'],
    ['ORMCP_APP_TITLE', 'x'.repeat(101)],
    ['ORMCP_ALLOW_REPROVISION', 'yes'],
  ])('an invalid %s (%j) throws a ConfigError naming the variable', (name, value) => {
    const err = configError({ [name]: value });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('ConfigError');
    expect(err.message).toMatch(/^Invalid configuration: /);
    expect(err.message).toContain(`${name}:`);
  });

  test('names every invalid variable at once', () => {
    const err = configError({ ORMCP_LOG_LEVEL: 'loud', ORMCP_MAX_BODY_BYTES: '1' });
    expect(err.message).toContain('ORMCP_LOG_LEVEL');
    expect(err.message).toContain('ORMCP_MAX_BODY_BYTES');
  });
});

describe('loadConfig: team control', () => {
  test('reads budgets, the policy and ledger retention', () => {
    const c = loadConfig({
      ORMCP_BUDGET_DAILY_USD: '2.5',
      ORMCP_BUDGET_WEEKLY_USD: '10',
      ORMCP_BUDGET_MONTHLY_USD: '0',
      ORMCP_ALLOWED_MODELS: ' openai/* , *:free,,anthropic/claude-*',
      ORMCP_DENIED_MODELS: 'openai/o1-pro',
      ORMCP_REQUIRE_ZDR: 'true',
      ORMCP_DATA_COLLECTION: 'deny',
      ORMCP_MAX_PRICE_PER_M_IN: '3',
      ORMCP_MAX_PRICE_PER_M_OUT: '15.75',
      ORMCP_ALLOWED_PLUGINS: 'file-parser, web',
      ORMCP_LEDGER_DAYS: '30',
    });
    expect(c.budgetDefaults).toEqual({ daily: 2.5, weekly: 10, monthly: 0 });
    expect(c.policy).toEqual({
      allowedModels: ['openai/*', '*:free', 'anthropic/claude-*'],
      deniedModels: ['openai/o1-pro'],
      requireZdr: true,
      dataCollection: 'deny',
      maxPricePerMillion: { prompt: '3', completion: '15.75' },
      allowedPlugins: ['file-parser', 'web'],
    });
    expect(c.ledgerDays).toBe(30);
  });

  test('ORMCP_ALLOWED_PLUGINS=none allows no plugin; unset or empty allows all', () => {
    expect(loadConfig({ ORMCP_ALLOWED_PLUGINS: 'none' }).policy.allowedPlugins).toEqual([]);
    expect(loadConfig({ ORMCP_ALLOWED_PLUGINS: '' }).policy.allowedPlugins).toBe('all');
    expect(loadConfig({}).policy.allowedPlugins).toBe('all');
  });

  test.each([
    ['ORMCP_BUDGET_DAILY_USD', '-1'],
    ['ORMCP_BUDGET_WEEKLY_USD', 'ten'],
    ['ORMCP_BUDGET_MONTHLY_USD', '1e3'],
    ['ORMCP_ALLOWED_MODELS', 'openai/(gpt|o1).*'],
    ['ORMCP_DENIED_MODELS', 'a b'],
    ['ORMCP_DENIED_MODELS', 'x'.repeat(201)],
    ['ORMCP_REQUIRE_ZDR', 'yes'],
    ['ORMCP_DATA_COLLECTION', 'never'],
    ['ORMCP_MAX_PRICE_PER_M_IN', '-0.5'],
    ['ORMCP_MAX_PRICE_PER_M_OUT', '1,5'],
    ['ORMCP_ALLOWED_PLUGINS', 'Web Search'],
    ['ORMCP_LEDGER_DAYS', '0'],
    ['ORMCP_LEDGER_DAYS', '3651'],
  ])('an invalid %s (%j) throws a ConfigError naming the variable', (name, value) => {
    expect(configError({ [name]: value }).message).toContain(`${name}`);
  });
});
