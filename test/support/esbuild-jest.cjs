/**
 * Jest transform: TypeScript → CommonJS with esbuild (already a build dependency; no native extras).
 * Type checking is `tsc`'s job (`npm test` runs it first).
 */
const { transformSync } = require('esbuild');

module.exports = {
  process(source, filename) {
    const { code, map } = transformSync(source, {
      loader: filename.endsWith('.ts') ? 'ts' : 'js',
      format: 'cjs',
      target: 'node20',
      sourcemap: 'inline',
      sourcefile: filename,
    });
    return { code, map };
  },
};
