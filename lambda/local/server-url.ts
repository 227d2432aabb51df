/**
 * Where the running local server can be reached, kept in the data dir (like its dynalite's `dynamodb-endpoint`)
 * so `ormcp client-config` prints the URL it really listens on — whatever PORT or HOST it was started with —
 * instead of a default that may be wrong.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const SERVER_URL_FILE = 'server-url';

/** Writes the MCP URL (owner-only, replacing a file a crashed server left); returns what removes it on shutdown. */
export function writeServerUrl(dataDir: string, mcpUrl: string): () => void {
  const path = join(dataDir, SERVER_URL_FILE);
  rmSync(path, { force: true });
  writeFileSync(path, `${mcpUrl}\n`, { mode: 0o600, flag: 'wx' });
  return () => rmSync(path, { force: true });
}

/** Longest URL accepted from the file: anything longer was not written by the server. */
const MAX_URL_LENGTH = 2048;

/**
 * The URL the server in `dataDir` advertises, if one does and it answers (a server that crashed leaves the file
 * behind). Any HTTP answer counts: the MCP endpoint refuses an unauthenticated GET, but only a live server refuses.
 */
export async function runningServerUrl(dataDir: string, timeoutMs = 1000): Promise<string | undefined> {
  let url: string;
  try {
    url = readFileSync(join(dataDir, SERVER_URL_FILE), 'utf8').trim();
  } catch {
    return undefined;
  }
  if (url.length > MAX_URL_LENGTH || !/^https?:\/\/[^\s/]+\/\S*$/.test(url)) return undefined;
  try {
    const res = await fetch(url, { method: 'GET', signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    await res.body?.cancel();
    return url;
  } catch {
    return undefined;
  }
}
