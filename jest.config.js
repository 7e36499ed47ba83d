/** Tests run the TypeScript sources directly (swc strips types; `npm run typecheck` checks them). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/services', '<rootDir>/test'],
  testMatch: ['**/test/**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } } }] },
  moduleNameMapper: {
    '^@outbox-relay/test-support$': '<rootDir>/test/support/mod.ts',
    '^@outbox-relay/([a-z-]+)/internal$': '<rootDir>/services/$1/src/internal.ts',
    '^@outbox-relay/([a-z-]+)$': '<rootDir>/services/$1/src/mod.ts',
  },
  // Where Postgres and NATS come from, decided once per run; containers when nothing local answers (test/support/test-services.ts).
  globalSetup: '<rootDir>/test/support/jest-global-setup.ts',
  globalTeardown: '<rootDir>/test/support/jest-global-teardown.ts',
  testTimeout: 60000,
  maxWorkers: 2,
};
