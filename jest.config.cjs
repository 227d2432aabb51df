/** Jest runs the TypeScript sources through esbuild as CommonJS; the SDK packages ship CJS builds too. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // jose ships only ES modules: esbuild turns it into CommonJS like our sources.
  transform: {
    '^.+\\.ts$': '<rootDir>/test/support/esbuild-jest.cjs',
    '/node_modules/jose/.+\\.js$': '<rootDir>/test/support/esbuild-jest.cjs',
  },
  transformIgnorePatterns: ['/node_modules/(?!jose/)'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testTimeout: 30000,
  maxWorkers: 2,
};
