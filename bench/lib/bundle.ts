/**
 * Builds a Lambda bundle the way infra/constructs/mcp-function.ts has NodejsFunction build it (aws-cdk-lib's
 * local esbuild bundling): `esbuild --bundle <entry> --target=node22 --platform=node --format=esm
 * --outfile=<out>/index.mjs --minify --sourcemap --sources-content=false --tsconfig=tsconfig.json
 * --banner:js=<createRequire banner> --main-fields=module,main`, with no externals (bundleAwsSDK: true).
 *
 * The options come from infra/constructs/mcp-function-bundling.ts, the module the construct itself takes them from,
 * so the benchmark cannot measure a different build. The target drops to the local Node major when that is older
 * than the construct's (node22 → node20 on a Node 20 machine).
 */
import { readFileSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';
import { esbuildOptionsFor, localTarget, MCP_FUNCTION_BUNDLING } from '../../infra/constructs/mcp-function-bundling.js';
import { PROJECT_ROOT } from './fixture.js';

export interface BundleOptions {
  target: string;
  constructTarget: string;
  banner: string;
}

export function bundleOptionsFromConstruct(): BundleOptions {
  return { target: localTarget(), constructTarget: MCP_FUNCTION_BUNDLING.target, banner: MCP_FUNCTION_BUNDLING.banner };
}

export interface BuiltBundle {
  file: string;
  bytes: number;
  gzipBytes: number;
  mapBytes: number;
  metafile: Metafile;
}

/** `aliases`: the construct's LAMBDA_ALIASES unless given (the SDK baseline is built with none, as anyone would). */
export async function buildLambdaBundle(entry: string, outDir: string, options: BundleOptions, aliases?: Readonly<Record<string, string>>): Promise<BuiltBundle> {
  const esbuildOptions = esbuildOptionsFor(entry, outDir, PROJECT_ROOT, { target: options.target, ...(aliases ? { aliases } : {}) });
  const file = esbuildOptions.outfile;
  const result = await build({ ...esbuildOptions, banner: { js: options.banner }, metafile: true });
  const code = readFileSync(file);
  return { file, bytes: code.byteLength, gzipBytes: gzipSync(code, { level: 9 }).byteLength, mapBytes: statSync(`${file}.map`).size, metafile: result.metafile };
}

/** Output bytes per package (node_modules/<pkg> or "project"), largest first. */
export function bytesByPackage(metafile: Metafile): [string, number][] {
  const totals = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
      const name = m ? m[1]! : 'project (lambda/)';
      totals.set(name, (totals.get(name) ?? 0) + bytesInOutput);
    }
  }
  return [...totals.entries()].sort((a, b) => b[1] - a[1]);
}
