/**
 * Builds a Lambda bundle the way infra/constructs/mcp-function.ts has NodejsFunction build it (aws-cdk-lib's
 * local esbuild bundling): `esbuild --bundle <entry> --target=node22 --platform=node --format=esm
 * --outfile=<out>/index.mjs --minify --sourcemap --sources-content=false --tsconfig=tsconfig.json
 * --banner:js=<createRequire banner> --main-fields=module,main`, with no externals (bundleAwsSDK: true).
 *
 * The banner and target are read from the construct's source, and the other options are checked against it, so
 * a change there shows up here instead of the benchmark silently measuring a different build. The target
 * drops to the local Node major when that is older than the construct's (node22 → node20 on a Node 20 machine).
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';
import { PROJECT_ROOT } from './fixture.js';

const CONSTRUCT = join(PROJECT_ROOT, 'infra/constructs/mcp-function.ts');

export interface BundleOptions {
  target: string;
  constructTarget: string;
  banner: string;
}

export function bundleOptionsFromConstruct(): BundleOptions {
  const source = readFileSync(CONSTRUCT, 'utf8');
  const banner = /ESM_REQUIRE_BANNER\s*=\s*"([^"]+)"/.exec(source)?.[1];
  const constructTarget = /target:\s*'(node\d+)'/.exec(source)?.[1];
  if (!banner || !constructTarget) throw new Error(`could not read the banner and target from ${CONSTRUCT}; update bench/lib/bundle.ts`);
  const expected = [
    'format: nodejs.OutputFormat.ESM',
    'minify: true',
    'sourceMap: true',
    'sourcesContent: false',
    "mainFields: ['module', 'main']",
    'banner: ESM_REQUIRE_BANNER',
    'bundleAwsSDK: true',
  ];
  const missing = expected.filter((e) => !source.includes(e));
  if (missing.length) throw new Error(`the construct's bundling options changed (${missing.join(', ')} not found); update bench/lib/bundle.ts`);
  const localMajor = Number(process.versions.node.split('.')[0]);
  const wanted = Number(constructTarget.slice(4));
  return { target: `node${Math.min(localMajor, wanted)}`, constructTarget, banner };
}

export interface BuiltBundle {
  file: string;
  bytes: number;
  gzipBytes: number;
  mapBytes: number;
  metafile: Metafile;
}

export async function buildLambdaBundle(entry: string, outDir: string, options: BundleOptions): Promise<BuiltBundle> {
  const file = join(outDir, 'index.mjs');
  const result = await build({
    absWorkingDir: PROJECT_ROOT,
    entryPoints: [entry],
    bundle: true,
    target: options.target,
    platform: 'node',
    format: 'esm',
    outfile: file,
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    tsconfig: join(PROJECT_ROOT, 'tsconfig.json'),
    banner: { js: options.banner },
    mainFields: ['module', 'main'],
    metafile: true,
    logLevel: 'warning',
  });
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
