export { relayProcessEnvSchema, type RelayProcessEnv } from './config';
export { createHealthServer, listen } from './health-server';
