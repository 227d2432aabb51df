/**
 * Deployed mode (`--stack <name>`): the table and secret come from the stack's outputs (CloudFormation
 * DescribeStacks), the server secret from Secrets Manager, and the same AccountStore runs against the
 * stack's DynamoDB table. Credentials and region follow the AWS SDK's default chain unless --region is given.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { parseKeyring } from '../../crypto/keyring.js';
import { AccountStore } from '../../store/account-store.js';
import { documentClient } from '../../store/dynamo.js';
import { LedgerStore } from '../../store/ledger-store.js';
import { CliError, awsMessage } from '../errors.js';
import type { AwsClients } from '../io.js';
import type { Backend } from './backend.js';

const REQUIRED_OUTPUTS = ['TableName', 'SecretArn'] as const;

export async function openStackBackend(stackName: string, region: string | undefined, aws: AwsClients): Promise<Backend> {
  const created: { destroy(): void }[] = [];
  try {
    const outputs = await readStackOutputs(stackName, region, aws, created);
    const missing = REQUIRED_OUTPUTS.filter((k) => !outputs[k]);
    if (missing.length > 0) {
      throw new CliError(`stack ${stackName} has no ${missing.join(' or ')} output: is it an OpenRouter MCP stack (infra/stack.ts), fully deployed?`);
    }
    const secrets = aws.secretsManager ?? track(created, new SecretsManagerClient(clientConfig(region)));
    const secret = await secrets.send(new GetSecretValueCommand({ SecretId: outputs.SecretArn })).catch((err: unknown) => {
      throw new CliError(`reading the server secret of stack ${stackName} failed: ${awsMessage(err)}`);
    });
    if (!secret.SecretString) throw new CliError(`the server secret of stack ${stackName} has no string value`);
    const keyring = parseKeyring(secret.SecretString);
    const dynamo = aws.dynamoDb ?? track(created, new DynamoDBClient(clientConfig(region)));
    const client = documentClient(dynamo);
    const store = new AccountStore({ client, tableName: outputs.TableName!, keyring });
    const ledger = new LedgerStore({ client, tableName: outputs.TableName! });
    return { store, ledger, close: async () => destroyAll(created) };
  } catch (err) {
    destroyAll(created);
    throw err;
  }
}

export async function readStackOutputs(
  stackName: string,
  region: string | undefined,
  aws: AwsClients,
  created: { destroy(): void }[],
): Promise<Record<string, string | undefined>> {
  const cfn = aws.cloudFormation ?? track(created, new CloudFormationClient(clientConfig(region)));
  const res = await cfn.send(new DescribeStacksCommand({ StackName: stackName })).catch(async (err: unknown) => {
    const message = awsMessage(err);
    if (/does not exist/i.test(message)) {
      const where = await cfn.config.region().catch(() => region ?? 'the default region');
      throw new CliError(`stack ${stackName} not found in ${where} (pass --region, or check the name with: aws cloudformation list-stacks)`);
    }
    throw new CliError(`describing stack ${stackName} failed: ${message}`);
  });
  const stack = res.Stacks?.[0];
  if (!stack) throw new CliError(`stack ${stackName} not found`);
  const outputs: Record<string, string | undefined> = {};
  for (const o of stack.Outputs ?? []) if (o.OutputKey) outputs[o.OutputKey] = o.OutputValue;
  return outputs;
}

function clientConfig(region: string | undefined): { region?: string } {
  return region ? { region } : {};
}

function track<T extends { destroy(): void }>(list: { destroy(): void }[], client: T): T {
  list.push(client);
  return client;
}

export function destroyAll(list: { destroy(): void }[]): void {
  for (const c of list.splice(0)) c.destroy();
}
