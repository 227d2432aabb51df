/**
 * node:http ⇄ web Request/Response, so the local server runs the exact handler the Lambda runs.
 * Response bodies are streamed chunk by chunk (SSE progress reaches the client as it is produced), and a
 * client that disconnects aborts the request signal.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { hostHeaderValidationResponse, localhostAllowedHostnames } from '@modelcontextprotocol/server';
import { Admission, type AdmissionLimits } from '../http/admission.js';
import { json, jsonRpcError } from '../http/json.js';
import { trimTrailingSlashes } from '../http/path.js';
import { MCP_PATH } from '../oauth/metadata.js';

export type FetchHandler = (request: Request) => Promise<Response>;

export function toWebRequest(req: IncomingMessage, origin: string, signal: AbortSignal): Request {
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  const method = req.method ?? 'GET';
  const hasBody = method !== 'GET' && method !== 'HEAD';
  return new Request(new URL(req.url ?? '/', origin), {
    method,
    headers,
    signal,
    ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream<Uint8Array>, duplex: 'half' } : {}),
  } as RequestInit);
}

export async function writeWebResponse(res: ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, key) => {
    if (key !== 'set-cookie') headers[key] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length) headers['set-cookie'] = cookies;
  res.writeHead(response.status, response.statusText || undefined, headers);
  if (!response.body) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  res.on('close', () => void reader.cancel().catch(() => undefined));
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value)) await new Promise<void>((resolve) => res.once('drain', resolve).once('close', resolve));
    }
  } catch {
    // the client went away mid-stream; nothing left to tell it
  } finally {
    res.end();
  }
}

/**
 * Admission limits for `npm start`, whose heap is fixed by `--max-old-space-size=96` in package.json. The heap
 * arithmetic: the idle server holds ~21 MB; a tools/call body held in flight measured ~2.1x its size after a GC
 * (6 calls of 4 MiB: 21 → 75 MB), but a call whose answer is as long as its prompt peaks near 8x: the upstream answer,
 * the result's text and structured copies, and a response JSON that V8 holds at two bytes a character once any
 * character is outside Latin-1 (the ⚠ of a notice is enough). 8 MiB of bodies in flight (2 at the default 4 MiB
 * `ORMCP_MAX_BODY_BYTES`, 1 at the 6 MiB maximum) x 8 = 67 MB, + 21 MB = 88 MB < 96 MB; at 16 MiB four 3.9 MB echo
 * calls ran the heap out (test/security/local-flood.test.ts). Small requests are bounded by count (64 at once) instead.
 */
export function localAdmissionLimits(perRequestBodyBytes: number): AdmissionLimits {
  return { maxRequests: 64, maxBodyBytes: 8 * 1024 * 1024, perRequestBodyBytes };
}

function bodyOf(req: IncomingMessage): { hasBody: boolean; contentLength: string | undefined } {
  const contentLength = req.headers['content-length'];
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD' && (req.headers['transfer-encoding'] !== undefined || (contentLength !== undefined && contentLength !== '0'));
  return { hasBody, contentLength };
}

/** The answer to a request over the admission limits: MCP clients get a JSON-RPC error, others an OAuth-style one. */
function busy(url: string): Response {
  const message = 'The server is busy with other requests; retry shortly.';
  let path = '';
  try {
    path = trimTrailingSlashes(new URL(url, 'http://localhost').pathname);
  } catch {
    // an unparsable URL gets the plain JSON shape
  }
  const headers = { 'Retry-After': '1', 'Cache-Control': 'no-store' };
  if (path === MCP_PATH) return jsonRpcError(503, -32000, message, headers);
  return json(503, { error: 'temporarily_unavailable', error_description: message }, headers);
}

export interface LocalServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/**
 * Serves `handler` on host:port. On a loopback host the Host header is checked too, so a web page cannot
 * reach the server through DNS rebinding.
 */
export async function listen(handler: FetchHandler, options: { host?: string; port?: number; admission?: AdmissionLimits } = {}): Promise<LocalServer> {
  const host = options.host ?? '127.0.0.1';
  const loopback = ['127.0.0.1', 'localhost', '::1'].includes(host);
  const admission = new Admission(options.admission ?? localAdmissionLimits(6 * 1024 * 1024));
  const server = createServer((req, res) => {
    const release = admission.tryAdmit(bodyOf(req));
    if (!release) {
      // Refused before a byte of the body is read; node discards the unread body once the answer is sent.
      void writeWebResponse(res, busy(req.url ?? '/'));
      return;
    }
    const controller = new AbortController();
    res.on('close', () => {
      release();
      if (!res.writableFinished) controller.abort();
    });
    const origin = `http://${req.headers.host ?? host}`;
    void (async () => {
      let response: Response;
      try {
        const request = toWebRequest(req, origin, controller.signal);
        response = (loopback && hostHeaderValidationResponse(request, localhostAllowedHostnames())) || (await handler(request));
      } catch {
        response = json(400, { error: 'bad_request' });
      }
      await writeWebResponse(res, response);
    })();
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
