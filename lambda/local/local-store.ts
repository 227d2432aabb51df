/**
 * The account store on embedded DynamoDB (dynalite) under the local data dir. LevelDB allows one process
 * per directory, so the process that opens it (normally `npm start`) advertises its endpoint in the data
 * dir and others (the `ormcp` CLI) talk to that running instance instead of opening the files themselves.
 * The table only answers requests carrying a per-run key (table-guard.ts), advertised with the endpoint in a
 * 0600 file inside the data dir, so only processes that can read the data dir can reach it.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import type { Logger } from '../observability/logger.js';
import type { Keyring } from '../crypto/keyring.js';
import { openStores } from '../app/stores.js';
import type { AccountStore } from '../store/account-store.js';
import type { JsonRpcClient } from '../http/aws-json-rpc.js';
import type { OAuthStore } from '../store/oauth-store.js';
import type { LedgerStore } from '../store/ledger-store.js';
import type { ConversationStore } from '../store/conversation-store.js';
import { localTableClient, localTableRpc, startLocalDynamo } from './dynalite.js';
import { loadOrCreateLocalKeyring } from './secret-file.js';
import { newTableKey } from './table-guard.js';

export interface LocalStore {
  store: AccountStore;
  oauth: OAuthStore;
  keyring: Keyring;
  /** The usage ledger and budget counters (retention: `ledgerDays`, default 90). */
  ledger: LedgerStore;
  /** Stored conversations, when `conversationTtlHours` > 0 was asked for (npm start); the CLI needs none. */
  conversations?: ConversationStore | undefined;
  close(): Promise<void>;
}

const TABLE_NAME = 'ormcp';

/** What `dynamodb-endpoint` holds: where the running table is, and the per-run key it requires. */
const Advertised = z.object({ endpoint: z.string().regex(/^http:\/\/127\.0\.0\.1:\d+$/), tableKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/) });
type Advertised = z.infer<typeof Advertised>;

export async function openLocalStore(dataDir: string, options: { logger?: Logger; advertise?: boolean; ledgerDays?: number; conversationTtlHours?: number; writeBehindMs?: number } = {}): Promise<LocalStore> {
  const keyring = loadOrCreateLocalKeyring(dataDir);
  const endpointFile = join(dataDir, 'dynamodb-endpoint');
  const running = await reachable(endpointFile);
  if (running) {
    const { accounts: store, oauth, ledger, conversations } = openStores({ client: localTableClient(running), tableName: TABLE_NAME }, keyring, options.logger, { ledgerDays: options.ledgerDays, conversationTtlHours: options.conversationTtlHours, writeBehindMs: options.writeBehindMs });
    return {
      store,
      oauth,
      keyring,
      ledger,
      conversations,
      close: async () => {
        await Promise.all([store.settle(), ledger.flush(), conversations?.settle()]);
        running.destroy();
      },
    };
  }
  const dbPath = join(dataDir, 'dynamodb');
  mkdirSync(dbPath, { recursive: true, mode: 0o700 });
  const tableKey = newTableKey();
  const dynamo = await startLocalDynamo({ path: dbPath, tableName: TABLE_NAME, tableKey });
  if (options.advertise) advertise(endpointFile, { endpoint: dynamo.endpoint, tableKey });
  const rpc = localTableRpc(dynamo.endpoint, tableKey);
  const { accounts: store, oauth, ledger, conversations } = openStores({ client: localTableClient(rpc), tableName: dynamo.tableName }, keyring, options.logger, { ledgerDays: options.ledgerDays, conversationTtlHours: options.conversationTtlHours, writeBehindMs: options.writeBehindMs });
  return {
    store,
    oauth,
    keyring,
    ledger,
    conversations,
    close: async () => {
      await Promise.all([store.settle(), ledger.flush(), conversations?.settle()]);
      if (options.advertise) rmSync(endpointFile, { force: true });
      rpc.destroy();
      await dynamo.close();
    },
  };
}

/** Writes the advertisement afresh, so it is 0600 even where an older file had looser permissions. */
function advertise(endpointFile: string, advertised: Advertised): void {
  rmSync(endpointFile, { force: true });
  writeFileSync(endpointFile, `${JSON.stringify(advertised)}\n`, { mode: 0o600, flag: 'wx' });
}

function readAdvertised(endpointFile: string): Advertised | undefined {
  try {
    return Advertised.parse(JSON.parse(readFileSync(endpointFile, 'utf8')));
  } catch {
    return undefined; // absent, or left by an older version: treated as no running server
  }
}

/** A client for the dynalite another local process advertises, if it answers. */
async function reachable(endpointFile: string): Promise<JsonRpcClient | undefined> {
  if (!existsSync(endpointFile)) return undefined;
  const advertised = readAdvertised(endpointFile);
  if (!advertised) return undefined;
  const client = localTableRpc(advertised.endpoint, advertised.tableKey);
  try {
    await client.call('ListTables', {}, { abortSignal: AbortSignal.timeout(1_000) });
    return client;
  } catch {
    client.destroy();
    return undefined;
  }
}
