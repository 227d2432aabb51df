/**
 * What a CLI run talks to. `main.ts` passes the process's streams and environment; tests pass their own
 * streams and, for `--stack` mode, AWS clients (mocked or pointed at dynalite).
 */
import type { Readable } from 'node:stream';
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

export interface OutputStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

/** stdin as the CLI uses it: a readable stream that may be a terminal (for the hidden key prompt). */
export type InputStream = Readable & { isTTY?: boolean; fd?: number; setRawMode?: (mode: boolean) => unknown };

export interface AwsClients {
  cloudFormation?: CloudFormationClient;
  secretsManager?: SecretsManagerClient;
  dynamoDb?: DynamoDBClient;
}

export interface CliIo {
  stdin: InputStream;
  stdout: OutputStream;
  stderr: OutputStream;
  env: Record<string, string | undefined>;
  /** Base for a relative --data-dir (default: process.cwd()). */
  cwd?: string;
  /** Clients for --stack mode; any not given is created with the default AWS credentials chain. */
  aws?: AwsClients;
  now?: () => Date;
}
