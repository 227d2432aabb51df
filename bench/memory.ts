/**
 * Benchmark 4 — memory of the local server under load. Runs `npm start`'s server exactly as the start script does
 * (lambda/local/start.mjs: main.ts compiled by esbuild, dependencies external, on plain node with a bounded heap)
 * as a child with a fresh data dir (persisted dynalite, no auth cache: the real local setup), its
 * upstream pointed at the fixed-answer upstream here. Then 50 concurrent clients call send_chat_completion_request
 * (2025-era, no progress) over loopback for 10 s. The child's RSS is sampled from /proc/<pid>/status every
 * 100 ms; the peak is its VmHWM (high-water mark, so spikes between samples count too). Baselines from the
 * same run: the server itself idle after start-up, the same server run as TypeScript under the tsx loader
 * (`node --import tsx lambda/local/main.ts`, how `npm start` used to run it), and a bare idle `node` process.
 *
 *   tsx bench/memory.ts              (BENCH_MEMORY_CLIENTS=50, BENCH_MEMORY_SECONDS=10 by default)
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { OPENROUTER_KEY, PROJECT_ROOT, chatCall, mcpHeaders } from './lib/fixture.js';
import { startLocalServerChild } from './lib/local-server.js';
import { type BenchResult, fmt, fmtInt, fmtMb, isEntry, median, percentile, printHeader, printSummaryLine, runStandalone, table } from './lib/stats.js';
import { ANSWER, MODEL, startUpstream } from './lib/upstream.js';

const CLIENTS = Number(process.env.BENCH_MEMORY_CLIENTS ?? 50);
const SECONDS = Number(process.env.BENCH_MEMORY_SECONDS ?? 10);
const GOAL_BYTES = 160 * 1024 * 1024;

function procStatus(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return undefined;
  }
}

/** RSS of a bare, idle Node process (same binary), for reference. */
async function bareNodeRss(): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore', env: { PATH: process.env.PATH ?? '' } });
  await sleep(500);
  const rss = procStatus(child.pid!)?.rss ?? Number.NaN;
  child.kill('SIGKILL');
  return rss;
}

interface ServerRun {
  idle: { rss: number; hwm: number };
  peakSample: number;
  peak: number;
  end: number;
  calls: number;
  errors: number;
  elapsed: number;
  latencies: number[];
}

