/**
 * The stores on the one table, opened with the server secret's keyring. Apart from compose.ts so that the CLI's
 * local mode (local/local-store.ts) opens them without loading the app.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Keyring } from '../crypto/keyring.js';
import type { Logger } from '../observability/logger.js';
import { AccountStore } from '../store/account-store.js';
import { LedgerStore } from '../store/ledger-store.js';
import { OAuthStore } from '../store/oauth-store.js';

/** The single DynamoDB table everything is stored in. */
export interface Table {
  client: DynamoDBDocumentClient;
  tableName: string;
}

/** The stores on the table, sealed and MACed with the server secret's keyring. */
export interface Stores {
  accounts: AccountStore;
  oauth: OAuthStore;
  /** The usage ledger, budget counters, overrides and user defaults. */
  ledger: LedgerStore;
  keyring: Keyring;
}

export function openStores(table: Table, keyring: Keyring, logger?: Logger, options: { ledgerDays?: number } = {}): Stores {
  return {
    accounts: new AccountStore({ client: table.client, tableName: table.tableName, keyring, ...(logger ? { logger } : {}) }),
    oauth: new OAuthStore({ client: table.client, tableName: table.tableName, keyring }),
    ledger: new LedgerStore({ client: table.client, tableName: table.tableName, ...(options.ledgerDays ? { ledgerDays: options.ledgerDays } : {}), ...(logger ? { logger } : {}) }),
    keyring,
  };
}
