export { relayProcessEnvSchema, type RelayProcessEnv } from './config';
export { createHealthServer } from './health-server';
