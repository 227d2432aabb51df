/**
 * Load: LOAD_CLIENTS real MCP SDK clients (v2; most negotiate 2026-07-28, some speak the 2025 handshake) call
 * the local server — started as `npm start` starts it, in its own process — over loopback HTTP for LOAD_SECONDS,
 * against the fake OpenRouter: mostly send_chat_completion_request on fake/echo (a third of them streamed with
 * progress), every tenth call retrieve_available_models. Pass: zero failed calls (each answer checked), and no
 * memory growth trend — the server's heap after a forced GC, sampled through the load, is compared between the
 * first and the last window (10 s each in the full run, a third of the run in the short one).
 *
 *   npm test            short mode: 50 clients × 3 s (LOAD_SECONDS default)
 *   npm run test:load   50 clients × 30 s
 *
 * Latency percentiles and memory figures are printed, never asserted: this is a correctness test under load.
 */
import { readFileSync } from 'node:fs';
import type { Client } from '@modelcontextprotocol/client';
import { median, percentile } from '../../bench/lib/stats.js';
import { FakeOpenRouter } from '../support/fake-openrouter.js';
import { connectV2, textOf } from '../support/harness.js';
import { startNpmStartServer, type LoadServer, type MemorySample } from './server.js';

const SECONDS = Number(process.env.LOAD_SECONDS ?? 3);
const CLIENTS = Number(process.env.LOAD_CLIENTS ?? 50);
/** Legacy (2025-era handshake) clients among them. */
const LEGACY_EVERY = 5;
const WINDOW_MS = Math.min(10_000, (SECONDS * 1000) / 3);
const SAMPLE_EVERY_MS = Math.max(200, Math.min(1_000, (SECONDS * 1000) / 15));
const OPENROUTER_KEY = 'sk-or-v1-load-test-0123456789abcdef0123456789abcdef';

/**
 * Allowed rise of the median post-GC heap from the first window to the last. Measured here: the heap climbs
 * ~3 MB in the first seconds (lazily compiled code, caches) and then stays flat within ±1 MB, so this slack
 * absorbs warm-up and noise while a leak of a few KB per call (~2,500 calls between the windows of the full
 * run) still fails.
 */
const HEAP_SLACK_BYTES = 4 * 1024 * 1024;
const HEAP_SLACK_RATIO = 0.1;

jest.setTimeout(SECONDS * 1000 + 90_000);

let fake: FakeOpenRouter;
let server: LoadServer;
const clients: Client[] = [];

beforeAll(async () => {
  fake = new FakeOpenRouter([OPENROUTER_KEY]);
  await fake.start();
  server = await startNpmStartServer(fake.baseUrl, OPENROUTER_KEY);
  for (let i = 0; i < CLIENTS; i++) {
    clients.push(await connectV2(server.token, { url: server.url, mode: i % LEGACY_EVERY === LEGACY_EVERY - 1 ? 'legacy' : 'auto' }));
  }
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await server?.stop();
  await fake?.stop();
});

type ToolResult = { content?: unknown; structuredContent?: Record<string, unknown>; isError?: boolean };

/** One call chosen by its sequence number, with its answer checked; throws on anything but the expected result. */
async function oneCall(client: Client, who: number, n: number): Promise<void> {
  if (n % 10 === 9) {
    const result = (await client.callTool({ name: 'retrieve_available_models', arguments: { limit: 5 } })) as ToolResult;
    if (result.isError || (result.structuredContent?.models as unknown[] | undefined)?.length !== 5) throw new Error(`catalog: ${textOf(result).slice(0, 200)}`);
    return;
  }
  const text = `load ${who}-${n}`;
  const streamed = n % 3 === 0;
  let progress = '';
  const result = (await client.callTool(
    { name: 'send_chat_completion_request', arguments: { model: 'fake/echo', messages: [{ role: 'user', content: text }] } },
    streamed ? { onprogress: (p) => void (progress += p.message ?? '') } : undefined,
  )) as ToolResult;
  if (result.isError || !textOf(result).includes(`Echo: ${text}`)) throw new Error(`chat: ${textOf(result).slice(0, 200)}`);
  if (streamed && !progress.includes('Echo')) throw new Error(`chat: no progress for a streamed call (${JSON.stringify(progress)})`);
}

