/**
 * The stores on the one table, opened with the server secret's keyring. Apart from compose.ts so that the CLI's
 * local mode (local/local-store.ts) opens them without loading the app.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Keyring } from '../crypto/keyring.js';
import type { Logger } from '../observability/logger.js';
import { AccountStore } from '../store/account-store.js';
import { conversationStoreFor, type ConversationStore, type ConversationStoreOptions } from '../store/conversation-store.js';
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
  /** Conversations that continue; absent when storage is off (`ORMCP_CONVERSATION_TTL_HOURS=0`) or not asked for. */
  conversations?: ConversationStore | undefined;
}

export interface StoreOptions {
  ledgerDays?: number;
  /**
   * For a host that is one process (`npm start`): ledger records and counters wait up to this long to be written
   * together, and a new conversation is written after the call returns (ledger-store.ts, conversation-store.ts).
   */
  writeBehindMs?: number;
  /** Hours a conversation is kept after its last use (config's `conversationTtlHours`); 0 or absent: no conversation store. */
  conversationTtlHours?: number;
  /** Conversation store settings beyond the TTL (size bound, part size, clock). */
  conversations?: Pick<ConversationStoreOptions, 'maxBytes' | 'partChars' | 'now'>;
}

export function openStores(table: Table, keyring: Keyring, logger?: Logger, options: StoreOptions = {}): Stores {
  const conversations = conversationStoreFor(options.conversationTtlHours ?? 0, {
    client: table.client,
    tableName: table.tableName,
    keyring,
    ...(options.writeBehindMs ? { writeBehind: true } : {}),
    ...(logger ? { logger } : {}),
    ...options.conversations,
  });
  return {
    accounts: new AccountStore({ client: table.client, tableName: table.tableName, keyring, ...(logger ? { logger } : {}) }),
    oauth: new OAuthStore({ client: table.client, tableName: table.tableName, keyring }),
    ledger: new LedgerStore({
      client: table.client,
      tableName: table.tableName,
      ...(options.ledgerDays ? { ledgerDays: options.ledgerDays } : {}),
      ...(options.writeBehindMs ? { writeBehindMs: options.writeBehindMs } : {}),
      ...(logger ? { logger } : {}),
    }),
    keyring,
    ...(conversations ? { conversations } : {}),
  };
}
