/**
 * An embedded dynalite server (a real DynamoDB API on LevelDB, or in memory) on 127.0.0.1, for
 * `npm start`, the CLI's local mode and the tests. Never part of the Lambda bundle.
 * With a `tableKey` only requests carrying it (and no Origin) reach the table (table-guard.ts): that is how
 * `npm start` and the CLI run it. Without one it is an open stand-in for AWS DynamoDB, for tests.
 */
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import { createTable, documentClient } from '../store/dynamo.js';
import { guardTable, sendTableKey } from './table-guard.js';

export interface LocalDynamo {
  client: DynamoDBDocumentClient;
  tableName: string;
  endpoint: string;
  close(): Promise<void>;
}

/** Starts dynalite on 127.0.0.1 (persisted under `path`, or in memory) and makes sure the table exists. */
export async function startLocalDynamo(options: { path?: string; tableName?: string; tableKey?: string } = {}): Promise<LocalDynamo> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...(options.path ? { path: options.path } : {}) });
  if (options.tableKey) guardTable(server, options.tableKey);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const raw = new DynamoDBClient({ endpoint, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 2 });
  if (options.tableKey) sendTableKey(raw, options.tableKey);
  const tableName = options.tableName ?? 'ormcp';
  await createTable(raw, tableName);
  return {
    client: documentClient(raw),
    tableName,
    endpoint,
    close: async () => {
      raw.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

