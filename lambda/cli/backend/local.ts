/**
 * Local mode: the account store in the data dir. While `npm start` runs, openLocalStore talks to the
 * dynalite it advertises (LevelDB allows one process per directory); otherwise it opens the files itself.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openLocalStore } from '../../local/local-store.js';
import { CliError } from '../errors.js';
import type { Backend } from './backend.js';

export async function openLocalBackend(dataDir: string, cwd: string, options: { create: boolean }): Promise<Backend> {
  const dir = resolve(cwd, dataDir);
  if (!options.create && !existsSync(join(dir, 'server-secret.json'))) {
    throw new CliError(`no local data in ${dir}: pass --data-dir, or create a first user with their key (OPENROUTER_API_KEY=… ormcp token issue --user <name>)`);
  }
  try {
    const { store, ledger, close } = await openLocalStore(dir);
    return { store, ledger, close };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (/lock/i.test(message)) {
      throw new CliError(`the data dir ${dir} is in use by another process that does not share it (another ormcp, or a server starting up); try again in a moment`);
    }
    throw err;
  }
}
