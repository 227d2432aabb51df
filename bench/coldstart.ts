/**
 * Benchmark 1 — Lambda bundle size and cold start.
 *
 * Builds the production bundle (lambda/aws/index.ts) exactly as the CDK construct does (bench/lib/bundle.ts) and
 * a minimal MCP SDK v2 "hello" Lambda (bench/fixtures/hello-lambda.ts) the same way, into a temp dir. Then starts
 * fresh Node processes (bench/fixtures/cold-child.mjs) that each fake the Lambda runtime's `awslambda` global,
 * import one bundle and answer ONE authenticated tools/list (2025-era, API Gateway REST event) through its
 * exported handler — ours with DynamoDB on a dynalite started here (table, user and token created here with the
 * real AccountStore) and Secrets Manager answered by a loopback stub holding the keyring. Each process is timed
 * from spawn to exit (it exits as soon as the answer is written). Baselines, interleaved: bare `node -e ''` and
 * the hello Lambda. Context row "hello + AWS": hello plus only the Secrets Manager read and one DynamoDB GetItem
 * (bench/fixtures/hello-aws-lambda.ts, with the Lambda's own SDK-free clients) — the part of our cold start that
 * is the AWS calls', not our code's.
 * The hello baselines are the SDK as anyone bundles it: without the construct's aliases (LAMBDA_ALIASES), one of
 * which swaps the SDK's Ajv validator out of ours (lambda/mcp/sdk-shims.ts). Context row "hello, Ajv swapped": hello
 * built with them too, so the ratio with the same swap on both sides is printed beside the goal's.
 * The Lambda's NODE_OPTIONS (none) applies to every process.
 *
 *   tsx bench/coldstart.ts           (BENCH_COLD_N=15 by default)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT, startAccounts } from './lib/fixture.js';
import { type BuiltBundle, type BundleOptions, bundleOptionsFromConstruct, buildLambdaBundle, bytesByPackage } from './lib/bundle.js';
import { restEvent } from './lib/lambda-event.js';
import { type BenchResult, fmt, fmtInt, isEntry, median, min, max, printHeader, printSummaryLine, rotation, runStandalone, table } from './lib/stats.js';

const N = Number(process.env.BENCH_COLD_N ?? 15);
const WARMUP = 2;
const SIZE_GOAL_BYTES = 700 * 1000;
const RATIO_GOAL = 1.35;
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:OpenRouterMcpSecret-AbCdEf';
export const CHILD = join(PROJECT_ROOT, 'bench/fixtures/cold-child.mjs');

export interface ChildTimes {
  wall: number;
  started?: number;
  imported?: number;
  answered?: number;
}

export function runChild(args: string[], env: Record<string, string>): Promise<ChildTimes> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let wall = Number.NaN;
    child.on('exit', () => (wall = performance.now() - t0));
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`cold-start child exited with ${code}: ${stderr.slice(0, 2000)}`));
      const line = stdout.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
      if (!line) return resolve({ wall });
      const r = JSON.parse(line.slice('BENCH_RESULT '.length)) as { ok: boolean; started: number; imported: number; answered: number; status?: number; body?: string };
      if (!r.ok) return reject(new Error(`cold-start child got a wrong answer (HTTP ${r.status}): ${r.body ?? ''}\n${stdout.slice(0, 2000)}${stderr.slice(0, 1000)}`));
      resolve({ wall, started: r.started, imported: r.imported, answered: r.answered });
    });
  });
}

export interface ColdStartSetup {
  options: BundleOptions;
  ours: BuiltBundle;
  hello: BuiltBundle;
  helloAws: BuiltBundle;
  helloSwapped: BuiltBundle;
  /** Environment of a bare process (what every child gets). */
  baseEnv: Record<string, string>;
  /** Environment of a Lambda child: AWS endpoints on loopback, fake credentials, the app's variables, the event. */
  lambdaEnv: Record<string, string>;
  close(): Promise<void>;
}

