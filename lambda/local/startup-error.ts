/** The one line `npm start` prints when it cannot start: what went wrong and what to do about it. */

export function startupErrorLine(err: unknown, where: { port: string; dataDir: string }): string {
  const e = err as { code?: string; message?: string } | null;
  const message = (e?.message ?? String(err)).split('\n')[0]!.slice(0, 300);
  if (e?.code === 'EADDRINUSE') return `npm start: port ${where.port} is already in use; stop the other server or start with PORT=<another port>.`;
  if (e?.code === 'EACCES' || e?.code === 'EPERM') return `npm start: permission denied (${message}); check that ${where.dataDir} is yours and PORT is above 1023.`;
  if (/IO error: lock|LOCK/.test(message)) return `npm start: the data dir ${where.dataDir} is in use by another process; stop it, or set ORMCP_DATA_DIR to another directory.`;
  return `npm start: ${message}`;
}
