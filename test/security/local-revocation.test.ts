/**
 * `npm start` caches verified tokens (5 s) so a client's calls do not each wait for the table; the documented bound
 * on that cache: a token revoked from another process — the `ormcp` CLI, through the running server's table — is
 * refused by the running server once the cache time has passed, and stays refused.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LOCAL_AUTH_CACHE_MS } from '../../lambda/auth/cached-authenticator.js';
import { parseToken } from '../../lambda/crypto/secrets.js';
import { openLocalStore } from '../../lambda/local/local-store.js';
import { startNpmStart, type NpmStart } from '../support/npm-start.js';

const TOKEN_LINE = /^(ormcp_[0-9a-f]{16}_[A-Za-z0-9_-]{43})$/m;

let dataDir: string;
let server: NpmStart;
let token: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'ormcp-local-revoke-'));
  server = await startNpmStart({ ORMCP_DATA_DIR: dataDir, OPENROUTER_API_KEY: 'sk-or-v1-local-revocation-0123456789abcdef' }, 'ormcp_');
  for (let i = 0; i < 100 && !TOKEN_LINE.test(server.stdout()); i++) await sleep(20);
  token = TOKEN_LINE.exec(server.stdout())![1]!;
}, 40_000);

afterAll(async () => {
  await server?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function toolsList(): Promise<number> {
  const res = await fetch(`${server.url}/mcp`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'MCP-Protocol-Version': '2025-11-25', Authorization: `Bearer ${token}` },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  });
  await res.text();
  return res.status;
}

test('a token revoked through the CLI is refused by the running server within the cache time', async () => {
  expect(await toolsList()).toBe(200);
  expect(await toolsList()).toBe(200);
  // What `ormcp token revoke` does: open the data dir (which talks to the running server's table) and revoke.
  const cli = await openLocalStore(dataDir);
  try {
    await cli.store.revokeToken(parseToken(token)!.tokenId);
  } finally {
    await cli.close();
  }
  await sleep(LOCAL_AUTH_CACHE_MS + 250);
  expect(await toolsList()).toBe(401);
  expect(await toolsList()).toBe(401);
}, 30_000);
