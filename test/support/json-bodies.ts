/**
 * JSON for the tests: telling a JSON object apart, answering with a JSON body (the fakes and fixture servers),
 * and reading the JSON-RPC messages out of an answer from /mcp, which is either one JSON body or an SSE stream.
 */
import type { ServerResponse } from 'node:http';

/** A JSON object (not null, not an array). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Answers with `body` as JSON (`headers` may override the Content-Type, e.g. for AWS's JSON dialect). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** The data of each event of an SSE body (its `data:` lines joined by newlines); events without data are left out. */
export function sseData(text: string): string[] {
  const data: string[] = [];
  for (const event of text.split(/\r?\n\r?\n/)) {
    const lines = event
      .split(/\r?\n/)
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).replace(/^ /, ''));
    if (lines.length) data.push(lines.join('\n'));
  }
  return data;
}

/** The JSON-RPC messages of an answer from /mcp: each SSE event, or the JSON body (a batch as its members). Throws on one that is not JSON. */
export function rpcMessages(contentType: string | null, text: string): unknown[] {
  if ((contentType ?? '').toLowerCase().startsWith('text/event-stream')) return sseData(text).map((d) => JSON.parse(d) as unknown);
  const body = JSON.parse(text) as unknown;
  return Array.isArray(body) ? body : [body];
}
