/**
 * Why `npm start` could not start, as one line the operator can act on: which setting or file to look at, not a
 * bare driver message. Never includes a secret (the messages it wraps name files, ports and versions only).
 */
import { SecretFormatError } from '../crypto/keyring.js';
import { TableNotReadyError } from '../store/dynamo.js';

export interface StartupSettings {
  port: string;
  dataDir: string;
}

/** The settings main.ts starts with, read the same way (PORT, ORMCP_DATA_DIR and their defaults). */
export function startupSettings(env: NodeJS.ProcessEnv): StartupSettings {
  return { port: env.PORT ?? '8787', dataDir: env.ORMCP_DATA_DIR ?? '.ormcp' };
}

export function startupFailureLine(err: unknown, s: StartupSettings): string {
  const e = (err ?? {}) as { code?: unknown; message?: unknown; path?: unknown };
  const message = oneLine(typeof e.message === 'string' ? e.message : String(err));
  const prefix = 'Could not start the server:';
  if (e.code === 'EADDRINUSE') return `${prefix} port ${s.port} is already in use; stop what is using it or set PORT to a free port.`;
  if (e.code === 'EACCES' && e.path === undefined) return `${prefix} not allowed to listen on port ${s.port}; set PORT to a port above 1023.`;
  if (e.code === 'EACCES' || e.code === 'EPERM' || e.code === 'EROFS') {
    return `${prefix} cannot write the data dir ${s.dataDir} (${message}); fix its permissions or set ORMCP_DATA_DIR to a directory you own.`;
  }
  if (err instanceof SecretFormatError) return `${prefix} ${s.dataDir}/server-secret.json is invalid: ${message}.`;
  if (err instanceof TableNotReadyError) {
    return `${prefix} ${message} in ${s.dataDir}/dynamodb; start again, and if this persists that folder is damaged (moving it away starts an empty table).`;
  }
  if (/\block\b|LOCK/.test(message)) return `${prefix} the data dir ${s.dataDir} is in use by another process; stop it or set ORMCP_DATA_DIR to another directory.`;
  return `${prefix} ${message} (data dir ${s.dataDir}, port ${s.port}).`;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, 300);
}
