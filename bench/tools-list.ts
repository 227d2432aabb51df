/**
 * Benchmark — warm tools/list. A warm instance still builds a fresh McpServer per request (the design is
 * stateless), so what tools/list costs per request is what every catalog refresh of every client costs. Ours
 * (the real handler, authenticated from a warm token cache, its ten tools with large zod schemas) against the minimal
 * MCP SDK v2 stateless handler with one tool (bench/fixtures/hello-lambda.ts's factory), both in-process, the
 * same 2025-era request. CPU per call over a batch, and calls per second on one core (1000 / CPU ms). Also the size
 * of the answer itself — every client puts it into the model's context on every conversation — in bytes of compact
 * JSON and in estimated tokens.
 *
 *   tsx bench/tools-list.ts          (BENCH_TOOLS_LIST_N=1000 by default)
 */
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import * as z from 'zod';
import { loadConfig } from '../lambda/app/config.js';
import { createApp } from '../lambda/app/app.js';
import { CachedAuthenticator } from '../lambda/auth/cached-authenticator.js';
import { createLogger } from '../lambda/observability/logger.js';
import { TOOLS } from '../lambda/tools/index.js';
import { mcpHeaders, rpcMessages, startAccounts } from './lib/fixture.js';
import { type BenchResult, fmt, fmtInt, isEntry, printHeader, printSummaryLine, runStandalone, table } from './lib/stats.js';

const N = Number(process.env.BENCH_TOOLS_LIST_N ?? 1000);
const WARMUP = Math.min(200, N);
const ROUNDS = 3;

type Call = () => Promise<void>;

/**
 * Budget for the tools/list result: 12 KB of compact JSON for the six text tools, raised to 17 KB for the four tools
 * added since (conversations, images, compare_models; README, Tools). The size test holds the same bound.
 */
const SIZE_GOAL_BYTES = 17 * 1024;
/** A rough token estimate for JSON-heavy text: about 4 bytes per token with the common tokenizers. */
const BYTES_PER_TOKEN = 4;

/** Bytes of the tools/list result as compact JSON, as a client receives and forwards it. */
async function toolsListBytes(fetchHandler: (r: Request) => Promise<Response>, headers: Record<string, string>): Promise<number> {
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
  const res = await fetchHandler(new Request('http://127.0.0.1/mcp', { method: 'POST', headers, body }));
  const answer = rpcMessages(res.headers.get('content-type'), await res.text()).find((m) => m.id === 1) as { result?: unknown } | undefined;
  if (answer?.result === undefined) throw new Error(`tools/list: no result (HTTP ${res.status})`);
  return Buffer.byteLength(JSON.stringify(answer.result));
}

async function cpuPerCall(call: Call, n: number): Promise<number> {
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await call();
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / 1000 / n;
}

function toolsListCall(fetchHandler: (r: Request) => Promise<Response>, headers: Record<string, string>, expectTools: number): Call {
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
  return async () => {
    const res = await fetchHandler(new Request('http://127.0.0.1/mcp', { method: 'POST', headers, body }));
    const text = await res.text();
    const answer = rpcMessages(res.headers.get('content-type'), text).find((m) => m.id === 1) as { result?: { tools?: unknown[] } } | undefined;
    if (res.status !== 200 || answer?.result?.tools?.length !== expectTools) throw new Error(`tools/list: unexpected answer (HTTP ${res.status}): ${text.slice(0, 300)}`);
  };
}

export async function run(): Promise<BenchResult> {
  printHeader(
    'Benchmark: warm tools/list (2025-era, in-process)',
    `${fmtInt(WARMUP)} warm-up + ${ROUNDS} alternating rounds of ${fmtInt(N)} calls per handler; CPU time of this process per call`,
  );
  const accounts = await startAccounts();
  const config = loadConfig({});
  const app = createApp({ config, authenticator: new CachedAuthenticator(accounts.store, 60_000), logger: createLogger({ level: config.logLevel, write: () => undefined }) });
  const hello = createMcpHandler(
    () => {
      const server = new McpServer({ name: 'hello', version: '1.0.0' });
      server.registerTool('hello', { description: 'Says hello.', inputSchema: z.object({ name: z.string() }) }, ({ name }) => ({
        content: [{ type: 'text', text: `Hello, ${name}!` }],
      }));
      return server;
    },
    { legacy: 'stateless' },
  );
  try {
    const headers = mcpHeaders(accounts.token);
    const ours = toolsListCall(app.fetch, headers, TOOLS.length);
    const base = toolsListCall((r) => hello.fetch(r), headers, 1);
    for (let i = 0; i < WARMUP; i++) {
      await ours();
      await base();
    }
    const oursMs: number[] = [];
    const helloMs: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      helloMs.push(await cpuPerCall(base, N));
      oursMs.push(await cpuPerCall(ours, N));
    }
    const best = (xs: number[]) => Math.min(...xs);
    const oursCpu = best(oursMs);
    const helloCpu = best(helloMs);
    const bytes = await toolsListBytes(app.fetch, headers);
    const tokens = bytes / BYTES_PER_TOKEN;
    process.stdout.write(
      `${table(['warm tools/list (CPU per call, best of rounds)', 'ms', 'calls/s on one core'], [
        ['hello: MCP SDK v2, one tool', fmt(helloCpu, 3), fmtInt(1000 / helloCpu)],
        [`ours: authenticated, ${TOOLS.length} tools`, fmt(oursCpu, 3), fmtInt(1000 / oursCpu)],
        ['ratio ours / hello', `${fmt(oursCpu / helloCpu, 2)}×`, ''],
      ])}\n\n` +
        `${table(['tools/list result (compact JSON)', 'bytes', '≈ tokens'], [[`ours: ${TOOLS.length} tools`, fmtInt(bytes), fmtInt(tokens)]])}\n`,
    );
    printSummaryLine(
      `Warm tools/list: ${fmt(oursCpu, 2)} ms CPU per call (${fmtInt(1000 / oursCpu)}/s on one core) vs hello ${fmt(helloCpu, 2)} ms (${fmt(oursCpu / helloCpu, 2)}×); ` +
        `${fmtInt(bytes)} bytes, ≈ ${fmtInt(tokens)} tokens.`,
    );
    return {
      name: 'warm tools/list',
      figures: [
        { label: 'CPU per call: hello / ours', value: `${fmt(helloCpu, 2)} / ${fmt(oursCpu, 2)} ms` },
        { label: 'calls per second on one core (ours)', value: fmtInt(1000 / oursCpu) },
        {
          label: 'tools/list size (compact JSON, ≈ tokens at 4 bytes each)',
          value: `${fmtInt(bytes)} bytes, ≈ ${fmtInt(tokens)} tokens`,
          goal: `≤ ${fmtInt(SIZE_GOAL_BYTES)} bytes`,
          met: bytes <= SIZE_GOAL_BYTES,
        },
      ],
    };
  } finally {
    await app.close();
    await hello.close();
    await accounts.close();
  }
}

if (isEntry(import.meta.url)) await runStandalone(run);
