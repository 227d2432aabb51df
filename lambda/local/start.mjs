/**
 * `npm start`: compiles lambda/local/main.ts once with esbuild (dependencies stay in node_modules) and runs the
 * result on plain node. Running the TypeScript through a loader instead keeps the loader's transform caches in
 * the server's heap for its whole life (about 30 MB more RSS under load, measured by `npm run bench`).
 */
import { build, stop } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { checkNodeVersion } from './node-version.mjs';

checkNodeVersion();

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
// Under node_modules so the bundle's bare imports resolve to the project's packages.
const outfile = join(root, 'node_modules', '.cache', 'openrouter-mcp', 'local-server.mjs');

await build({
  absWorkingDir: root,
  entryPoints: ['lambda/local/main.ts'],
  bundle: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: `node${process.versions.node.split('.')[0]}`,
  outfile,
  logLevel: 'warning',
});
// esbuild's service process is no longer needed once the server is built.
await stop();
await import(pathToFileURL(outfile).href);
