/**
 * Benchmark 3 — streaming: the delay between the upstream's first content chunk leaving the fake (written to
 * its socket) and the first MCP `notifications/progress` frame arriving at the client over loopback HTTP
 * (the local node adapter). Upstream, server and client share this process, so both timestamps come from one
 * clock. Baseline, interleaved with it: the same stream fetched directly from the upstream, timed from the same
 * write to the arrival of that content chunk at the direct client.
 *
 *   tsx bench/streaming.ts           (BENCH_STREAM_N=50 by default)
 */
import { loadConfig } from '../lambda/app/config.js';
import { createApp } from '../lambda/app/app.js';
import { CachedAuthenticator } from '../lambda/auth/cached-authenticator.js';
import { listen } from '../lambda/local/node-adapter.js';
import { createLogger } from '../lambda/observability/logger.js';
import { OPENROUTER_KEY, chatCall, mcpHeaders, rpcMessages, startAccounts } from './lib/fixture.js';
import { type BenchResult, fmt, isEntry, median, percentile, printHeader, printSummaryLine, rotation, runStandalone, table } from './lib/stats.js';
import { ANSWER, FIRST_PIECE_TEXT, MODEL, startUpstream } from './lib/upstream.js';

const N = Number(process.env.BENCH_STREAM_N ?? 50);
const WARMUP = 10;
/** Pause after the first content chunk, so nothing else is in flight while it travels. */
const GAP_MS = 25;

/** Reads a streamed body; resolves with the time `marker` first appeared in it and the whole text. */
async function readUntil(body: ReadableStream<Uint8Array>, found: (text: string) => boolean): Promise<{ at: number; text: string }> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let at = Number.NaN;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    if (Number.isNaN(at) && found(text)) at = performance.now();
  }
  return { at, text };
}

export async function run(): Promise<BenchResult> {
  printHeader(
    'Benchmark 3: streaming (first upstream content chunk → first notifications/progress at the client)',
    `loopback HTTP through the local node adapter; upstream, server and client in one process; ${N} interleaved runs each (+${WARMUP} warm-up)`,
  );
  let firstContentAt = Number.NaN;
  const upstream = await startUpstream({ gapMs: GAP_MS, onFirstContent: (at) => (firstContentAt = at) });
  const accounts = await startAccounts();
  const config = loadConfig({ OPENROUTER_BASE_URL: upstream.baseUrl });
  const app = createApp({ config, authenticator: new CachedAuthenticator(accounts.store, 60_000), logger: createLogger({ level: config.logLevel, write: () => undefined }) });
  const server = await listen(app.fetch);
  const headers = mcpHeaders(accounts.token);
  const firstPieceJson = `"content":${JSON.stringify(FIRST_PIECE_TEXT)}`;
  let id = 0;

  try {
    const viaMcp = async (): Promise<number> => {
      firstContentAt = Number.NaN;
      const callId = ++id;
      const res = await fetch(`${server.url}/mcp`, { method: 'POST', headers, body: chatCall(callId, MODEL, `p${callId}`) });
      if (res.status !== 200 || !res.body) throw new Error(`MCP call failed: HTTP ${res.status}`);
      // A complete SSE event that is a progress notification.
      const { at, text } = await readUntil(res.body, (t) => /data: [^\n]*"notifications\/progress"[^\n]*\n\n/.test(t));
      const messages = rpcMessages(res.headers.get('content-type'), text);
      const progress = messages.filter((m) => m.method === 'notifications/progress');
      const result = messages.find((m) => m.id === callId)?.result as { structuredContent?: { content?: string } } | undefined;
      if (!progress.length || result?.structuredContent?.content !== ANSWER) throw new Error(`unexpected MCP stream: ${text.slice(0, 400)}`);
      if ((progress[0]!.params as { message?: string }).message !== FIRST_PIECE_TEXT) throw new Error('the first progress frame does not carry the first chunk');
      return at - firstContentAt;
    };
    const direct = async (): Promise<number> => {
      firstContentAt = Number.NaN;
      const res = await fetch(`${upstream.baseUrl}/chat/completions`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${OPENROUTER_KEY}`, 'Content-Type': 'application/json', Accept: 'text/event-stream' },
        body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Say hello.' }], stream: true }),
      });
      if (res.status !== 200 || !res.body) throw new Error(`direct call failed: HTTP ${res.status}`);
      const { at, text } = await readUntil(res.body, (t) => t.includes(firstPieceJson));
      if (!text.includes('[DONE]')) throw new Error('direct stream incomplete');
      return at - firstContentAt;
    };

    const paths: [string, () => Promise<number>][] = [
      ['mcp', viaMcp],
      ['direct', direct],
    ];
    for (let i = 0; i < WARMUP; i++) for (const [, call] of rotation(paths, i)) await call();
    const delays: Record<string, number[]> = { mcp: [], direct: [] };
    for (let i = 0; i < N; i++) for (const [name, call] of rotation(paths, i)) delays[name]!.push(await call());
    const mcp = delays.mcp!;
    const base = delays.direct!;
    const added = mcp.map((t, i) => t - base[i]!);
    if ([...mcp, ...base].some((x) => !Number.isFinite(x))) throw new Error('a run recorded no timestamp');

    const row = (label: string, xs: number[]) => [label, fmt(median(xs), 2), fmt(percentile(xs, 90), 2), fmt(Math.max(...xs), 2)];
    process.stdout.write(
      `${table(['first-chunk delay (ms)', 'median', 'p90', 'max'], [
        row('direct: upstream write → client (baseline)', base),
        row('MCP: upstream write → first progress frame', mcp),
        row('added by the MCP layer (paired)', added),
      ])}\n`,
    );
    const med = median(mcp);
    printSummaryLine(
      `Streaming: first progress frame ${fmt(med, 2)} ms after the upstream's first chunk (median of ${N}; goal ≤ 10 ms), ` +
        `${fmt(median(added), 2)} ms more than a direct client sees.`,
    );
    return {
      name: 'streaming',
      figures: [
        { label: 'first chunk → first progress frame, median', value: `${fmt(med, 2)} ms`, goal: '≤ 10 ms', met: med <= 10 },
        { label: 'added vs direct stream, median', value: `${fmt(median(added), 2)} ms` },
      ],
    };
  } finally {
    await server.close();
    await app.close();
    await upstream.close();
    await accounts.close();
  }
}

if (isEntry(import.meta.url)) await runStandalone(run);
