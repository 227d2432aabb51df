/** DynamoDB plumbing shared by every host: a client with bounded time per call, the document client and the table definition. */
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, ResourceInUseException, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { boundedRequests } from '../aws-sdk/bounded-requests.js';
import { DYNAMO_TIMEOUTS, type DynamoTimeouts } from './dynamo-timeouts.js';
import { TABLE } from './schema.js';

export { DYNAMO_TIMEOUTS, type DynamoTimeouts } from './dynamo-timeouts.js';

/** A DynamoDB client whose every call ends in bounded time; `config` adds endpoint, region or credentials. */
export function dynamoClient(config: Omit<DynamoDBClientConfig, 'maxAttempts' | 'requestHandler'> = {}, timeouts: Partial<DynamoTimeouts> = {}): DynamoDBClient {
  const t = { ...DYNAMO_TIMEOUTS, ...timeouts };
  return new DynamoDBClient({ ...config, ...boundedRequests(t) });
}

export function documentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

/**
 * The same key schema the CDK stack creates (for the embedded DynamoDB), ready for use when this returns. DynamoDB
 * (and dynalite) answer CreateTable while the table is still CREATING, and a request in that window fails with
 * "Requested resource not found" — on a first start that was the first query.
 */
export async function createTable(client: DynamoDBClient, tableName: string, wait: ActiveWait = ACTIVE_WAIT): Promise<void> {
  await requestTable(client, tableName);
  await waitUntilActive(client, tableName, wait);
}

export interface ActiveWait {
  attempts: number;
  intervalMs: number;
}

/**
 * Polls often and briefly: dynalite turns a table ACTIVE within milliseconds (its LevelDB write), and a first start
 * should not wait the SDK table waiter's whole-second delays. Bounded: about 10 s in all.
 */
const ACTIVE_WAIT: ActiveWait = { attempts: 500, intervalMs: 20 };

export class TableNotReadyError extends Error {
  override readonly name = 'TableNotReadyError';
}

/** Returns once the table and every index are ACTIVE; throws TableNotReadyError after `wait.attempts` looks. */
export async function waitUntilActive(client: DynamoDBClient, tableName: string, wait: ActiveWait = ACTIVE_WAIT): Promise<void> {
  for (let attempt = 0; attempt < wait.attempts; attempt++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE' && (Table.GlobalSecondaryIndexes ?? []).every((i) => i.IndexStatus === 'ACTIVE')) return;
    await sleep(wait.intervalMs);
  }
  throw new TableNotReadyError(`the table "${tableName}" did not become ACTIVE after ${wait.attempts} checks`);
}

async function requestTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: TABLE.partitionKey, AttributeType: 'S' },
          { AttributeName: TABLE.sortKey, AttributeType: 'S' },
          { AttributeName: TABLE.index.partitionKey, AttributeType: 'S' },
          { AttributeName: TABLE.index.sortKey, AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: TABLE.partitionKey, KeyType: 'HASH' },
          { AttributeName: TABLE.sortKey, KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: TABLE.index.name,
            KeySchema: [
              { AttributeName: TABLE.index.partitionKey, KeyType: 'HASH' },
              { AttributeName: TABLE.index.sortKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
      }),
    );
  } catch (err) {
    if (!(err instanceof ResourceInUseException) && (err as { name?: string }).name !== 'ResourceInUseException') throw err;
  }
}