/** Starts one server variant as a child, loads it, and reports its memory. */
export async function measureServer(args: string[], upstreamBaseUrl: string): Promise<ServerRun> {
  const server = await startLocalServerChild({ args, cwd: PROJECT_ROOT, upstreamBaseUrl, openRouterKey: OPENROUTER_KEY, dataDirPrefix: 'ormcp-bench-mem-' });
  const { child, url, token } = server;
  try {
    const headers = mcpHeaders(token);
    let id = 0;
    const call = async () => {
      const res = await fetch(url, { method: 'POST', headers, body: chatCall(++id, MODEL) });
      const text = await res.text();
      if (res.status !== 200 || !text.includes(ANSWER) || text.includes('"isError":true')) throw new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`);
    };

    // Idle baseline: started, one call served, settled.
    await call();
    await sleep(1000);
    const idle = procStatus(child.pid!)!;

    let peakSample = idle.rss;
    const sampler = setInterval(() => {
      const s = procStatus(child.pid!);
      if (s && s.rss > peakSample) peakSample = s.rss;
    }, 100);
    const deadline = performance.now() + SECONDS * 1000;
    const latencies: number[] = [];
    let errors = 0;
    let firstError = '';
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (performance.now() < deadline) {
          const started = performance.now();
          try {
            await call();
            latencies.push(performance.now() - started);
          } catch (err) {
            errors++;
            firstError ||= err instanceof Error ? err.message : String(err);
          }
        }
      }),
    );
    const elapsed = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    const after = procStatus(child.pid!)!;
    if (errors > 0) process.stderr.write(`memory benchmark: ${errors} failed calls, first: ${firstError}\n`);
    if (latencies.length === 0) throw new Error(`every call failed: ${firstError}`);
    return { idle, peakSample: Math.max(peakSample, after.rss), peak: after.hwm, end: after.rss, calls: latencies.length, errors, elapsed, latencies };
  } finally {
    await server.stop();
  }
}

/** The node arguments of package.json's `start` script ("node <args…>"). */
export function startScriptNodeArgs(): string[] {
  const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const [cmd, ...args] = pkg.scripts.start.split(/\s+/);
  if (cmd !== 'node') throw new Error(`the start script no longer runs node directly: ${pkg.scripts.start}`);
  return args;
}

export async function run(): Promise<BenchResult> {
  printHeader(
    'Benchmark 4: memory of the local server (npm start) under load',
    `${CLIENTS} concurrent clients, ${SECONDS} s of tools/call send_chat_completion_request over loopback; zero-latency upstream; RSS from /proc/<pid>/status`,
  );
  const bare = await bareNodeRss();
  const upstream = await startUpstream();
  try {
    // Exactly the node arguments of the `start` script in package.json (heap flags included).
    const startArgs = startScriptNodeArgs();
    const heapFlags = startArgs.filter((a) => a.startsWith('--max-'));
    const npmStart = await measureServer(startArgs, upstream.baseUrl);
    const compiled = await measureServer([...heapFlags, '--import', 'tsx', 'lambda/local/main.ts'], upstream.baseUrl);

    const col = (f: (r: ServerRun) => number) => [fmtMb(f(npmStart)), fmt(f(npmStart) / npmStart.idle.rss, 2) + '×', fmtMb(f(compiled)), fmt(f(compiled) / compiled.idle.rss, 2) + '×'];
    process.stdout.write(
      `${table(['RSS', 'npm start', 'vs idle', 'tsx loader', 'vs idle'], [
        ['idle after start-up + 1 call (baseline)', ...col((r) => r.idle.rss)],
        ['peak before load (VmHWM: start-up)', ...col((r) => r.idle.hwm)],
        ['max sampled RSS under load', ...col((r) => r.peakSample)],
        ['peak RSS over the whole run (VmHWM)', ...col((r) => r.peak)],
        ['RSS at the end of the load', ...col((r) => r.end)],
      ])}\n`,
    );
    process.stdout.write(`(reference: a bare idle node process ${fmtMb(bare)}; "tsx loader" = the same lambda/local/main.ts run as TypeScript with node --import tsx)\n\n`);
    const load = (r: ServerRun) => [`${fmtInt(r.calls)} / ${fmtInt(r.errors)}`, `${fmtInt(r.calls / r.elapsed)}`, `${fmt(median(r.latencies), 1)} / ${fmt(percentile(r.latencies, 99), 1)}`];
    process.stdout.write(
      `${table(['load', 'calls ok / failed', 'calls/s', 'latency median / p99 (ms)'], [
        ['npm start', ...load(npmStart)],
        ['tsx loader', ...load(compiled)],
      ])}\n`,
    );
    const peak = npmStart.peak;
    const met = peak <= GOAL_BYTES;
    printSummaryLine(
      `Memory: npm start peaks at ${fmtMb(peak)} RSS under ${CLIENTS} concurrent clients (idle ${fmtMb(npmStart.idle.rss)}, +${fmtMb(peak - npmStart.idle.rss)}; goal ≤ 160 MB: ${met ? 'met' : 'MISSED'}); ` +
        `under the tsx loader ${fmtMb(compiled.peak)} (idle ${fmtMb(compiled.idle.rss)}).`,
    );
    return {
      name: 'memory',
      figures: [
        { label: `peak RSS npm start, ${CLIENTS} clients × ${SECONDS} s`, value: fmtMb(peak), goal: '≤ 160 MB', met },
        { label: 'npm start idle RSS (baseline) / growth under load', value: `${fmtMb(npmStart.idle.rss)} / +${fmtMb(peak - npmStart.idle.rss)}` },
        { label: 'peak RSS under the tsx loader, same load', value: `${fmtMb(compiled.peak)} (idle ${fmtMb(compiled.idle.rss)})` },
        { label: 'throughput under load / failed calls', value: `${fmtInt(npmStart.calls / npmStart.elapsed)} calls/s / ${npmStart.errors + compiled.errors}` },
      ],
    };
  } finally {
    await upstream.close();
  }
}

if (isEntry(import.meta.url)) await runStandalone(run);
