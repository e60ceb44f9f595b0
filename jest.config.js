/** Tests run TypeScript directly through swc (no type checking: `npm run typecheck` does that). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/signaling', '<rootDir>/kurento', '<rootDir>/turn', '<rootDir>/web', '<rootDir>/deploy'],
  testMatch: ['**/test/**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }] },
  testTimeout: 60000,
  // Real services (Redis, coturn, Chromium) are started per test file; keep one file at a time on 2 cores.
  maxWorkers: 1,
};
