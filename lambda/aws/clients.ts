/**
 * The Lambda's AWS clients, configured from what the Lambda environment already states — and without the AWS SDK.
 *
 * The runtime sets AWS_REGION and the execution role's credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN) for the life of the instance, which is exactly what the SDK's first credential provider
 * (fromEnv) would return; nothing else is read (no loader chains, no ~/.aws files). Both clients speak the
 * services' JSON protocol over node:https, signed with `aws4` (http/aws-json-rpc.ts): the SDK was ~360 KB of the bundle and
 * ~55 ms of every cold start (README, Performance). The endpoint overrides are the SDK's variables
 * (AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL), so tests and LocalStack work
 * the same. The CLI and `npm start` keep the SDK (store/dynamo.ts).
 *
 * Every call is bounded in time: a connect limit, a per-attempt limit, and a fixed number of attempts.
 */
import { credentialsFromEnv, endpointFor, type AwsCredentials, type JsonRpcClient, type RequestTimeouts } from '../http/aws-json-rpc.js';
import { secretsRpc, type SecretsRpc } from './secrets-rpc.js';
import { dynamoRpc } from '../store/dynamo-rpc.js';
import type { DynamoTimeouts } from '../store/dynamo-timeouts.js';

/** What both clients share: only what the environment decides, never endpoints or timeouts. */
export interface LambdaClientConfig {
  region: string;
  credentials: AwsCredentials;
  userAgent: string;
}

export function lambdaClientConfig(env: NodeJS.ProcessEnv): LambdaClientConfig {
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  const credentials = credentialsFromEnv(env);
  if (!region) throw new Error('AWS_REGION is not set (the Lambda runtime sets it)');
  if (!credentials) throw new Error('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set (the Lambda runtime sets them)');
  // Named in each request's User-Agent (CloudTrail shows which app called).
  return { region, credentials, userAgent: userAgentOf(env) };
}

/** The User-Agent of the Lambda's AWS calls, with the app id the SDK would add (AWS_SDK_UA_APP_ID). */
function userAgentOf(env: NodeJS.ProcessEnv): string {
  return `openrouter-mcp app/${env.AWS_SDK_UA_APP_ID || 'openrouter-mcp'}`;
}

export type SecretTimeouts = RequestTimeouts;

/** GetSecretValue answers in tens of milliseconds; these bound a cold start's wait for it to a few seconds. */
export const SECRET_TIMEOUTS: SecretTimeouts = { connectionTimeoutMs: 1_000, requestTimeoutMs: 2_000, maxAttempts: 3 };

/** A Secrets Manager client whose every call ends in bounded time; `extra` sets the endpoint (tests, LocalStack). */
export function secretsClient(env: NodeJS.ProcessEnv, extra: { endpoint?: string } = {}, timeouts: Partial<SecretTimeouts> = {}): SecretsRpc {
  const c = lambdaClientConfig(env);
  return secretsRpc({ ...c, endpoint: extra.endpoint ?? endpointFor(env, 'SECRETS_MANAGER', 'secretsmanager', c.region), timeouts: { ...SECRET_TIMEOUTS, ...timeouts } });
}

/** A DynamoDB (JSON protocol) client whose every call ends in bounded time (store/dynamo-timeouts.ts). */
export function dynamoClient(env: NodeJS.ProcessEnv, extra: { endpoint?: string } = {}, timeouts: Partial<DynamoTimeouts> = {}): JsonRpcClient {
  const c = lambdaClientConfig(env);
  return dynamoRpc({ ...c, endpoint: extra.endpoint ?? endpointFor(env, 'DYNAMODB', 'dynamodb', c.region), timeouts });
}
