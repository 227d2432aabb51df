/**
 * `npm run bench`: the benchmarks in sequence — cold start, warm tools/list, added latency, streaming, memory, added latency
 * under npm start — each printing
 * its table and a one-line summary, then one summary block with every headline figure and whether its goal
 * was met. Every figure is measured against a baseline taken in the same run (the machine is small and noisy);
 * nothing here asserts timings. Each benchmark also runs alone: `tsx bench/<coldstart|tools-list|latency|streaming|memory|npm-start-latency>.ts`.
 */
import { cpus } from 'node:os';
import { run as coldStart } from './coldstart.js';
import { run as latency } from './latency.js';
import { run as memory } from './memory.js';
import { run as npmStartLatency } from './npm-start-latency.js';
import { run as streaming } from './streaming.js';
import { run as toolsList } from './tools-list.js';
import { type BenchResult, fmt, summaryTable } from './lib/stats.js';

const started = performance.now();
process.stdout.write(
  `OpenRouter MCP benchmarks — node ${process.version}, ${process.platform}/${process.arch}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}\n`,
);

const results: BenchResult[] = [];
try {
  for (const bench of [coldStart, toolsList, latency, streaming, memory, npmStartLatency]) results.push(await bench());
} catch (err) {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
}

const goals = results.flatMap((r) => r.figures).filter((f) => f.met !== undefined);
process.stdout.write(`\n=== Summary (${fmt((performance.now() - started) / 1000, 0)} s) ===\n\n${summaryTable(results)}\n\n`);
process.stdout.write(`${goals.filter((f) => f.met).length} of ${goals.length} goals met.\n`);
process.exit(0);
