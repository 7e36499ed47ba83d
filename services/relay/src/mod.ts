export { relayProcessEnvSchema, type RelayProcessEnv } from './config';
export { createRelayHttp, type RelayHttpOptions } from './relay-http';
