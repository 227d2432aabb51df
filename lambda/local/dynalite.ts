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
import type { JsonRpcClient } from '../http/aws-json-rpc.js';
import { createTable, documentClient } from '../store/dynamo.js';
import { asDocumentClient, documentClientOverRpc, dynamoRpc } from '../store/dynamo-rpc.js';
import { TABLE_KEY_HEADER, guardTable, sendTableKey } from './table-guard.js';

export interface LocalDynamo {
  /** The AWS SDK's document client (tests scan and inspect the table with it). */
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
  const raw = new DynamoDBClient({ endpoint, region: 'local', credentials: LOCAL_CREDENTIALS, maxAttempts: 2 });
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


const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
/**
 * A loopback call answers in about a millisecond, but `npm start` shares one event loop with dynalite: under a
 * burst (local flood test) a call can wait far longer than DynamoDB's 1.5 s silence limit without anything being
 * wrong. A call that timed out is retried, and an update the table did apply would then count twice, so the local
 * limit is long enough to catch only a table that stopped answering (the SDK's client set none here).
 */
const LOCAL_TIMEOUTS = { connectionTimeoutMs: 1_000, requestTimeoutMs: 30_000, maxAttempts: 2 };

/**
 * The client `npm start` and the CLI give the stores: the Lambda's own DynamoDB client (store/dynamo-rpc.ts) with
 * the table's per-run key (none for an open table). Besides running the deployed data path locally, it takes about
 * half the time per call of the AWS SDK's client on loopback, which matters here because dynalite shares the
 * server's event loop.
 */
export function localTableRpc(endpoint: string, tableKey?: string): JsonRpcClient {
  return dynamoRpc({ endpoint, region: 'local', credentials: LOCAL_CREDENTIALS, timeouts: LOCAL_TIMEOUTS, ...(tableKey ? { headers: { [TABLE_KEY_HEADER]: tableKey } } : {}) });
}

/** localTableRpc as the document client the stores take. */
export function localTableClient(rpc: JsonRpcClient): DynamoDBDocumentClient {
  return asDocumentClient(documentClientOverRpc(rpc));
}
