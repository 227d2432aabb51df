/**
 * Builds the handler for the Lambda: config from the environment, the server secret from Secrets Manager
 * (read once per cold start), the account store on DynamoDB, and a short-lived cache of verified tokens.
 *
 * The secret read is started first and everything that does not need it is built while it is in flight. It is
 * bounded in time (client timeouts and attempts, plus an overall deadline); when it fails the build rejects with
 * ServerSecretUnavailable, which the entry point answers with 503 + Retry-After and does not cache.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as z from 'zod';
import { loadConfig } from '../app/config.js';
import { createApp, type App, type SignInDeps } from '../app/handler.js';
import { CachedAuthenticator } from '../auth/cached-authenticator.js';
import { parseKeyring, type Keyring } from '../crypto/keyring.js';
import { tableLimiter } from '../limits/index.js';
import { withHttpMetrics } from '../app/http-metrics.js';
import { createLogger } from '../observability/logger.js';
import { NO_METRICS, emfMetrics } from '../observability/metrics.js';
import { AccountStore } from '../store/account-store.js';
import { documentClient, dynamoClient } from '../store/dynamo.js';
import { OAuthStore } from '../store/oauth-store.js';
import { identityProviderFor } from '../oauth/upstream-oidc.js';
import { lambdaDynamoConfig, secretsClient } from './clients.js';
import { S3ImageStore, credentialsFromEnv } from '../images/s3-image-store.js';

const LambdaEnv = z.object({
  ORMCP_TABLE_NAME: z.string().min(1),
  ORMCP_SECRET_ARN: z.string().min(1),
  ORMCP_AUTH_CACHE_SECONDS: z.coerce.number().int().min(0).max(3600).default(60),
  /** Longest a cold start waits for the server secret, all attempts included. */
  ORMCP_SECRET_TIMEOUT_MS: z.coerce.number().int().min(100).max(30_000).default(4_000),
  /** Optional: a secret holding an OpenRouter management key, to create per-user keys. */
  ORMCP_OPENROUTER_MANAGEMENT_SECRET_ARN: z.string().min(1).optional(),
  /** Optional: the bucket generated images go to (links are presigned GETs); without it images come back inline only. */
  ORMCP_IMAGES_BUCKET: z.string().min(3).max(63).optional(),
  /** An S3-compatible endpoint instead of the bucket's own (tests, or S3 through a VPC endpoint). */
  ORMCP_IMAGES_S3_ENDPOINT: z.url().optional(),
  AWS_REGION: z.string().min(1).default('us-east-1'),
});

export interface LambdaAppDeps {
  secrets?: SecretsManagerClient;
  dynamo?: DynamoDBClient;
}

export async function createLambdaApp(env: NodeJS.ProcessEnv, deps: LambdaAppDeps = {}): Promise<App> {
  const e = LambdaEnv.parse(env);
  const config = loadConfig(env);
  const logger = createLogger({ level: config.logLevel });
  const secrets = deps.secrets ?? secretsClient(env);
  // Started first; what does not need the keyring is built before waiting for it.
  const secret = readServerSecret(secrets, e.ORMCP_SECRET_ARN, e.ORMCP_SECRET_TIMEOUT_MS);
  // The await below rethrows a failure; this only keeps a throw in between from leaving it unhandled.
  secret.catch(() => undefined);
  const client = documentClient(deps.dynamo ?? dynamoClient(lambdaDynamoConfig(env)));
  const identity = identityProviderFor(config.oidc);
  // Limits live in the table so every instance sees the same counts; metrics are EMF lines on stdout.
  const limiter = tableLimiter(config.limits, { client, tableName: e.ORMCP_TABLE_NAME, logger });
  const metrics = config.metrics === 'emf' ? emfMetrics({ service: config.metricsService }) : NO_METRICS;
  const keyring = await secret;
  const store = new AccountStore({ client, tableName: e.ORMCP_TABLE_NAME, keyring, logger });
  const managementSecret = e.ORMCP_OPENROUTER_MANAGEMENT_SECRET_ARN;
  const signIn: SignInDeps = {
    accounts: store,
    oauth: new OAuthStore({ client, tableName: e.ORMCP_TABLE_NAME, keyring }),
    keyring,
    ...(identity ? { identity } : {}),
    // Read only when a user asks for a key, never at cold start: most requests never need it.
    ...(managementSecret ? { managementKey: () => readSecretString(secrets, managementSecret) } : {}),
  };
  const images = e.ORMCP_IMAGES_BUCKET
    ? new S3ImageStore({ bucket: e.ORMCP_IMAGES_BUCKET, region: e.AWS_REGION, credentials: credentialsFromEnv(env), endpoint: e.ORMCP_IMAGES_S3_ENDPOINT })
    : undefined;
  const app = createApp({ config, logger, authenticator: new CachedAuthenticator(store, e.ORMCP_AUTH_CACHE_SECONDS * 1000), limiter, metrics, signIn, ...(images ? { images } : {}) });
  return withHttpMetrics(app, metrics);
}

/** The server secret could not be read or is not a valid keyring: the instance cannot serve until it can. */
export class ServerSecretUnavailable extends Error {
  override readonly name = 'ServerSecretUnavailable';
  constructor(
    /** Why, as the AWS error name or a fixed word; never the secret, never the service's message. */
    readonly reason: string,
    readonly attempts?: number,
  ) {
    super(`the server secret is unavailable (${reason})`);
  }
}

/**
 * GetSecretValue with an overall deadline on top of the client's per-attempt limits, parsed into the keyring.
 * Every failure becomes ServerSecretUnavailable carrying only the error's name: AWS messages can quote the ARN,
 * and a keyring parse error could quote the secret.
 */
export async function readServerSecret(secrets: SecretsManagerClient, secretId: string, timeoutMs: number): Promise<Keyring> {
  const deadline = AbortSignal.timeout(timeoutMs);
  let res;
  try {
    res = await secrets.send(new GetSecretValueCommand({ SecretId: secretId }), { abortSignal: deadline });
  } catch (err) {
    const { $metadata: meta, code } = err as { $metadata?: { attempts?: number }; code?: unknown };
    // AWS errors are named by type (ThrottlingException); socket errors are plain Errors with a code (ECONNRESET).
    const name = typeof code === 'string' && /^E[A-Z0-9_]{2,40}$/.test(code) ? code : err instanceof Error ? err.name : 'unknown';
    throw new ServerSecretUnavailable(deadline.aborted ? 'DeadlineExceeded' : name, meta?.attempts);
  }
  if (!res.SecretString) throw new ServerSecretUnavailable('EmptySecretString');
  try {
    return parseKeyring(res.SecretString);
  } catch {
    throw new ServerSecretUnavailable('MalformedSecret');
  }
}

async function readSecretString(secrets: SecretsManagerClient, secretId: string): Promise<string> {
  const res = await secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
  if (!res.SecretString) throw new Error('the management key secret has no string value');
  return res.SecretString.trim();
}
