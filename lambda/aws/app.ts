/**
 * Builds the handler for the Lambda: config from the environment, the server secret from Secrets Manager
 * (read once per cold start), the account store on DynamoDB, and a short-lived cache of verified tokens.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as z from 'zod';
import { loadConfig } from '../app/config.js';
import { createApp, type App, type SignInDeps } from '../app/handler.js';
import { CachedAuthenticator } from '../auth/cached-authenticator.js';
import { parseKeyring } from '../crypto/keyring.js';
import { tableLimiter } from '../limits/index.js';
import { withHttpMetrics } from '../observability/http-metrics.js';
import { createLogger } from '../observability/logger.js';
import { NO_METRICS, emfMetrics } from '../observability/metrics.js';
import { AccountStore } from '../store/account-store.js';
import { documentClient, dynamoClient } from '../store/dynamo.js';
import { OAuthStore } from '../store/oauth-store.js';
import { identityProviderFor } from '../oauth/upstream-oidc.js';

const LambdaEnv = z.object({
  ORMCP_TABLE_NAME: z.string().min(1),
  ORMCP_SECRET_ARN: z.string().min(1),
  ORMCP_AUTH_CACHE_SECONDS: z.coerce.number().int().min(0).max(3600).default(60),
  /** Optional: a secret holding an OpenRouter management key, to create per-user keys. */
  ORMCP_OPENROUTER_MANAGEMENT_SECRET_ARN: z.string().min(1).optional(),
});

export interface LambdaAppDeps {
  secrets?: SecretsManagerClient;
  dynamo?: DynamoDBClient;
}

export async function createLambdaApp(env: NodeJS.ProcessEnv, deps: LambdaAppDeps = {}): Promise<App> {
  const e = LambdaEnv.parse(env);
  const config = loadConfig(env);
  const logger = createLogger({ level: config.logLevel });
  const secrets = deps.secrets ?? new SecretsManagerClient({});
  const secret = await secrets.send(new GetSecretValueCommand({ SecretId: e.ORMCP_SECRET_ARN }));
  if (!secret.SecretString) throw new Error('the server secret has no string value');
  const client = documentClient(deps.dynamo ?? dynamoClient());
  const keyring = parseKeyring(secret.SecretString);
  const store = new AccountStore({ client, tableName: e.ORMCP_TABLE_NAME, keyring, logger });
  const identity = identityProviderFor(config.oidc);
  const managementSecret = e.ORMCP_OPENROUTER_MANAGEMENT_SECRET_ARN;
  const signIn: SignInDeps = {
    accounts: store,
    oauth: new OAuthStore({ client, tableName: e.ORMCP_TABLE_NAME, keyring }),
    keyring,
    ...(identity ? { identity } : {}),
    // Read only when a user asks for a key, never at cold start: most requests never need it.
    ...(managementSecret ? { managementKey: () => readSecretString(secrets, managementSecret) } : {}),
  };
  // Limits live in the table so every instance sees the same counts; metrics are EMF lines on stdout.
  const limiter = tableLimiter(config.limits, { client, tableName: e.ORMCP_TABLE_NAME, logger });
  const metrics = config.metrics === 'emf' ? emfMetrics({ service: config.metricsService }) : NO_METRICS;
  const app = createApp({ config, logger, authenticator: new CachedAuthenticator(store, e.ORMCP_AUTH_CACHE_SECONDS * 1000), limiter, metrics, signIn });
  return withHttpMetrics(app, metrics);
}

async function readSecretString(secrets: SecretsManagerClient, secretId: string): Promise<string> {
  const res = await secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
  if (!res.SecretString) throw new Error('the management key secret has no string value');
  return res.SecretString.trim();
}
