/**
 * `npm start`: the MCP server on 127.0.0.1 with embedded defaults — DynamoDB (dynalite) and the server
 * secret under the data dir, kept across restarts. With OPENROUTER_API_KEY set and no user yet, a local user is created
 * and its token printed once. Without ORMCP_OIDC_*, sign-in uses the local identity provider (local-idp.ts).
 */
import { join, resolve } from 'node:path';
import { composeApp, configuredMetrics } from '../app/compose.js';
import { loadConfig } from '../app/config.js';
import { MCP_PATH } from '../oauth/metadata.js';
import { identityProviderFor } from '../oauth/upstream-oidc.js';
import { LocalImageStore } from '../images/local-image-store.js';
import { createLogger } from '../observability/logger.js';
import { startLocalIdentityProvider, type LocalIdentityProvider } from './local-idp.js';
import { LocalPasswords } from './local-passwords.js';
import { openLocalStore } from './local-store.js';
import { LOCAL_AUTH_CACHE_MS } from '../auth/cached-authenticator.js';
import { listen, localAdmissionLimits } from './node-adapter.js';
import { writeServerUrl } from './server-url.js';
import { startupFailureLine, startupSettings } from './startup-failure.js';

/** How long `npm start` lets ledger records and counters wait to be written together (ledger-store.ts). */
const LOCAL_WRITE_BEHIND_MS = 500;

async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 8787);
  const host = process.env.HOST ?? '127.0.0.1';
  const dataDir = resolve(process.env.ORMCP_DATA_DIR ?? '.ormcp');
  const config = loadConfig(process.env, { publicUrl: process.env.ORMCP_PUBLIC_URL ?? `http://${host}:${port}` });
  // Logs go to stderr so stdout carries only what the operator must copy (URL, token).
  const logger = createLogger({ level: config.logLevel, write: (line) => process.stderr.write(`${line}\n`) });

  const { store, oauth, keyring, ledger, conversations, close: closeStore } = await openLocalStore(dataDir, {
    logger,
    advertise: true,
    ledgerDays: config.ledgerDays,
    conversationTtlHours: config.conversationTtlHours,
    // The embedded table shares this one process: bookkeeping is written after the call and in batches, off the
    // next call's path (a stop writes what waits).
    writeBehindMs: LOCAL_WRITE_BEHIND_MS,
  });
  let firstToken: string | undefined;
  const key = process.env.OPENROUTER_API_KEY;
  let users = await store.listUsers();
  if (key && users.length === 0) {
    const user = await store.createUser('local');
    await store.setOpenRouterKey(user.userId, key);
    firstToken = (await store.issueToken(user.userId, { label: 'created by npm start' })).token;
    users = [user];
  }

  // No external provider configured: the local one stands in for Cognito, through the very same OIDC client.
  const passwords = new LocalPasswords(dataDir);
  let localIdp: LocalIdentityProvider | undefined;
  if (!config.oidc) localIdp = await startLocalIdentityProvider({ dataDir, serverUrl: config.publicUrl!, accounts: store, passwords, logger });
  const identity = identityProviderFor(config.oidc ?? (localIdp && { issuer: localIdp.issuer, clientId: localIdp.clientId }));
  const managementKey = process.env.ORMCP_OPENROUTER_MANAGEMENT_KEY;
  // Generated images under the data dir, served at /files/<id> (unguessable, expiring, size-bounded).
  const images = new LocalImageStore({ dir: join(dataDir, 'images'), baseUrl: config.publicUrl! });
  // One process serves every local request, so the limits can be counted in memory; metrics (off unless
  // ORMCP_METRICS=emf) go to stderr with the logs.
  const app = await composeApp({
    config,
    // Verified tokens are remembered briefly: `ormcp token revoke` takes effect within this bound.
    authCacheMs: LOCAL_AUTH_CACHE_MS,
    logger,
    metrics: configuredMetrics(config, (line) => process.stderr.write(`${line}\n`)),
    stores: { accounts: store, oauth, ledger, keyring, conversations },
    limiter: { kind: 'process' },
    signIn: { ...(identity ? { identity } : {}), ...(managementKey ? { managementKey: async () => managementKey } : {}) },
    images: { store: images, files: images },
  });
  const server = await listen(app.fetch, { host, port, admission: localAdmissionLimits(config.maxBodyBytes) });
  const mcpUrl = `${server.url}${MCP_PATH}`;
  const removeServerUrl = writeServerUrl(dataDir, mcpUrl);
  process.stdout.write(`OpenRouter MCP server listening on ${mcpUrl}\n`);
  if (firstToken) {
    process.stdout.write(`Created local user "local". Your MCP token (shown once, keep it secret):\n${firstToken}\n`);
    process.stdout.write(`Try it: claude mcp add --transport http openrouter ${mcpUrl} --header "Authorization: Bearer ${firstToken}"\n`);
  }
  if (localIdp) {
    const who = users.length === 1 ? users[0]!.name : 'local';
    const hint = passwords.any() ? '' : ` — set a password first: npx ormcp user set-password ${who}`;
    process.stdout.write(`${users.length === 0 ? 'No users yet. ' : ''}Sign in at ${config.publicUrl}/app (local sign-in)${hint}\n`);
  } else if (users.length === 0) {
    process.stdout.write('No users yet: sign in at the /app page, or run `npx ormcp token issue --user <name>`.\n');
  }

  const shutdown = () => {
    removeServerUrl();
    void Promise.all([app.close(), server.close(), localIdp?.close()])
      // Ledger records, limit releases and last-used stamps still in flight land before the database closes.
      .then(() => app.settle())
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
