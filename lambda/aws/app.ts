/**
 * Builds the app for the Lambda through the composition root: config from the environment, the server secret from
 * Secrets Manager (read once per cold start), the stores and the limits on DynamoDB, a short-lived cache of
 * verified tokens, and (with ORMCP_IMAGES_BUCKET) generated images in S3.
 *
 * The secret read is started first and everything that does not need it is built while it is in flight. It is
 * bounded in time (client timeouts and attempts, plus an overall deadline); when it fails the build rejects with
 * ServerSecretUnavailable, which the entry point answers with 503 + Retry-After and does not cache.
 */
import type { App } from '../app/app.js';
import { composeApp, configuredMetrics } from '../app/compose.js';
import { loadConfig } from '../app/config.js';
import { LambdaEnv } from '../app/env-contract.js';
import { openStores, type Table } from '../app/stores.js';
import { parseKeyring, type Keyring } from '../crypto/keyring.js';
import type { JsonRpcClient } from '../http/aws-json-rpc.js';
import { errorName } from '../observability/error-name.js';
import { identityProviderFor } from '../oauth/upstream-oidc.js';
import { createLogger } from '../observability/logger.js';
import { S3ImageStore } from '../images/s3-image-store.js';
import { asDocumentClient, documentClientOverRpc } from '../store/dynamo-rpc.js';
import { dynamoClient, lambdaClientConfig, secretsClient } from './clients.js';
import type { SecretValueReader } from './secrets-rpc.js';

export interface LambdaAppDeps {
  secrets?: SecretValueReader;
  /** DynamoDB's JSON protocol (store/dynamo-rpc.ts): the Lambda bundles no AWS SDK. */
  dynamo?: JsonRpcClient;
}

/** The app, and what the instance must finish before it may freeze (see stream-adapter's afterResponse). */
export interface LambdaApp extends App {
  /** Waits for the writes left running after responses: limit releases, last-used stamps. Never rejects. */
  settle(): Promise<void>;
}

export async function createLambdaApp(env: NodeJS.ProcessEnv, deps: LambdaAppDeps = {}): Promise<LambdaApp> {
  const e = LambdaEnv.parse(env);
  const config = loadConfig(env);
  const logger = createLogger({ level: config.logLevel });
  const secrets = deps.secrets ?? secretsClient(env);
  // Started first; what does not need the keyring is built before waiting for it (here and in composeApp).
  const secret = readServerSecret(secrets, e.ORMCP_SECRET_ARN, e.ORMCP_SECRET_TIMEOUT_MS);
  const table: Table = { client: asDocumentClient(documentClientOverRpc(deps.dynamo ?? dynamoClient(env))), tableName: e.ORMCP_TABLE_NAME };
  const stores = secret.then((keyring) => openStores(table, keyring, logger, { ledgerDays: config.ledgerDays, conversationTtlHours: config.conversationTtlHours }));
  // composeApp's await rethrows a failure; this only keeps a throw before it from leaving the read unhandled.
  stores.catch(() => undefined);
  const managementSecret = e.ORMCP_OPENROUTER_MANAGEMENT_SECRET_ARN;
  const identity = identityProviderFor(config.oidc);
  return composeApp({
    config,
    logger,
    // EMF lines on stdout, where the Lambda's log group picks them up.
    metrics: configuredMetrics(config),
    stores,
    // Limits live in the table so every instance sees the same counts.
    limiter: { kind: 'table', table },
    authCacheMs: e.ORMCP_AUTH_CACHE_SECONDS * 1000,
    signIn: {
      ...(identity ? { identity } : {}),
      // Read only when a user asks for a key, never at cold start: most requests never need it.
      ...(managementSecret ? { managementKey: () => readSecretString(secrets, managementSecret) } : {}),
    },
    // Without a bucket, generated images come back inline only.
    ...(e.ORMCP_IMAGES_BUCKET ? { images: { store: s3Images(env, e.ORMCP_IMAGES_BUCKET, e.ORMCP_IMAGES_S3_ENDPOINT) } } : {}),
  });
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
export async function readServerSecret(secrets: SecretValueReader, secretId: string, timeoutMs: number): Promise<Keyring> {
  const deadline = AbortSignal.timeout(timeoutMs);
  let res;
  try {
    res = await secrets.getSecretValue({ SecretId: secretId }, { abortSignal: deadline });
  } catch (err) {
    const { $metadata: meta, code } = err as { $metadata?: { attempts?: number }; code?: unknown };
    // AWS errors are named by type (ThrottlingException); socket errors are plain Errors with a code (ECONNRESET).
    const name = typeof code === 'string' && /^E[A-Z0-9_]{2,40}$/.test(code) ? code : errorName(err);
    throw new ServerSecretUnavailable(deadline.aborted ? 'DeadlineExceeded' : name, meta?.attempts);
  }
  if (!res.SecretString) throw new ServerSecretUnavailable('EmptySecretString');
  try {
    return parseKeyring(res.SecretString);
  } catch {
    throw new ServerSecretUnavailable('MalformedSecret');
  }
}

async function readSecretString(secrets: SecretValueReader, secretId: string): Promise<string> {
  const res = await secrets.getSecretValue({ SecretId: secretId });
  if (!res.SecretString) throw new Error('the management key secret has no string value');
  return res.SecretString.trim();
}

/** The images bucket, signed with the credentials and region the Lambda's other AWS clients use. */
function s3Images(env: NodeJS.ProcessEnv, bucket: string, endpoint: string | undefined): S3ImageStore {
  const { region, credentials, userAgent } = lambdaClientConfig(env);
  return new S3ImageStore({ bucket, region, credentials, userAgent, endpoint });
}
