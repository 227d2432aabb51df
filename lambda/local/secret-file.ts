/** The local server secret: generated once into the data dir (mode 0600), same format as in Secrets Manager. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { newSecretString, parseKeyring, type Keyring } from '../crypto/keyring.js';

export function loadOrCreateLocalKeyring(dataDir: string): Keyring {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, 'server-secret.json');
  if (!existsSync(path)) writeFileSync(path, `${newSecretString()}\n`, { mode: 0o600, flag: 'wx' });
  return parseKeyring(readFileSync(path, 'utf8'));
}
