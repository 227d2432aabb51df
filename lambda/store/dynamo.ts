/** DynamoDB plumbing shared by every host: a client with bounded time per call, the document client and the table definition. */
import { CreateTableCommand, DynamoDBClient, ResourceInUseException, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { boundedRequests, type RequestTimeouts } from '../aws/request-handler.js';
import { TABLE } from './schema.js';

export type DynamoTimeouts = RequestTimeouts;

/**
 * DynamoDB answers in milliseconds; the SDK's own defaults wait up to 5 minutes per attempt for a silent
 * socket, three times, which would hold a request (and a Lambda) long after the client gave up. With these,
 * a call fails within about maxAttempts × requestTimeoutMs plus a little backoff (≈ 3 s), and the handler
 * answers 503 + Retry-After instead of hanging.
 */
export const DYNAMO_TIMEOUTS: DynamoTimeouts = { connectionTimeoutMs: 1_000, requestTimeoutMs: 1_500, maxAttempts: 2 };

/** A DynamoDB client whose every call ends in bounded time; `config` adds endpoint, region or credentials. */
export function dynamoClient(config: Omit<DynamoDBClientConfig, 'maxAttempts' | 'requestHandler'> = {}, timeouts: Partial<DynamoTimeouts> = {}): DynamoDBClient {
  const t = { ...DYNAMO_TIMEOUTS, ...timeouts };
  return new DynamoDBClient({ ...config, ...boundedRequests(t) });
}

export function documentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

/** The same key schema the CDK stack creates (for the embedded DynamoDB). */
export async function createTable(client: DynamoDBClient, tableName: string): Promise<void> {
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
