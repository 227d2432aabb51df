/**
 * How the function's code is bundled, in one place: the construct hands these options to NodejsFunction (which runs
 * esbuild locally), and the runtime test and the benchmark build the same file through esbuild's API with
 * `esbuildOptionsFor`. No aws-cdk-lib import here, so a test can build the bundle without loading the CDK.
 */
import { join } from 'node:path';
import type { BuildOptions } from 'esbuild';
import { toolSchemasDefine } from '../../lambda/mcp/precomputed-schemas.js';

/** Defines `require` in the ESM bundle (aliased import so it cannot collide with bundled identifiers). */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __ormcpCreateRequire } from 'node:module'; const require = __ormcpCreateRequire(import.meta.url);";

/** The NodejsFunction `bundling` options that decide what the bundle is (the construct adds the machine-side ones). */
export const MCP_FUNCTION_BUNDLING = {
  format: 'esm',
  target: 'node22',
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  mainFields: ['module', 'main'],
  banner: ESM_REQUIRE_BANNER,
  bundleAwsSDK: true,
} as const;

/**
 * Packages the Lambda bundle resolves to a project file instead (paths from the project root). lib-dynamodb's
 * command classes become plain `{ input }` look-alikes for the Lambda's SDK-free DynamoDB client, which keeps the
 * AWS SDK (~360 KB, ~55 ms of cold start) out of the bundle: lambda/store/document-commands.ts. The MCP SDK's Node
 * shims become lambda/mcp/sdk-shims.ts, which keeps Ajv (~150 KB) out of it.
 */
export const LAMBDA_ALIASES: Readonly<Record<string, string>> = {
  '@aws-sdk/lib-dynamodb': 'lambda/store/document-commands.ts',
  '@modelcontextprotocol/server/_shims': 'lambda/mcp/sdk-shims.ts',
};

/** LAMBDA_ALIASES (or `aliases`) with absolute paths (esbuild resolves an alias from its working directory, which the CDK sets elsewhere). */
export function aliasesFor(projectRoot: string, aliases: Readonly<Record<string, string>> = LAMBDA_ALIASES): Record<string, string> {
  return Object.fromEntries(Object.entries(aliases).map(([from, to]) => [from, join(projectRoot, to)]));
}

/** NodejsFunction's `esbuildArgs` for the aliases (it passes `--alias` values on as `--alias:<from>=<to>`). */
export function aliasArgsFor(projectRoot: string): { '--alias': string[] } {
  return { '--alias': Object.entries(aliasesFor(projectRoot)).map(([from, to]) => `${from}=${to}`) };
}

/** The bundle's `define`: the tools' JSON Schemas, precomputed (lambda/mcp/precomputed-schemas.ts). */
export { toolSchemasDefine };

/** The file NodejsFunction writes for an ESM bundle, and the handler module the runtime loads from it. */
export const BUNDLE_FILE = 'index.mjs';

/**
 * The esbuild API options equivalent to the command line aws-cdk-lib's local bundling runs for MCP_FUNCTION_BUNDLING:
 * `esbuild --bundle <entry> --target=node22 --platform=node --format=esm --outfile=<out>/index.mjs --minify
 * --sourcemap --sources-content=false --tsconfig=<root>/tsconfig.json --banner:js=<banner> --main-fields=module,main`,
 * `--alias:<package>=<file>` for LAMBDA_ALIASES, `--define` of toolSchemasDefine(), no externals (bundleAwsSDK). `target` may be lowered to the Node running the build (node22 → node20 here).
 */
export function esbuildOptionsFor(
  entry: string,
  outDir: string,
  projectRoot: string,
  /** `aliases`: other than LAMBDA_ALIASES (the benchmark builds its SDK baseline with none). */
  options: { target?: string; aliases?: Readonly<Record<string, string>> } = {},
): BuildOptions & { outfile: string } {
  const b = MCP_FUNCTION_BUNDLING;
  return {
    absWorkingDir: projectRoot,
    entryPoints: [entry],
    bundle: true,
    target: options.target ?? b.target,
    platform: 'node',
    format: b.format,
    outfile: join(outDir, BUNDLE_FILE),
    minify: b.minify,
    sourcemap: b.sourceMap,
    sourcesContent: b.sourcesContent,
    tsconfig: join(projectRoot, 'tsconfig.json'),
    banner: { js: b.banner },
    mainFields: [...b.mainFields],
    alias: aliasesFor(projectRoot, options.aliases),
    define: toolSchemasDefine(),
    logLevel: 'warning',
  };
}

/** The construct's Node target, or the Node running this when that is older (a node22 bundle may use syntax Node 20 lacks). */
export function localTarget(): string {
  const localMajor = Number(process.versions.node.split('.')[0]);
  return `node${Math.min(localMajor, Number(MCP_FUNCTION_BUNDLING.target.slice(4)))}`;
}