/** Builds both bundles and starts dynalite (with a user and token) and the Secrets Manager stub. */
export async function prepareColdStart(): Promise<ColdStartSetup> {
  const options = bundleOptionsFromConstruct();
  const dir = mkdtempSync(join(tmpdir(), 'ormcp-bench-cold-'));
  const accounts = await startAccounts();
  const secrets = createServer((req, res) => {
    req.resume().on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      if (target !== 'secretsmanager.GetSecretValue') {
        res.writeHead(400, { 'Content-Type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify({ __type: 'InvalidRequestException', message: `unexpected ${target}` }));
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify({ ARN: SECRET_ARN, Name: 'OpenRouterMcpSecret', SecretString: accounts.secretString, VersionId: 'v1-bench', VersionStages: ['AWSCURRENT'], CreatedDate: 1_750_000_000 }));
    });
  });
  await new Promise<void>((resolve) => secrets.listen(0, '127.0.0.1', resolve));
  const secretsUrl = `http://127.0.0.1:${(secrets.address() as AddressInfo).port}`;
  const close = async () => {
    await new Promise<void>((resolve) => secrets.close(() => resolve()));
    await accounts.close();
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const ours = await buildLambdaBundle(join(PROJECT_ROOT, 'lambda/aws/index.ts'), join(dir, 'ours'), options);
    const hello = await buildLambdaBundle(join(PROJECT_ROOT, 'bench/fixtures/hello-lambda.ts'), join(dir, 'hello'), options, {});
    const helloAws = await buildLambdaBundle(join(PROJECT_ROOT, 'bench/fixtures/hello-aws-lambda.ts'), join(dir, 'hello-aws'), options, {});
    const helloSwapped = await buildLambdaBundle(join(PROJECT_ROOT, 'bench/fixtures/hello-lambda.ts'), join(dir, 'hello-swapped'), options);
    const event = JSON.stringify(
      restEvent(
        { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'MCP-Protocol-Version': '2025-11-25', Authorization: `Bearer ${accounts.token}` },
        { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} },
      ),
    );
    const baseEnv = {
      PATH: process.env.PATH ?? '',
      LANG: 'C.UTF-8',
      TZ: 'UTC',
      // As the Lambda runs it: no --enable-source-maps (it costs ~100 ms of cold start; rows below show it).
      NODE_OPTIONS: '',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };
    const lambdaEnv = {
      ...baseEnv,
      AWS_REGION: 'eu-west-1',
      AWS_DEFAULT_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'AKIDBENCHMARK',
      AWS_SECRET_ACCESS_KEY: 'bench-secret',
      AWS_SESSION_TOKEN: 'bench-session',
      AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
      AWS_ENDPOINT_URL_DYNAMODB: accounts.dynamo.endpoint,
      // The SDK derives the variable from the service id "Secrets Manager" (space → underscore): not …_SECRETSMANAGER.
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsUrl,
      AWS_LAMBDA_FUNCTION_NAME: 'OpenRouterMcp-Function',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024',
      ORMCP_TABLE_NAME: accounts.dynamo.tableName,
      ORMCP_SECRET_ARN: SECRET_ARN,
      ORMCP_LOG_LEVEL: 'info',
      BENCH_EVENT: event,
    };
    return { options, ours, hello, helloAws, helloSwapped, baseEnv, lambdaEnv, close };
  } catch (err) {
    await close();
    throw err;
  }
}

