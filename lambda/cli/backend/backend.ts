/** What every CLI backend (the local data dir, a deployed stack) hands the commands. */
import type { AccountStore } from '../../store/account-store.js';

export interface Backend {
  store: AccountStore;
  close(): Promise<void>;
}
