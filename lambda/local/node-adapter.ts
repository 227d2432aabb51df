/**
 * node:http ⇄ web Request/Response, so the local server runs the exact handler the Lambda runs.
 * Response bodies are streamed chunk by chunk (SSE progress reaches the client as it is produced), and a
 * client that disconnects aborts the request signal.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { hostHeaderValidationResponse, localhostAllowedHostnames } from '@modelcontextprotocol/server';

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

export interface LocalServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/**
 * Serves `handler` on host:port. On a loopback host the Host header is checked too, so a web page cannot
 * reach the server through DNS rebinding.
 */
export async function listen(handler: FetchHandler, options: { host?: string; port?: number } = {}): Promise<LocalServer> {
  const host = options.host ?? '127.0.0.1';
  const loopback = ['127.0.0.1', 'localhost', '::1'].includes(host);
  const server = createServer((req, res) => {
    const controller = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    const origin = `http://${req.headers.host ?? host}`;
    void (async () => {
      let response: Response;
      try {
        const request = toWebRequest(req, origin, controller.signal);
        response = (loopback && hostHeaderValidationResponse(request, localhostAllowedHostnames())) || (await handler(request));
      } catch {
        response = new Response(JSON.stringify({ error: 'bad_request' }), { status: 400, headers: { 'Content-Type': 'application/json' } });
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
