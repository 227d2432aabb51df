/**
 * Benchmark 6 — added latency under `npm start`, as a user meets it: a fresh server started exactly as the start
 * script starts it (fresh data dir, persisted dynalite, its own token cache), a 2025-era stateless client (plain
 * `fetch`, tools/call send_chat_completion_request, no progress), rate limits lifted so every call is a real
 * generation, against the fixed-answer upstream in its own process on loopback. Each server call is paired with
 * the same upstream call made directly in the same iteration (the order rotates); the figure is the median of
 * (server − direct) over calls 21–220 after the start: the first 20 (connection set-up, first compilations) are
 * served but not counted, and the JIT is still cold for the rest, as it is for a user.
 *
 *   tsx bench/npm-start-latency.ts      (BENCH_NPM_START_CALLS=200, BENCH_NPM_START_SKIP=20 by default)
 */
import { OPENROUTER_KEY, PROJECT_ROOT, chatCall, checkAnswer, directChatCall, mcpHeaders, startUpstreamChild } from './lib/fixture.js';
import { startLocalServerChild, type LocalServerChild } from './lib/local-server.js';
import { startScriptNodeArgs } from './memory.js';
import { type BenchResult, fmt, isEntry, median, percentile, printHeader, printSummaryLine, rotation, runStandalone, table } from './lib/stats.js';
import { MODEL } from './lib/upstream.js';

const CALLS = Number(process.env.BENCH_NPM_START_CALLS ?? 200);
const SKIP = Number(process.env.BENCH_NPM_START_SKIP ?? 20);
const GOAL_MS = 3;

type Call = () => Promise<void>;

/** `npm start`'s node command as a child with a fresh data dir; resolves once it printed its URL and first token. */
function startServer(upstreamBaseUrl: string): Promise<LocalServerChild> {
  return startLocalServerChild({ args: startScriptNodeArgs(), cwd: PROJECT_ROOT, upstreamBaseUrl, openRouterKey: OPENROUTER_KEY, dataDirPrefix: 'ormcp-bench-start-' });
}

export async function run(): Promise<BenchResult> {
  printHeader(
    'Benchmark 6: added latency under npm start (real chat calls, fresh start)',
    `calls ${SKIP + 1}–${SKIP + CALLS} after a fresh npm start; tools/call send_chat_completion_request (2025-era client, fetch), paired with the same call made directly upstream; added = server − direct`,
  );
  const upstream = await startUpstreamChild();
  const server = await startServer(upstream.baseUrl).catch(async (err: unknown) => {
    await upstream.close();
    throw err;
  });
  try {
    const headers = mcpHeaders(server.token);
    let id = 0;
    const viaServer: Call = async () => {
      const res = await fetch(server.url, { method: 'POST', headers, body: chatCall(++id, MODEL) });
      checkAnswer(res.status, await res.text(), 'npm start');
    };
    const direct: Call = directChatCall(upstream.baseUrl, MODEL);
    const added: number[] = [];
    const serverMs: number[] = [];
    const directMs: number[] = [];
    for (let i = 0; i < SKIP + CALLS; i++) {
      const t: Record<string, number> = {};
      for (const [name, call] of rotation<[string, Call]>([['direct', direct], ['server', viaServer]], i)) {
        const t0 = performance.now();
        await call();
        t[name] = performance.now() - t0;
      }
      if (i < SKIP) continue;
      added.push(t.server! - t.direct!);
      serverMs.push(t.server!);
      directMs.push(t.direct!);
    }
    const addedMedian = median(added);
    process.stdout.write(
      `${table(['calls ' + (SKIP + 1) + '–' + (SKIP + CALLS), 'median (ms)', 'p90 (ms)', 'p99 (ms)'], [
        ['direct upstream call (baseline)', fmt(median(directMs)), fmt(percentile(directMs, 90)), fmt(percentile(directMs, 99))],
        ['through npm start', fmt(median(serverMs)), fmt(percentile(serverMs, 90)), fmt(percentile(serverMs, 99))],
        ['added (paired)', fmt(addedMedian), fmt(percentile(added, 90)), fmt(percentile(added, 99))],
      ])}\n`,
    );
    const met = addedMedian <= GOAL_MS;
    printSummaryLine(`npm start: +${fmt(addedMedian)} ms added median latency per chat call, calls ${SKIP + 1}–${SKIP + CALLS} after a fresh start (goal ≤ ${GOAL_MS} ms: ${met ? 'met' : 'MISSED'}).`);
    return {
      name: 'npm-start-latency',
      figures: [
        { label: `added median latency under npm start, calls ${SKIP + 1}–${SKIP + CALLS}`, value: `${fmt(addedMedian)} ms`, goal: `≤ ${GOAL_MS} ms`, met },
        { label: 'added p90 under npm start', value: `${fmt(percentile(added, 90))} ms` },
      ],
    };
  } finally {
    await server.stop();
    await upstream.close();
  }
}

if (isEntry(import.meta.url)) await runStandalone(run);
