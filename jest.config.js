/** Tests run TypeScript directly through esbuild (scripts/jest-transform.js). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/signaling', '<rootDir>/kurento', '<rootDir>/turn', '<rootDir>/web', '<rootDir>/deploy'],
  testMatch: ['**/test/**/*.test.ts'],
  transform: {
    '^.+\\.ts$': '<rootDir>/scripts/jest-transform.js',
    // PGlite's CommonJS build loads Node built-ins with import(): turned into require() like ours.
    '/node_modules/@electric-sql/pglite/.+\\.cjs$': '<rootDir>/scripts/jest-transform.js',
  },
  transformIgnorePatterns: ['/node_modules/(?!@electric-sql/pglite/)'],
  testTimeout: 60000,
  // Real services (Redis, coturn, Chromium) are started per test file; keep one file at a time on 2 cores.
  maxWorkers: 1,
  // A run that would hang on a handle a failed test left open ends with its failure instead.
  reporters: ['default', '<rootDir>/scripts/jest-exit-guard.js'],
};
