/**
 * Benchmark 2 — added latency of the MCP layer. `send_chat_completion_request` (2025-era stateless tools/call,
 * no progress) through the real handler, (a) in-process (`app.fetch`) and (b) over loopback HTTP (the local
 * node adapter's `listen`), against the same upstream call made directly with `fetch`. The upstream is the
 * fixed-answer one in bench/lib/upstream.ts, in its own process, so this process's CPU time is the MCP
 * layer's (plus the client side of each call). Calls are interleaved (the order rotates every iteration) and
 * each handler call is paired with the direct call of the same iteration: figures are medians and p99s of
 * (handler − direct).
 *
 * Authentication is the Lambda's (CachedAuthenticator over the AccountStore on dynalite, 60 s): a warm instance
 * answers repeat calls from its cache. The row "in-process, auth uncached" checks every token in the table (one
 * dynalite BatchGet of token + user per call; `npm start` caches for 5 s, see bench/npm-start-latency.ts) and is
 * context only.
 *
 * Per-user limits: a fourth path runs the same call through an app built as the Lambda builds it with limits on
 * (DynamoLimiter on the same dynalite, EMF metrics formatted and dropped). A generation costs one conditional
 * write before it runs (rate count and lease on one item) and its release after the result (not awaited by the
 * call); "limits cost" is that path minus the plain in-process one, paired per iteration. dynalite runs in this
 * process, so its CPU competes with the handler's (the release's included): real DynamoDB answers a write in a
 * few ms over the network, without this process's CPU. The limiter alone is timed too.
 *
 * Team control: a fifth path adds, on top of the limits, the operator policy (a deny glob, the data-policy floor),
 * a daily cap that never binds (so the usage read, the clamp from the catalog price, the reservation and the ledger
 * record all run) and the user's defaults: one BatchGet beside the limiter's first write and the reservation before
 * the call, and the ledger record (one put, four counter updates in parallel) after it — not awaited by the call, like
 * the limiter's release (the same user's next usage read waits for it if it is still in flight). "team control
 * cost" is that path minus the limits path, paired per iteration.
 *
 *   tsx bench/latency.ts            (BENCH_LATENCY_N=2000 by default)
 */
import { loadConfig } from '../lambda/app/config.js';
import { createApp, type App } from '../lambda/app/app.js';
import { CachedAuthenticator } from '../lambda/auth/cached-authenticator.js';
import type { Authenticator } from '../lambda/auth/authenticator.js';
import { DynamoLimiter } from '../lambda/limits/dynamo-limiter.js';
import type { Limiter, Permit } from '../lambda/limits/limiter.js';
import { listen } from '../lambda/local/node-adapter.js';
import { withHttpMetrics } from '../lambda/app/http-metrics.js';
import { createLogger } from '../lambda/observability/logger.js';
import { emfMetrics, type Metrics } from '../lambda/observability/metrics.js';
import { CatalogCache } from '../lambda/catalog/catalog.js';
import type { Model } from '../lambda/openrouter/schemas.js';
import { OPEN_POLICY } from '../lambda/policy/policy.js';
import { LedgerStore } from '../lambda/store/ledger-store.js';
import { TeamControl } from '../lambda/team/guard.js';
import { type Accounts, chatCall, checkAnswer, directChatCall, mcpHeaders, rpcMessages, startAccounts, startUpstreamChild } from './lib/fixture.js';
import { type BenchResult, fmt, fmtInt, isEntry, median, percentile, printHeader, printSummaryLine, rotation, runStandalone, table } from './lib/stats.js';
import { ANSWER, MODEL } from './lib/upstream.js';

const N = Number(process.env.BENCH_LATENCY_N ?? 2000);
const WARMUP = Number(process.env.BENCH_LATENCY_WARMUP ?? 300);
const CPU_BATCH = Number(process.env.BENCH_LATENCY_CPU_BATCH ?? 1000);
const UNCACHED_N = Number(process.env.BENCH_LATENCY_UNCACHED_N ?? 400);
const LIMITER_N = Number(process.env.BENCH_LATENCY_LIMITER_N ?? 1000);

type Call = () => Promise<void>;

