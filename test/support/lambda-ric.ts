/**
 * The function as Lambda runs it: the bundle built with the construct's own esbuild options, loaded by AWS's
 * runtime interface client for Node.js (aws-lambda-ric) in a child process that polls a Runtime API.
 *
 * The process starts the way a Lambda container does (`aws-lambda-ric <_HANDLER>` in LAMBDA_TASK_ROOT) with the
 * reserved variables the service sets. The ric's native addon is not built here (its preinstall needs autotools);
 * AWS_LAMBDA_NODEJS_USE_ALTERNATIVE_CLIENT_1=true selects its JavaScript Runtime API client and
 * ric-native-stand-in.cjs covers the two calls that still go through the addon (see there).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { build } from 'esbuild';
import { BUNDLE_FILE, esbuildOptionsFor, localTarget } from '../../infra/constructs/mcp-function-bundling.js';

const PROJECT_ROOT = resolve(__dirname, '../..');
/** What NodejsFunction's `handler: 'handler'` becomes for an ESM bundle. */
export const HANDLER = `${BUNDLE_FILE.replace(/\.mjs$/, '')}.handler`;

/** Builds lambda/aws/index.ts into `outDir` exactly as the construct has it built; returns the file. */
export async function buildFunctionBundle(outDir: string): Promise<string> {
  const options = esbuildOptionsFor(join(PROJECT_ROOT, 'lambda/aws/index.ts'), outDir, PROJECT_ROOT, { target: localTarget() });
  await build(options);
  return options.outfile;
}

export interface RicInstance {
  readonly process: ChildProcess;
  /** Everything the function wrote to stdout and stderr so far (its log). */
  output(): string;
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** Starts one Lambda instance (one process, one invocation at a time, reused while it lives). */
export function startRicInstance(options: { taskRoot: string; runtimeApi: string; env: Record<string, string>; handler?: string }): RicInstance {
  const handler = options.handler ?? HANDLER;
  const ric = join(dirname(require.resolve('aws-lambda-ric/package.json')), 'bin/index.mjs');
  const child = spawn(process.execPath, ['--require', join(__dirname, 'ric-native-stand-in.cjs'), ric, handler], {
    cwd: options.taskRoot,
    // Only what Lambda itself sets, plus the function's environment: nothing leaks in from the test process.
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      TZ: ':UTC',
      LANG: 'en_US.UTF-8',
      _HANDLER: handler,
      LAMBDA_TASK_ROOT: options.taskRoot,
      AWS_LAMBDA_RUNTIME_API: options.runtimeApi,
      AWS_LAMBDA_NODEJS_USE_ALTERNATIVE_CLIENT_1: 'true',
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
      AWS_LAMBDA_FUNCTION_NAME: 'OpenRouterMcp-Function',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
      AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/OpenRouterMcp-Function',
      AWS_LAMBDA_LOG_STREAM_NAME: '2026/01/01/[$LATEST]0123456789abcdef',
      AWS_REGION: 'eu-west-1',
      AWS_DEFAULT_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'ASIARUNTIMETEST',
      AWS_SECRET_ACCESS_KEY: 'runtime-test-secret-access-key',
      AWS_SESSION_TOKEN: 'runtime-test-session-token',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  return {
    process: child,
    output: () => output,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
