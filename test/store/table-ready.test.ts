/**
 * The first start on a fresh data dir: dynalite answers CreateTable while the table is still CREATING, and a
 * request in that window fails with "Requested resource not found". startLocalDynamo must hand out the table only
 * once it (and its index) is ACTIVE, so the very first request after it works — every time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { startLocalDynamo } from '../../lambda/local/dynalite.js';
import { TABLE } from '../../lambda/store/schema.js';

const ROUNDS = 40;

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'ormcp-table-ready-'));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

test(`a query and a write right after ${ROUNDS} first starts on fresh data dirs all succeed`, async () => {
  const failures: string[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    // On disk, as `npm start` runs it: LevelDB's write of the ACTIVE status lands after CreateTable has answered.
    const dynamo = await startLocalDynamo({ path: join(root, `data-${i}`) });
    try {
      await Promise.all([
        dynamo.client.send(
          new QueryCommand({
            TableName: dynamo.tableName,
            IndexName: TABLE.index.name,
            KeyConditionExpression: '#pk = :pk',
            ExpressionAttributeNames: { '#pk': TABLE.index.partitionKey },
            ExpressionAttributeValues: { ':pk': 'USERS' },
          }),
        ),
        dynamo.client.send(new PutCommand({ TableName: dynamo.tableName, Item: { pk: `P#${i}`, sk: 'S' } })),
      ]);
    } catch (err) {
      failures.push(`round ${i}: ${(err as Error).name}: ${(err as Error).message}`);
    } finally {
      await dynamo.close();
    }
  }
  expect(failures).toEqual([]);
});

test('the table and its index are ACTIVE when startLocalDynamo returns', async () => {
  const dynamo = await startLocalDynamo();
  try {
    const raw = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    const { Table } = await raw.send(new DescribeTableCommand({ TableName: dynamo.tableName }));
    raw.destroy();
    expect(Table?.TableStatus).toBe('ACTIVE');
    expect(Table?.GlobalSecondaryIndexes?.map((i) => i.IndexStatus)).toEqual(['ACTIVE']);
  } finally {
    await dynamo.close();
  }
});
