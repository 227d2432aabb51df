/** What every CLI backend (the local data dir, a deployed stack) hands the commands. */
import type { AccountStore } from '../../store/account-store.js';
import type { LedgerStore } from '../../store/ledger-store.js';

export interface Backend {
  store: AccountStore;
  /** The usage ledger, budgets and defaults in the same table. */
  ledger: LedgerStore;
  close(): Promise<void>;
}
