/**
 * Jest transform: TypeScript → CommonJS with esbuild (already a build dependency; no native extras).
 * Type checking is `tsc`'s job (`npm test` runs it first).
 */
const { transformSync } = require('esbuild');

module.exports = {
  process(source, filename) {
    const { code, map } = transformSync(source, {
      loader: 'ts',
      format: 'cjs',
      target: 'node20',
      sourcemap: 'inline',
      sourcefile: filename,
    });
    return { code, map };
  },
};