function buildApp(upstreamBaseUrl: string, authenticator: Authenticator, observed?: { limiter: Limiter; metrics: Metrics; teamOn?: Accounts }): App {
  const config = loadConfig({ OPENROUTER_BASE_URL: upstreamBaseUrl });
  // Info level as deployed: each call formats its log line; the line is dropped instead of written to a pipe.
  const logger = createLogger({ level: config.logLevel, write: () => undefined });
  if (!observed) return createApp({ config, authenticator, logger });
  const { teamOn, ...deps } = observed;
  const team = teamOn ? benchTeam(teamOn, logger, deps.metrics) : undefined;
  // The bench upstream serves no /models: the catalog is the one model, as a warm instance has it cached.
  const catalog = new CatalogCache(86_400_000);
  void catalog.get(async () => [BENCH_MODEL]);
  return withHttpMetrics(createApp({ config, authenticator, logger, ...deps, ...(team ? { team, catalog } : {}) }), deps.metrics);
}

const BENCH_MODEL = {
  id: MODEL,
  name: 'Bench model',
  created: 1_750_000_000,
  context_length: 128_000,
  architecture: { modality: 'text->text', input_modalities: ['text'], output_modalities: ['text'], tokenizer: 'Other', instruct_type: null },
  pricing: { prompt: '0.00000015', completion: '0.0000006', request: '0', image: '0' },
  top_provider: { context_length: 128_000, max_completion_tokens: 16_384, is_moderated: false },
  supported_parameters: ['max_tokens'],
} as unknown as Model;

/** Policy with rules that run on every call, and a daily cap far above what the run spends. */
function benchTeam(accounts: Accounts, logger: ReturnType<typeof createLogger>, metrics: Metrics): TeamControl {
  const ledger = new LedgerStore({ client: accounts.client, tableName: accounts.dynamo.tableName, logger });
  const policy = { ...OPEN_POLICY, deniedModels: ['openai/o1*'], dataCollection: 'deny' as const };
  return TeamControl.fromConfig({ policy, budgetDefaults: { daily: 1_000_000 } }, ledger, logger, metrics);
}

/** Limits that never refuse here (the point is their cost), as the Lambda builds them: shared through the table. */
function benchLimiter(accounts: Accounts): DynamoLimiter {
  return new DynamoLimiter({ client: accounts.client, tableName: accounts.dynamo.tableName, ratePerMinute: 1_000_000_000, maxConcurrent: 1_000 });
}

async function timeIt(call: Call): Promise<number> {
  const t0 = performance.now();
  await call();
  return performance.now() - t0;
}

async function cpuPerCall(call: Call, n: number): Promise<{ cpuMs: number; wallMs: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await call();
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { cpuMs: (cpu.user + cpu.system) / 1000 / n, wallMs: wall / n };
}

