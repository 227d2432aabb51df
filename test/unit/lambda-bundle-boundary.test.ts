/**
 * The local server's parts (the embedded identity provider, dynalite, node:http adapter) never reach the Lambda:
 * esbuild resolves the Lambda entry's whole import graph, which must hold no file of lambda/local/ and no import of
 * oidc-provider (or koa, which it brings).
 */
import { build } from 'esbuild';
import { resolve } from 'node:path';

test('the Lambda entry imports nothing of the local server or its identity provider', async () => {
  const root = resolve(__dirname, '../..');
  const result = await build({
    absWorkingDir: root,
    entryPoints: ['lambda/aws/index.ts'],
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const inputs = Object.keys(result.metafile.inputs);
  expect(inputs).toContain('lambda/aws/index.ts');
  expect(inputs.filter((f) => f.startsWith('lambda/local/'))).toEqual([]);
  const imported = Object.values(result.metafile.inputs).flatMap((i) => i.imports.map((x) => x.path));
  expect(imported.filter((p) => /^(oidc-provider|koa)(\/|$)/.test(p))).toEqual([]);
  // The check can fail: the local server's entry does pull the provider in.
  const local = await build({ absWorkingDir: root, entryPoints: ['lambda/local/main.ts'], bundle: true, packages: 'external', platform: 'node', format: 'esm', write: false, metafile: true, logLevel: 'silent' });
  expect(Object.values(local.metafile.inputs).flatMap((i) => i.imports.map((x) => x.path))).toContain('oidc-provider');
});