export async function run(): Promise<BenchResult> {
  const setup = await prepareColdStart();
  const { options, ours, hello, helloAws, helloSwapped, baseEnv, lambdaEnv } = setup;
  printHeader(
    'Benchmark 1: Lambda bundle size and cold start',
    `esbuild as the CDK construct (ESM, ${options.target}${options.target !== options.constructTarget ? ` — construct says ${options.constructTarget}, local Node is ${process.versions.node}` : ''}, ` +
      `minify, source map, createRequire banner, tool schemas precomputed; ours with lib-dynamodb aliased to plain commands and the SDK's Ajv swapped for its smaller validator, hello as the SDK bundles by default); ${N} cold starts per variant (+${WARMUP} warm-up), interleaved; no NODE_OPTIONS, as the Lambda runs`,
  );
  try {
    const variants: [string, () => Promise<ChildTimes>][] = [
      ['bare', () => runChild(['-e', ''], baseEnv)],
      ['hello', () => runChild([CHILD], { ...lambdaEnv, BENCH_BUNDLE: hello.file, BENCH_EXPECT_TOOL: 'hello' })],
      ['hello-aws', () => runChild([CHILD], { ...lambdaEnv, BENCH_BUNDLE: helloAws.file, BENCH_EXPECT_TOOL: 'hello' })],
      ['hello-swapped', () => runChild([CHILD], { ...lambdaEnv, BENCH_BUNDLE: helloSwapped.file, BENCH_EXPECT_TOOL: 'hello' })],
      ['ours', () => runChild([CHILD], { ...lambdaEnv, BENCH_BUNDLE: ours.file, BENCH_EXPECT_TOOL: 'send_chat_completion_request' })],
      ['hello-maps', () => runChild([CHILD], { ...lambdaEnv, NODE_OPTIONS: '--enable-source-maps', BENCH_BUNDLE: hello.file, BENCH_EXPECT_TOOL: 'hello' })],
      ['ours-maps', () => runChild([CHILD], { ...lambdaEnv, NODE_OPTIONS: '--enable-source-maps', BENCH_BUNDLE: ours.file, BENCH_EXPECT_TOOL: 'send_chat_completion_request' })],
    ];
    for (let i = 0; i < WARMUP; i++) for (const [, v] of variants) await v();
    const times: Record<string, ChildTimes[]> = Object.fromEntries(variants.map(([name]) => [name, []]));
    for (let i = 0; i < N; i++) for (const [name, v] of rotation(variants, i)) times[name]!.push(await v());

    const wall = (name: string) => times[name]!.map((t) => t.wall);
    const part = (name: string, f: (t: ChildTimes) => number | undefined) => {
      const xs = times[name]!.map(f).filter((x): x is number => x !== undefined);
      return xs.length ? fmt(median(xs), 1) : '—';
    };
    const bare = median(wall('bare'));
    const helloMed = median(wall('hello'));
    const oursMed = median(wall('ours'));
    const ratio = (oursMed - bare) / (helloMed - bare);
    // How much of the ratio the AWS calls alone take (secret read + one GetItem, the Lambda's own clients).
    const awsRatio = (median(wall('hello-aws')) - bare) / (helloMed - bare);
    // The same ratio with both bundles run with --enable-source-maps (context: what the flag would cost each).
    const mapsRatio = (median(wall('ours-maps')) - bare) / (median(wall('hello-maps')) - bare);
    // Context: against a hello that gets the same Ajv swap as ours.
    const swappedRatio = (oursMed - bare) / (median(wall('hello-swapped')) - bare);

    const sizeRow = (label: string, b: typeof ours) => [label, fmtInt(b.bytes), fmtInt(b.gzipBytes), fmtInt(b.mapBytes)];
    process.stdout.write(
      `${table(['bundle (bytes)', 'index.mjs', 'gzip -9', 'source map'], [
        sizeRow('ours (lambda/aws/index.ts)', ours),
        sizeRow('hello (MCP SDK v2, one tool)', hello),
        sizeRow('hello, Ajv swapped as in ours', helloSwapped),
        ['ratio ours / hello', `${fmt(ours.bytes / hello.bytes, 2)}×`, `${fmt(ours.gzipBytes / hello.gzipBytes, 2)}×`, ''],
      ])}\n\n`,
    );
    const top = bytesByPackage(ours.metafile).slice(0, 8);
    process.stdout.write(`${table(['largest inputs of ours (bytes in index.mjs)', 'bytes', 'share'], top.map(([name, bytes]) => [name, fmtInt(bytes), `${fmt((100 * bytes) / ours.bytes, 1)} %`]))}\n\n`);

    const row = (label: string, name: string) => {
      const w = wall(name);
      return [
        label,
        fmt(median(w), 1),
        fmt(min(w), 1),
        fmt(max(w), 1),
        fmt(median(w) - bare, 1),
        part(name, (t) => t.started),
        part(name, (t) => (t.imported !== undefined && t.started !== undefined ? t.imported - t.started : undefined)),
        part(name, (t) => (t.answered !== undefined && t.imported !== undefined ? t.answered - t.imported : undefined)),
      ];
    };
    process.stdout.write(
      `${table(['cold start (ms, spawn → exit)', 'median', 'min', 'max', '− bare', 'boot', 'import', '1st request'], [
        row("bare node -e ''", 'bare'),
        row('hello: MCP SDK v2 tools/list', 'hello'),
        row('hello + AWS: + secret read + GetItem', 'hello-aws'),
        row('hello, Ajv swapped as in ours', 'hello-swapped'),
        row('ours: authenticated tools/list', 'ours'),
        row('hello, with --enable-source-maps', 'hello-maps'),
        row('ours, with --enable-source-maps', 'ours-maps'),
      ])}\n`,
    );
    process.stdout.write(
      `(boot = process start → child script start; import = bundle import; 1st request = handler call incl. Secrets Manager + DynamoDB on loopback; in-child medians)\n`,
    );
    process.stdout.write(
      `ratio (ours − bare) / (hello − bare) = ${fmt(ratio, 2)}× (goal ≤ ${RATIO_GOAL}×), of which the AWS calls alone (hello + AWS) ${fmt(awsRatio, 2)}×; ` +
        `against a hello with the same Ajv swap: ${fmt(swappedRatio, 2)}×; ` +
        `both with --enable-source-maps: ${fmt(mapsRatio, 2)}×; ` +
        `the flag would cost ours ${fmt(median(wall('ours-maps')) - oursMed, 0)} ms\n`,
    );

    const sizeMet = ours.bytes <= SIZE_GOAL_BYTES;
    printSummaryLine(
      `Cold start: bundle ${fmtInt(ours.bytes)} B raw / ${fmtInt(ours.gzipBytes)} B gzipped (goal ≤ 700 KB raw: ${sizeMet ? 'met' : 'MISSED'}); ` +
        `median ${fmt(oursMed, 0)} ms vs hello ${fmt(helloMed, 0)} ms vs bare ${fmt(bare, 0)} ms → ratio ${fmt(ratio, 2)}× (goal ≤ ${RATIO_GOAL}×: ${ratio <= RATIO_GOAL ? 'met' : 'MISSED'}).`,
    );
    return {
      name: 'cold start',
      figures: [
        { label: 'bundle size, raw', value: `${fmtInt(ours.bytes)} B`, goal: '≤ 700 KB (700,000 B)', met: sizeMet },
        { label: 'bundle size, gzip -9', value: `${fmtInt(ours.gzipBytes)} B` },
        { label: 'median cold start: bare / hello / ours', value: `${fmt(bare, 0)} / ${fmt(helloMed, 0)} / ${fmt(oursMed, 0)} ms` },
        { label: '(ours − bare) / (hello − bare)', value: `${fmt(ratio, 2)}×`, goal: `≤ ${RATIO_GOAL}×`, met: ratio <= RATIO_GOAL },
        { label: 'same ratio for hello + the AWS calls only', value: `${fmt(awsRatio, 2)}×` },
        { label: 'same ratio against a hello with the same Ajv swap', value: `${fmt(swappedRatio, 2)}×` },
        { label: 'same ratio, both with --enable-source-maps', value: `${fmt(mapsRatio, 2)}×` },
      ],
    };
  } finally {
    await setup.close();
  }
}

if (isEntry(import.meta.url)) await runStandalone(run);
