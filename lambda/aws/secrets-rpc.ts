/**
 * Secrets Manager's GetSecretValue for the Lambda without the AWS SDK: its JSON protocol (x-amz-json-1.1,
 * `secretsmanager.GetSecretValue`) over http/aws-json-rpc.ts, bounded like every call there.
 */
import { createJsonRpcClient, type CallOptions, type JsonRpcClient, type JsonRpcOptions, type RequestTimeouts } from '../http/aws-json-rpc.js';

/** A secret is at most 64 KB; its JSON answer stays far below this. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

/** What readServerSecret needs of Secrets Manager. */
export interface SecretValueReader {
  getSecretValue(input: { SecretId: string }, options?: CallOptions): Promise<{ SecretString?: string }>;
}

export interface SecretsRpc extends SecretValueReader {
  destroy(): void;
}

export interface SecretsRpcOptions {
  endpoint: string;
  region: string;
  credentials: JsonRpcOptions['credentials'];
  timeouts: RequestTimeouts;
  userAgent?: string;
  backoffMs?: JsonRpcOptions['backoffMs'];
}

export function secretsRpc(o: SecretsRpcOptions): SecretsRpc {
  const rpc: JsonRpcClient = createJsonRpcClient({
    signingName: 'secretsmanager',
    targetPrefix: 'secretsmanager',
    contentType: 'application/x-amz-json-1.1',
    endpoint: o.endpoint,
    region: o.region,
    credentials: o.credentials,
    timeouts: o.timeouts,
    maxResponseBytes: MAX_RESPONSE_BYTES,
    ...(o.userAgent ? { userAgent: o.userAgent } : {}),
    ...(o.backoffMs ? { backoffMs: o.backoffMs } : {}),
  });
  return {
    getSecretValue: (input, options) => rpc.call<{ SecretString?: string }>('GetSecretValue', input, options),
    destroy: () => rpc.destroy(),
  };
}
