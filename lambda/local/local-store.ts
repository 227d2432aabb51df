/**
 * The account store on embedded DynamoDB (dynalite) under the local data dir. LevelDB allows one process
 * per directory, so the process that opens it (normally `npm start`) advertises its endpoint in the data
 * dir and others (the `ormcp` CLI) talk to that running instance instead of opening the files themselves.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import type { Logger } from '../observability/logger.js';
import type { Keyring } from '../crypto/keyring.js';
import { AccountStore } from '../store/account-store.js';
import { documentClient } from '../store/dynamo.js';
import { OAuthStore } from '../store/oauth-store.js';
import { startLocalDynamo } from './dynalite.js';
import { loadOrCreateLocalKeyring } from './secret-file.js';

export interface LocalStore {
  store: AccountStore;
  oauth: OAuthStore;
  keyring: Keyring;
  close(): Promise<void>;
}

const TABLE_NAME = 'ormcp';

export async function openLocalStore(dataDir: string, options: { logger?: Logger; advertise?: boolean } = {}): Promise<LocalStore> {
  const keyring = loadOrCreateLocalKeyring(dataDir);
  const endpointFile = join(dataDir, 'dynamodb-endpoint');
  const running = await reachable(endpointFile);
  if (running) {
    const client = documentClient(running);
    const store = new AccountStore({ client, tableName: TABLE_NAME, keyring, ...(options.logger ? { logger: options.logger } : {}) });
    return {
      store,
      oauth: new OAuthStore({ client, tableName: TABLE_NAME, keyring }),
      keyring,
      close: async () => {
        await store.settle();
        running.destroy();
      },
    };
  }
  const dbPath = join(dataDir, 'dynamodb');
  mkdirSync(dbPath, { recursive: true, mode: 0o700 });
  const dynamo = await startLocalDynamo({ path: dbPath, tableName: TABLE_NAME });
  if (options.advertise) writeFileSync(endpointFile, dynamo.endpoint, { mode: 0o600 });
  const store = new AccountStore({ client: dynamo.client, tableName: dynamo.tableName, keyring, ...(options.logger ? { logger: options.logger } : {}) });
  return {
    store,
    oauth: new OAuthStore({ client: dynamo.client, tableName: dynamo.tableName, keyring }),
    keyring,
    close: async () => {
      await store.settle();
      if (options.advertise) rmSync(endpointFile, { force: true });
      await dynamo.close();
    },
  };
}

/** A client for the dynalite another local process advertises, if it answers. */
async function reachable(endpointFile: string): Promise<DynamoDBClient | undefined> {
  if (!existsSync(endpointFile)) return undefined;
  const endpoint = readFileSync(endpointFile, 'utf8').trim();
  if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(endpoint)) return undefined;
  const client = new DynamoDBClient({ endpoint, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
  try {
    await client.send(new ListTablesCommand({}), { abortSignal: AbortSignal.timeout(1_000) });
    return client;
  } catch {
    client.destroy();
    return undefined;
  }
}
