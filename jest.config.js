/** Tests run the TypeScript sources directly (swc strips types; `npm run typecheck` checks them). */
const ESM_ONLY_DEPENDENCIES = ['node-pg-migrate', 'commander', '@kubernetes/client-node'];

module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/services', '<rootDir>/test'],
  testMatch: ['**/test/**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2023', parser: { syntax: 'typescript' } } }],
    // Dependencies that ship only ESM: Node 22.12+ require()s them natively, jest's module system does not (jest
    // does on Node >= 24.9 with --experimental-vm-modules only), so they are compiled to CommonJS for the tests.
    '^.+\\.m?js$': ['@swc/jest', { jsc: { target: 'es2023' }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${ESM_ONLY_DEPENDENCIES.join('|')})/)`],
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
