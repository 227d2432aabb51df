/**
 * The embedded table's front door. dynalite itself accepts any credentials and answers CORS preflights from any
 * origin, so on its own any local process — or a web page that finds the port — could read and rewrite the table.
 * This guard sits in front of dynalite's request handler in the same server (no extra hop) and lets a request
 * through only when it carries the per-run table key and no `Origin`.
 *
 * Why a key on loopback TCP rather than a Unix socket inside the 0700 data dir: dynalite is a plain http.Server and
 * could listen on a path, and the SDK could reach it through an http.Agent whose createConnection dials that path,
 * but (1) Node's net module has no filesystem-path sockets on Windows (only named pipes, which the data dir's
 * permissions do not cover), and (2) socket paths are capped at 104–108 bytes (macOS/Linux sun_path), which a data
 * dir in a deep checkout or a temp dir exceeds. The key gives the same boundary everywhere: it is random per run,
 * lives only in the server's memory and in a 0600 file in the data dir (where the server secret already lives), so
 * only processes that can read the data dir — this server and the `ormcp` CLI of the same user — can use the
 * table. Browsers always send `Origin` on cross-origin and on POST requests, so refusing any request with one
 * closes the web-page route even before the key is checked; a preflight gets a 403 with no CORS headers.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export const TABLE_KEY_HEADER = 'x-ormcp-table-key';

/** A fresh per-run key (256 bits, base64url). */
export function newTableKey(): string {
  return randomBytes(32).toString('base64url');
}

/** Pure: whether a request with these headers may reach the table. */
export function tableRequestAllowed(headers: IncomingHttpHeaders, tableKey: string): boolean {
  if (headers.origin !== undefined) return false;
  const presented = headers[TABLE_KEY_HEADER];
  if (typeof presented !== 'string') return false;
  // Compare digests so the comparison is constant-time whatever the presented length.
  const digest = (v: string) => createHash('sha256').update(v).digest();
  return timingSafeEqual(digest(presented), digest(tableKey));
}

/** Puts the guard in front of the server's (dynalite's) request handler. */
export function guardTable(server: Server, tableKey: string): void {
  const handlers = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (tableRequestAllowed(req.headers, tableKey)) {
      for (const handler of handlers) handler(req, res);
      return;
    }
    refuse(req, res);
  });
}

/**
 * A DynamoDB-shaped 403 (the SDK reports it as UnrecognizedClientException), with no CORS headers. `Connection: close`
 * makes Node close the socket once the answer is flushed, so a refused request's body is never read beyond what is
 * already in flight.
 */
function refuse(req: IncomingMessage, res: ServerResponse): void {
  const body = JSON.stringify({
    __type: 'com.amazon.coral.service#UnrecognizedClientException',
    message: 'This embedded table is private to the ormcp server that owns its data dir.',
  });
  res.writeHead(403, { 'Content-Type': 'application/x-amz-json-1.0', 'Content-Length': Buffer.byteLength(body), Connection: 'close' });
  res.end(body);
  req.resume();
}

/** Makes every request of `client` carry the table key. */
export function sendTableKey(client: DynamoDBClient, tableKey: string): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers[TABLE_KEY_HEADER] = tableKey;
      return next(args);
    },
    { step: 'build', name: 'ormcpTableKey' },
  );
}
