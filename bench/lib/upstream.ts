/**
 * A minimal, zero-latency OpenRouter stand-in for the benchmarks: POST /chat/completions answers one fixed,
 * pre-serialized chat completion (or, with `"stream":true`, a fixed SSE stream). It does not parse or validate
 * the request (test/support/fake-openrouter.ts validates every body against the OpenAPI spec, which would
 * add its own cost to every measured call), so the upstream's own cost is as close to zero as node:http allows.
 *
 * Streaming: the first content chunk is written, `onFirstContent` is called with the time it was handed to the
 * socket (performance.now(), same clock as the caller when in-process), then the rest follows after `gapMs`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const ANSWER = 'Hello from the benchmark upstream.';
export const MODEL = 'openai/gpt-4o-mini';

const base = { id: 'gen-bench-0001', model: MODEL, provider: 'BenchProvider', created: 1_750_000_000, system_fingerprint: null };
const usage = { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19, cost: 0.0000123, is_byok: false, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } };

const CHAT_JSON = Buffer.from(
  JSON.stringify({
    ...base,
    object: 'chat.completion',
    choices: [{ index: 0, finish_reason: 'stop', native_finish_reason: 'stop', message: { role: 'assistant', content: ANSWER } }],
    usage,
  }),
);

const sse = (data: unknown) => `data: ${JSON.stringify(data)}\n\n`;
const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
  sse({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish, native_finish_reason: finish }] });
const [FIRST_PIECE, ...OTHER_PIECES] = ANSWER.match(/\S+\s*/g)!;
const STREAM_HEAD = `: OPENROUTER PROCESSING\n\n${chunk({ role: 'assistant', content: '' })}`;
const STREAM_FIRST = chunk({ content: FIRST_PIECE });
const STREAM_REST = [...OTHER_PIECES.map((p) => chunk({ content: p })), chunk({}, 'stop'), sse({ ...base, object: 'chat.completion.chunk', choices: [], usage }), 'data: [DONE]\n\n'].join('');
export const FIRST_PIECE_TEXT = FIRST_PIECE!;

export interface UpstreamOptions {
  /** Pause between the first content chunk and the rest of a stream. */
  gapMs?: number;
  /** Called right after the first content chunk of each stream was written. */
  onFirstContent?: (at: number) => void;
}

export interface Upstream {
  baseUrl: string;
  requests: number;
  close(): Promise<void>;
}

export async function startUpstream(options: UpstreamOptions = {}): Promise<Upstream> {
  const state = { requests: 0 };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      state.requests++;
      if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
        res.writeHead(404, { 'Content-Type': 'application/json' });
        res.end('{"error":{"code":404,"message":"not found"}}');
        return;
      }
      const body = Buffer.concat(parts).toString('utf8');
      if (!body.includes('"stream":true')) {
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': CHAT_JSON.byteLength });
        res.end(CHAT_JSON);
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
      res.write(STREAM_HEAD);
      res.write(STREAM_FIRST);
      options.onFirstContent?.(performance.now());
      setTimeout(() => res.end(STREAM_REST), options.gapMs ?? 0);
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/api/v1`,
    get requests() {
      return state.requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
