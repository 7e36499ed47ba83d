// The test-support package (`@outbox-relay/test-support`): what the tests of several packages share. Helpers
// that only one package's tests use stay in that package's test/support/.
export * from './env';
export * from './wait';
export * from './ports';
export * from './nats';
export * from './private-nats-cluster';
export * from './db';
export * from './relay';
export * from './processes';
export * from './child-scenario';
export * from './tcp-proxy';
export * from './private-postgres';
export * from './orphans';
export * from './local-tools';
export * from './containers';
export * from './test-services';
export * from './private-postgres-pair';
