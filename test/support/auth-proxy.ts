/**
 * A tiny loopback reverse proxy that stands in for an authenticating gateway: it forwards every request to
 * the real local server and adds `Authorization: Bearer <token>` when the request carries none. Host and
 * Origin pass through unchanged, so the server's own DNS-rebinding and Origin checks still see what the
 * client sent, and response bodies are piped chunk by chunk (SSE is never buffered).
 *
 * Used for tools that cannot send headers of their own (the MCP conformance runner).
 */
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sendJson } from './json-bodies.js';

export interface AuthProxy {
  url: string;
  close(): Promise<void>;
}

/** RFC 9110 §7.6.1 connection-specific headers: they describe one hop and are never forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

function forwardable(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const named = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean),
  );
  for (const [key, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(key) || named.has(key)) continue;
    out[key] = value;
  }
  return out;
}

export async function startAuthProxy(targetUrl: string, token: string): Promise<AuthProxy> {
  const target = new URL(targetUrl);
  if (target.protocol !== 'http:') throw new Error(`auth proxy only forwards to http:// targets, got ${target.protocol}`);
  const agent = new Agent({ keepAlive: true });

  const server = createServer((req, res) => {
    const headers = forwardable(req.headers);
    if (!req.headers.authorization) headers.authorization = `Bearer ${token}`;
    const upstream = httpRequest(
      {
        agent,
        protocol: target.protocol,
        hostname: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        // Host (and Origin) exactly as the client sent them: the server behind us validates them itself.
        headers,
        setHost: false,
      },
      (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, forwardable(upstreamRes.headers));
        res.flushHeaders();
        // pipe() writes each chunk as it arrives (with backpressure); nothing is collected first.
        upstreamRes.pipe(res);
        upstreamRes.on('error', () => res.destroy());
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) {
        sendJson(res, 502, { error: 'bad_gateway' });
      } else res.destroy();
    });
    // The client went away (e.g. closed an SSE stream): drop the upstream exchange too.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 65_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          agent.destroy();
          resolve();
        });
      }),
  };
}
