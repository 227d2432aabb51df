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
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { OPENROUTER_KEY, PROJECT_ROOT, chatCall, mcpHeaders, startUpstreamChild } from './lib/fixture.js';
import { startScriptNodeArgs } from './memory.js';
import { type BenchResult, fmt, isEntry, median, percentile, printHeader, printSummaryLine, rotation, runStandalone, table } from './lib/stats.js';
import { ANSWER, MODEL } from './lib/upstream.js';

const CALLS = Number(process.env.BENCH_NPM_START_CALLS ?? 200);
const SKIP = Number(process.env.BENCH_NPM_START_SKIP ?? 20);
const GOAL_MS = 3;

type Call = () => Promise<void>;

function check(status: number, text: string, where: string): void {
  if (status !== 200 || !text.includes(ANSWER) || text.includes('"isError":true')) throw new Error(`${where}: unexpected answer (HTTP ${status}): ${text.slice(0, 300)}`);
}

interface Server {
  url: string;
  token: string;
  stop(): Promise<void>;
}

/** `npm start`'s node command as a child with a fresh data dir; resolves once it printed its URL and first token. */
async function startServer(upstreamBaseUrl: string): Promise<Server> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ormcp-bench-start-'));
  const logPath = join(dataDir, 'server.log');
  const logFd = openSync(logPath, 'w');
  const child = spawn(process.execPath, startScriptNodeArgs(), {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'pipe', logFd],
    env: {
      PATH: process.env.PATH ?? '',
      PORT: '0',
      ORMCP_DATA_DIR: dataDir,
      OPENROUTER_API_KEY: OPENROUTER_KEY,
      OPENROUTER_BASE_URL: upstreamBaseUrl,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ORMCP_RATE_LIMIT_PER_MINUTE: '100000',
      ORMCP_MAX_CONCURRENT_PER_USER: '1000',
    },
  });
  closeSync(logFd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const { url, token } = await new Promise<{ url: string; token: string }>((resolve, reject) => {
      let url: string | undefined;
      const timer = setTimeout(() => reject(new Error(`the server did not start in 30 s: ${readFileSync(logPath, 'utf8').slice(-2000)}`)), 30_000);
      child.once('exit', (code) => reject(new Error(`the server exited (${code}): ${readFileSync(logPath, 'utf8').slice(-2000)}`)));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        url ??= /listening on (http:\/\/\S+\/mcp)/.exec(line)?.[1];
        if (url && /^ormcp_\S+$/.test(line.trim())) {
          clearTimeout(timer);
          resolve({ url, token: line.trim() });
        }
      });
    });
    return { url, token, stop };
  } catch (err) {
    await stop();
    throw err;
  }
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
      check(res.status, await res.text(), 'npm start');
    };
    const direct: Call = async () => {
      const res = await fetch(`${upstream.baseUrl}/chat/completions`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${OPENROUTER_KEY}`, 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Say hello.' }] }),
      });
      const text = await res.text();
      JSON.parse(text);
      check(res.status, text, 'direct');
    };
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
