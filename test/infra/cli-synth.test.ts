/**
 * The real CLI path: `cdk synth` (aws-cdk 2.x from devDependencies) runs `npx tsx infra/app.ts` from cdk.json,
 * bundles the Lambda with the local esbuild and runs cdk-nag, offline, into a temporary output directory.
 * Uses the real entry (lambda/aws/index.ts) when it exists, else the fixture.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { DEFAULT_LAMBDA_ENTRY } from '../../infra/stack.js';
import { FIXTURE_ENTRY, PROJECT_ROOT } from './support/synth.js';

const run = promisify(execFile);
const realEntry = fs.existsSync(path.join(PROJECT_ROOT, DEFAULT_LAMBDA_ENTRY));

const env = {
  ...process.env,
  CDK_DISABLE_VERSION_CHECK: '1',
  CDK_DISABLE_CLI_TELEMETRY: 'true',
  CDK_DEFAULT_ACCOUNT: '123456789012',
  CDK_DEFAULT_REGION: 'us-east-1',
  AWS_EC2_METADATA_DISABLED: 'true',
};

describe(`cdk synth (CLI, ${realEntry ? 'real Lambda entry' : 'fixture entry'})`, () => {
  let outDir: string;
  let stdout = '';
  let stderr = '';
  let failure: unknown;

  beforeAll(async () => {
    outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ormcp-synth-'));
    const args = [path.join(PROJECT_ROOT, 'node_modules/aws-cdk/bin/cdk'), 'synth', '--quiet', '--no-notices', '-o', outDir];
    if (!realEntry) args.push('-c', `lambdaEntry=${FIXTURE_ENTRY}`);
    try {
      ({ stdout, stderr } = await run(process.execPath, args, { cwd: PROJECT_ROOT, env, timeout: 170_000, maxBuffer: 16 << 20 }));
    } catch (err) {
      failure = err;
    }
  }, 180_000);

  afterAll(() => {
    if (outDir) fs.rmSync(outDir, { recursive: true, force: true });
  });

  test('succeeds', () => {
    if (failure) {
      const e = failure as { stdout?: string; stderr?: string; message?: string };
      throw new Error(`cdk synth failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
    }
    expect(stdout).toBe('');
    expect(stderr).not.toMatch(/AwsSolutions-/);
  });

  test('writes the template with streaming integrations for the configured account/region', () => {
    const template = fs.readFileSync(path.join(outDir, 'OpenRouterMcp.template.json'), 'utf8');
    const json = JSON.parse(template) as { Resources: Record<string, { Type: string; Properties: any }> };
    const methods = Object.values(json.Resources).filter((r) => r.Type === 'AWS::ApiGateway::Method');
    expect(methods).toHaveLength(2);
    for (const m of methods) expect(m.Properties.Integration.ResponseTransferMode).toBe('STREAM');
    expect(template).toContain('cdk-hnb659fds-assets-123456789012-us-east-1');
  });

  test('the validation report (cdk-nag plugin) holds no violation', () => {
    const report = JSON.parse(fs.readFileSync(path.join(outDir, 'validation-report.json'), 'utf8')) as {
      pluginReports: Array<{ violations?: unknown[] }>;
    };
    for (const r of report.pluginReports) expect(r.violations ?? []).toEqual([]);
  });

  test('bundles one ESM file with the require banner and a source map, without the AWS SDK or Ajv, tool schemas precomputed', async () => {
    const assets = fs.readdirSync(outDir).filter((d) => d.startsWith('asset.'));
    expect(assets).toHaveLength(1);
    const dir = path.join(outDir, assets[0]!);
    expect(fs.readdirSync(dir).sort()).toEqual(['index.mjs', 'index.mjs.map']);
    const code = fs.readFileSync(path.join(dir, 'index.mjs'), 'utf8');
    expect(code.startsWith("import { createRequire as __ormcpCreateRequire } from 'node:module';")).toBe(true);
    expect(code).not.toMatch(/from\s*["']@aws-sdk\//);
    if (!realEntry) return;
    // The construct's aliases and define reached esbuild through the CDK: lib-dynamodb (and with it the SDK, ~350 KB)
    // was replaced by the plain commands, the MCP SDK's Node shims by lambda/mcp/sdk-shims.ts (no Ajv, ~130 KB),
    // and the schemas constant by its value. The size bound is a guard against either coming back, not the size
    // goal: `npm run bench` reports that (≤ 700 KB).
    expect(Buffer.byteLength(code)).toBeLessThanOrEqual(750_000);
    expect(code).not.toContain('__ORMCP_TOOL_SCHEMAS__');
    expect(code).not.toContain('DynamoDBDocumentClient');
    expect(code).not.toContain('strictTypes');
    // The bundle must load as ESM under Node (the handler module only wires the awslambda global at load).
    const probe =
      'globalThis.awslambda = { streamifyResponse: (h) => h, HttpResponseStream: { from: (s) => s } };' +
      `const m = await import(${JSON.stringify(path.join(dir, 'index.mjs'))});` +
      "if (typeof m.handler !== 'function') throw new Error('no handler export');";
    await run(process.execPath, ['--enable-source-maps', '--input-type=module', '-e', probe], { env, timeout: 30_000 });
  });
});