test(`${CLIENTS} concurrent MCP clients for ${SECONDS} s: zero failed calls, no memory growth trend`, async () => {
  // Warm-up (not measured): every client once, so start-up work (JIT, catalog cache, connections) is done.
  await Promise.all(clients.map((c, who) => oneCall(c, who, 9).then(() => oneCall(c, who, 0))));

  const samples: MemorySample[] = [];
  const t0 = performance.now();
  const deadline = t0 + SECONDS * 1000;
  let sampling = true;
  const cpuAtStart = { server: cpuSeconds(server.pid), here: process.cpuUsage() };
  const sampler = (async () => {
    while (sampling) {
      const at = performance.now() - t0;
      samples.push({ at, ...(await server.memory()) });
      await new Promise((r) => setTimeout(r, SAMPLE_EVERY_MS));
    }
  })();

  const latencies: number[] = [];
  const failures: string[] = [];
  await Promise.all(
    clients.map(async (client, who) => {
      for (let n = 1; performance.now() < deadline; n++) {
        const started = performance.now();
        try {
          await oneCall(client, who, n);
          latencies.push(performance.now() - started);
        } catch (err) {
          failures.push(err instanceof Error ? err.message : String(err));
        }
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  const serverCpu = cpuSeconds(server.pid) - cpuAtStart.server;
  const hereCpu = cpuTotal(process.cpuUsage(cpuAtStart.here));
  sampling = false;
  await sampler;
  samples.push({ at: performance.now() - t0, ...(await server.memory()) });

  const first = samples.filter((s) => s.at <= WINDOW_MS);
  const last = samples.filter((s) => s.at >= elapsed * 1000 - WINDOW_MS);
  const mb = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MB`;
  const heapFirst = median(first.map((s) => s.heapUsed));
  const heapLast = median(last.map((s) => s.heapUsed));
  const rssFirst = median(first.map((s) => s.rss));
  const rssLast = median(last.map((s) => s.rss));
  process.stdout.write(
    [
      '',
      `load: ${CLIENTS} MCP clients × ${SECONDS} s against npm start (pid ${server.pid}): ${latencies.length} calls ok, ${failures.length} failed, ${(latencies.length / elapsed).toFixed(0)} calls/s`,
      `  latency p50 ${median(latencies).toFixed(1)} ms · p99 ${percentile(latencies, 99).toFixed(1)} ms · max ${Math.max(...latencies).toFixed(1)} ms`,
      `  heapUsed${samples[0]?.collected ? ' after forced GC' : ''}, median of first / last ${(WINDOW_MS / 1000).toFixed(1)} s: ${mb(heapFirst)} / ${mb(heapLast)} (${samples.length} samples)`,
      `  RSS, median of first / last window: ${mb(rssFirst)} / ${mb(rssLast)} · max ${mb(Math.max(...samples.map((s) => s.rss)))}`,
      `  CPU over the run: server ${serverCpu.toFixed(1)} s, clients + fake upstream (this process) ${hereCpu.toFixed(1)} s, of ${elapsed.toFixed(1)} s wall`,
      '',
    ].join('\n'),
  );

  // LOAD_VERBOSE=1 prints every sample, to see the shape of the curve rather than two medians.
  if (process.env.LOAD_VERBOSE) process.stdout.write(`${samples.map((s) => `  ${(s.at / 1000).toFixed(1)} s  heap ${mb(s.heapUsed)}  rss ${mb(s.rss)}`).join('\n')}\n`);
  expect(failures.slice(0, 5)).toEqual([]);
  expect(failures).toHaveLength(0);
  expect(latencies.length).toBeGreaterThan(CLIENTS);
  expect(fake.violations).toEqual([]);
  expect(first.length).toBeGreaterThanOrEqual(2);
  expect(last.length).toBeGreaterThanOrEqual(2);
  expect(samples.every((s) => s.collected)).toBe(true);
  // No growth trend: the retained heap at the end is where it was at the start, within the slack.
  expect(heapLast).toBeLessThanOrEqual(heapFirst * (1 + HEAP_SLACK_RATIO) + HEAP_SLACK_BYTES);
});

/** User + system CPU seconds of a process, from /proc (Linux); NaN elsewhere. */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after "pid (comm) ".
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

const cpuTotal = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;
