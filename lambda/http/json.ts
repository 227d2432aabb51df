/**
 * JSON responses: the one constructor every endpoint uses (OAuth, discovery, MCP errors, the 503 of a failed cold
 * start), so the content type and the extra headers are set the same way everywhere.
 */

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });
}

/** A JSON-RPC error that answers no particular request (id null): what MCP clients get from the HTTP layer. */
export function jsonRpcError(status: number, code: number, message: string, headers: Record<string, string> = {}): Response {
  return json(status, { jsonrpc: '2.0', error: { code, message }, id: null }, headers);
}
