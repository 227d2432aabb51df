/**
 * `npm start`: the MCP server on 127.0.0.1 with embedded defaults — DynamoDB (dynalite) and the server
 * secret under the data dir, kept across restarts. With OPENROUTER_API_KEY set and no user yet, a local user is created
 * and its token printed once.
 */
import { resolve } from 'node:path';
import { createApp } from '../app/handler.js';
import { loadConfig } from '../app/config.js';
import { identityProviderFor } from '../oauth/upstream-oidc.js';
import { processLimiter } from '../limits/index.js';
import { withHttpMetrics } from '../observability/http-metrics.js';
import { createLogger } from '../observability/logger.js';
import { NO_METRICS, emfMetrics } from '../observability/metrics.js';
import { openLocalStore } from './local-store.js';
import { listen } from './node-adapter.js';
import { startupFailureLine, startupSettings } from './startup-failure.js';

async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 8787);
  const host = process.env.HOST ?? '127.0.0.1';
  const dataDir = resolve(process.env.ORMCP_DATA_DIR ?? '.ormcp');
  const config = loadConfig(process.env, { publicUrl: process.env.ORMCP_PUBLIC_URL ?? `http://${host}:${port}` });
  // Logs go to stderr so stdout carries only what the operator must copy (URL, token).
  const logger = createLogger({ level: config.logLevel, write: (line) => process.stderr.write(`${line}\n`) });

  const { store, oauth, keyring, close: closeStore } = await openLocalStore(dataDir, { logger, advertise: true });
  let firstToken: string | undefined;
  const key = process.env.OPENROUTER_API_KEY;
  let users = await store.listUsers();
  if (key && users.length === 0) {
    const user = await store.createUser('local');
    await store.setOpenRouterKey(user.userId, key);
    firstToken = (await store.issueToken(user.userId, { label: 'created by npm start' })).token;
    users = [user];
  }

  const identity = identityProviderFor(config.oidc);
  const managementKey = process.env.ORMCP_OPENROUTER_MANAGEMENT_KEY;
  // One process serves every local request, so the limits can be counted in memory; metrics (off unless
  // ORMCP_METRICS=emf) go to stderr with the logs.
  const metrics = config.metrics === 'emf' ? emfMetrics({ service: config.metricsService, write: (line) => process.stderr.write(`${line}\n`) }) : NO_METRICS;
  const app = withHttpMetrics(createApp({
    config,
    authenticator: store,
    logger,
    limiter: processLimiter(config.limits),
    metrics,
    signIn: { accounts: store, oauth, keyring, ...(identity ? { identity } : {}), ...(managementKey ? { managementKey: async () => managementKey } : {}) },
  }), metrics);
  const server = await listen(app.fetch, { host, port });
  const mcpUrl = `${server.url}/mcp`;
  process.stdout.write(`OpenRouter MCP server listening on ${mcpUrl}\n`);
  if (firstToken) {
    process.stdout.write(`Created local user "local". Your MCP token (shown once, keep it secret):\n${firstToken}\n`);
    process.stdout.write(`Try it: claude mcp add --transport http openrouter ${mcpUrl} --header "Authorization: Bearer <token>"\n`);
  } else if (users.length === 0) {
    process.stdout.write('No users yet: restart with OPENROUTER_API_KEY=<your OpenRouter key>, or run `npx ormcp token issue --user <name>`.\n');
  }

  const shutdown = () => {
    void Promise.all([app.close(), server.close()])
      .then(closeStore)
      .finally(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((err: unknown) => {
  process.stderr.write(`${startupFailureLine(err, startupSettings(process.env))}\n`);
  process.exit(1);
});
