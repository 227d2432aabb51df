/**
 * AWS SDK clients for the Lambda, configured from what the Lambda environment already states.
 *
 * Left to itself, each client resolves region, credentials and a dozen settings (retry mode, FIPS, dual-stack,
 * app id, auth scheme preference, account-id endpoints, endpoint discovery) through loader chains that look at
 * the environment and then read ~/.aws/config and ~/.aws/credentials — on every cold start, for files a Lambda
 * never has. The runtime sets AWS_REGION and the execution role's credentials (AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) for the life of the instance, which is exactly what the SDK's first
 * credential provider (fromEnv) would return; passing them directly skips the chain. Anywhere they are missing
 * (a laptop, the CLI), the SDK's defaults apply unchanged.
 *
 * Every call is bounded in time: connect and per-attempt limits with `throwOnRequestTimeout` (without it the SDK
 * only warns when requestTimeout passes and keeps waiting), and a fixed number of attempts.
 */
import { boundedRequests, type RequestTimeouts } from '../aws-sdk/bounded-requests.js';
import type { DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/** What both clients share; only settings the environment decides, never endpoints or timeouts. */
export interface LambdaClientConfig {
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  retryMode: 'standard';
  useFipsEndpoint: boolean;
  useDualstackEndpoint: boolean;
  userAgentAppId: string;
  authSchemePreference: string[];
}

export function lambdaClientConfig(env: NodeJS.ProcessEnv): LambdaClientConfig {
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN: sessionToken } = env;
  return {
    ...(region ? { region } : {}),
    ...(accessKeyId && secretAccessKey ? { credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } } : {}),
    retryMode: 'standard',
    // The same switches the SDK would read, from the same variables.
    useFipsEndpoint: env.AWS_USE_FIPS_ENDPOINT === 'true',
    useDualstackEndpoint: env.AWS_USE_DUALSTACK_ENDPOINT === 'true',
    // Named in each request's User-Agent (CloudTrail shows which app called).
    userAgentAppId: env.AWS_SDK_UA_APP_ID || 'openrouter-mcp',
    // No preference: the service's own order of auth schemes (SigV4 for both).
    authSchemePreference: [],
  };
}

/** DynamoDB on top of the shared settings: plain regional endpoints (no account-id endpoint or endpoint discovery lookups). */
export function lambdaDynamoConfig(env: NodeJS.ProcessEnv): Omit<DynamoDBClientConfig, 'maxAttempts' | 'requestHandler'> {
  return { ...lambdaClientConfig(env), accountIdEndpointMode: 'disabled', endpointDiscoveryEnabled: false };
}

export type SecretTimeouts = RequestTimeouts;

/** GetSecretValue answers in tens of milliseconds; these bound a cold start's wait for it to a few seconds. */
export const SECRET_TIMEOUTS: SecretTimeouts = { connectionTimeoutMs: 1_000, requestTimeoutMs: 2_000, maxAttempts: 3 };

/** A Secrets Manager client whose every call ends in bounded time; `extra` adds an endpoint (tests, LocalStack). */
export function secretsClient(env: NodeJS.ProcessEnv, extra: { endpoint?: string } = {}, timeouts: Partial<SecretTimeouts> = {}): SecretsManagerClient {
  const t = { ...SECRET_TIMEOUTS, ...timeouts };
  return new SecretsManagerClient({ ...lambdaClientConfig(env), ...extra, ...boundedRequests(t) });
}