export async function run(): Promise<BenchResult> {
  printHeader(
    'Benchmark 2: added latency (send_chat_completion_request, 2025-era, no progress)',
    `zero-latency fixed-answer upstream in its own process; ${fmtInt(WARMUP)} warm-up + ${fmtInt(N)} interleaved runs per path; ` +
      'added = handler − direct, paired per iteration',
  );
  const accounts = await startAccounts();
  const upstream = await startUpstreamChild();
  const app = buildApp(upstream.baseUrl, new CachedAuthenticator(accounts.store, 60_000));
  const uncachedApp = buildApp(upstream.baseUrl, accounts.store);
  const limiter = benchLimiter(accounts);
  // EMF lines are built and serialized as in the Lambda, then dropped instead of written to a pipe.
  const limitsApp = buildApp(upstream.baseUrl, new CachedAuthenticator(accounts.store, 60_000), { limiter, metrics: emfMetrics({ service: 'bench', write: () => undefined }) });
  const teamApp = buildApp(upstream.baseUrl, new CachedAuthenticator(accounts.store, 60_000), { limiter, metrics: emfMetrics({ service: 'bench', write: () => undefined }), teamOn: accounts });
  const server = await listen(app.fetch);
  const headers = mcpHeaders(accounts.token);
  let id = 0;

  try {
    const direct: Call = directChatCall(upstream.baseUrl, MODEL);
    const inProcessOn = (target: App, where: string): Call => async () => {
      const res = await target.fetch(new Request('http://127.0.0.1/mcp', { method: 'POST', headers, body: chatCall(++id, MODEL) }));
      checkAnswer(res.status, await res.text(), where);
    };
    const inProcess = inProcessOn(app, 'in-process');
    const overHttp: Call = async () => {
      const res = await fetch(`${server.url}/mcp`, { method: 'POST', headers, body: chatCall(++id, MODEL) });
      checkAnswer(res.status, await res.text(), 'loopback HTTP');
    };

    // One full check of the answer's shape before timing anything.
    const probe = await app.fetch(new Request('http://127.0.0.1/mcp', { method: 'POST', headers, body: chatCall(++id, MODEL) }));
    const messages = rpcMessages(probe.headers.get('content-type'), await probe.text());
    const result = messages.find((m) => m.id === id)?.result as { structuredContent?: { content?: string }; isError?: boolean } | undefined;
    if (result?.structuredContent?.content !== ANSWER || result.isError) throw new Error(`the probe call did not return the upstream's answer: ${JSON.stringify(messages).slice(0, 400)}`);

    const paths: [string, Call][] = [
      ['direct', direct],
      ['inproc', inProcess],
      ['http', overHttp],
      ['limits', inProcessOn(limitsApp, 'in-process with limits')],
      ['team', inProcessOn(teamApp, 'in-process with limits and team control')],
    ];
    for (let i = 0; i < WARMUP; i++) for (const [, call] of rotation(paths, i)) await call();

    const times: Record<string, number[]> = { direct: [], inproc: [], http: [], limits: [], team: [] };
    for (let i = 0; i < N; i++) {
      for (const [name, call] of rotation(paths, i)) times[name]!.push(await timeIt(call));
    }
    const d = times.direct!;
    const addedIn = times.inproc!.map((t, i) => t - d[i]!);
    const addedHttp = times.http!.map((t, i) => t - d[i]!);
    const addedLimits = times.limits!.map((t, i) => t - d[i]!);
    const limitsCost = times.limits!.map((t, i) => t - times.inproc![i]!);
    const addedTeam = times.team!.map((t, i) => t - d[i]!);
    const teamCost = times.team!.map((t, i) => t - times.limits![i]!);

    // The limiter alone: a lookup's check, a generation's (count + lease), and its release — one write each.
    const lookupCheck: number[] = [];
    const generationCheck: number[] = [];
    const releases: number[] = [];
    for (let i = 0; i < LIMITER_N; i++) {
      lookupCheck.push(await timeIt(async () => void (await limiter.acquire('bench-user', { hold: false }))));
      let permit: Permit | undefined;
      generationCheck.push(await timeIt(async () => void (permit = (await limiter.acquire('bench-user', { hold: true })) as Permit)));
      releases.push(await timeIt(() => permit!.release()));
    }

    // Context: the npm start setup, where every call authenticates against the store (no cache).
    const uncached = inProcessOn(uncachedApp, 'in-process uncached');
    for (let i = 0; i < 50; i++) await uncached();
    const uncachedPairs: number[] = [];
    for (let i = 0; i < UNCACHED_N; i++) {
      const pair = rotation<[string, Call]>([['direct', direct], ['uncached', uncached]], i);
      const t: Record<string, number> = {};
      for (const [name, call] of pair) t[name] = await timeIt(call);
      uncachedPairs.push(t.uncached! - t.direct!);
    }

    // CPU per call (this process only: the upstream runs elsewhere), sequential, after everything is warm.
    const cpuDirect = await cpuPerCall(direct, CPU_BATCH);
    const cpuIn = await cpuPerCall(inProcess, CPU_BATCH);
    const perCoreIn = 1000 / cpuIn.cpuMs;
    const perCoreDirect = 1000 / cpuDirect.cpuMs;

    const row = (label: string, xs: number[]) => [label, fmt(median(xs), 3), fmt(percentile(xs, 90), 3), fmt(percentile(xs, 99), 3), fmt(Math.max(...xs), 3)];
    process.stdout.write(
      `${table(['path (ms per call)', 'median', 'p90', 'p99', 'max'], [
        row('direct fetch to upstream (baseline)', d),
        row('handler in-process', times.inproc!),
        row('handler over loopback HTTP', times.http!),
        row('added: in-process − direct', addedIn),
        row('added: loopback HTTP − direct', addedHttp),
        row(`added: in-process, auth uncached − direct (n=${UNCACHED_N})`, uncachedPairs),
        row('handler in-process, per-user limits on', times.limits!),
        row('added: in-process with limits − direct', addedLimits),
        row('limits cost: with limits − without (paired)', limitsCost),
        row('handler in-process, limits + team control on', times.team!),
        row('added: in-process with limits + team control − direct', addedTeam),
        row('team control cost: with team control − limits only (paired)', teamCost),
      ])}\n\n`,
    );
    process.stdout.write(
      `${table([`per-user limiter alone (DynamoDB API on dynalite in this process, n=${fmtInt(LIMITER_N)}), ms`, 'median', 'p90', 'p99', 'max'], [
        row('lookup: rate count (1 conditional write)', lookupCheck),
        row('generation, before the call: rate count + lease (1 conditional write)', generationCheck),
        row('generation, after the result: release (1 write, not awaited by the call)', releases),
      ])}\n\n`,
    );
    process.stdout.write(
      `${table(['CPU per call, sequential', 'CPU ms/call', 'wall ms/call', 'calls/s per core'], [
        ['direct fetch (baseline)', fmt(cpuDirect.cpuMs, 3), fmt(cpuDirect.wallMs, 3), fmtInt(perCoreDirect)],
        ['handler in-process', fmt(cpuIn.cpuMs, 3), fmt(cpuIn.wallMs, 3), fmtInt(perCoreIn)],
        ['ratio handler / direct', fmt(cpuIn.cpuMs / cpuDirect.cpuMs, 2) + '×', fmt(cpuIn.wallMs / cpuDirect.wallMs, 2) + '×', ''],
      ])}\n`,
    );

    const medIn = median(addedIn);
    const p99In = percentile(addedIn, 99);
    const medHttp = median(addedHttp);
    const p99Http = percentile(addedHttp, 99);
    const medLimits = median(addedLimits);
    const medLimitsCost = median(limitsCost);
    printSummaryLine(
      `Latency: added median ${fmt(medIn, 2)} ms in-process / ${fmt(medHttp, 2)} ms over HTTP (goal ≤ 2 ms), ` +
        `p99 ${fmt(p99In, 2)} / ${fmt(p99Http, 2)} ms (goal ≤ 10 ms); ${fmtInt(perCoreIn)} calls/s per core in-process ` +
        `(${fmt(cpuIn.cpuMs / cpuDirect.cpuMs, 1)}× the CPU of a direct call); per-user limits on: added median ` +
        `${fmt(medLimits, 2)} ms (goal ≤ 2 ms; the limiter's write: +${fmt(medLimitsCost, 2)} ms on dynalite in-process).`,
    );
    return {
      name: 'latency',
      figures: [
        { label: 'added median, in-process', value: `${fmt(medIn, 2)} ms`, goal: '≤ 2 ms', met: medIn <= 2 },
        { label: 'added p99, in-process', value: `${fmt(p99In, 2)} ms`, goal: '≤ 10 ms', met: p99In <= 10 },
        { label: 'added median, loopback HTTP', value: `${fmt(medHttp, 2)} ms`, goal: '≤ 2 ms', met: medHttp <= 2 },
        { label: 'added p99, loopback HTTP', value: `${fmt(p99Http, 2)} ms`, goal: '≤ 10 ms', met: p99Http <= 10 },
        { label: 'in-process calls/s per core (CPU time)', value: `${fmtInt(perCoreIn)} (direct: ${fmtInt(perCoreDirect)})` },
        { label: 'added median, in-process, auth uncached', value: `${fmt(median(uncachedPairs), 2)} ms` },
        { label: 'added median, in-process, per-user limits on', value: `${fmt(medLimits, 2)} ms (p99 ${fmt(percentile(addedLimits, 99), 2)} ms)`, goal: '≤ 2 ms', met: medLimits <= 2 },
        { label: 'limits cost, in-process (paired)', value: `${fmt(medLimitsCost, 2)} ms` },
        { label: 'added median, in-process, limits + team control on', value: `${fmt(median(addedTeam), 2)} ms (p99 ${fmt(percentile(addedTeam, 99), 2)} ms)` },
        { label: 'team control cost (policy, budget, ledger; dynalite)', value: `${fmt(median(teamCost), 2)} ms median, ${fmt(percentile(teamCost, 99), 2)} ms p99` },
        { label: 'limiter before a generation (1 write, dynalite)', value: `${fmt(median(generationCheck), 2)} ms median, ${fmt(percentile(generationCheck, 99), 2)} ms p99` },
      ],
    };
  } finally {
    await server.close();
    await app.close();
    await uncachedApp.close();
    await limitsApp.close();
    await teamApp.close();
    await upstream.close();
    await accounts.close();
  }
}

if (isEntry(import.meta.url)) await runStandalone(run);
