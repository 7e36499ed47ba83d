import { readFileSync } from 'node:fs';
import { credsAuthenticator } from '@nats-io/nats-core';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '@outbox-relay/runtime';

/** TLS to NATS from mounted files: the servers' CA, and a client certificate with its key (mutual TLS). */
export interface NatsTlsFiles {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/** How to reach NATS, as every process reads it from NATS_URL, NATS_CREDS_FILE and NATS_TLS_*. */
export interface NatsConnectionSettings {
  url: string;
  credsFile?: string;
  tls?: NatsTlsFiles;
}

/** The connection variables of `env` (relayEnvShape's). TLS is asked for only when one of its files is set. */
export function natsConnectionFromEnv(env: {
  NATS_URL: string;
  NATS_CREDS_FILE?: string;
  NATS_TLS_CA_FILE?: string;
  NATS_TLS_CERT_FILE?: string;
  NATS_TLS_KEY_FILE?: string;
}): NatsConnectionSettings {
  const tls = { caFile: env.NATS_TLS_CA_FILE, certFile: env.NATS_TLS_CERT_FILE, keyFile: env.NATS_TLS_KEY_FILE };
  const anyTls = Object.values(tls).some((v) => v !== undefined);
  return { url: env.NATS_URL, credsFile: env.NATS_CREDS_FILE, ...(anyTls ? { tls } : {}) };
}

/**
 * Connects to NATS and keeps reconnecting forever: while NATS is away the outbox simply holds events
 * (invariant 2), so giving up would only turn an outage into an outage plus a crash loop.
 */
export async function connectNats(options: { url: string; name: string; credsFile?: string; tls?: NatsTlsFiles; logger?: Logger }): Promise<NatsConnection> {
  const nc = await connect({
    // Read once at connect; the file is a mounted secret (NATS_CREDS_FILE).
    ...(options.credsFile ? { authenticator: credsAuthenticator(readFileSync(options.credsFile)) } : {}),
    // The client reads the files itself (NATS_TLS_*, mounted Secrets); an empty object still means "TLS only".
    ...(options.tls ? { tls: stripUndefined(options.tls) } : {}),
    servers: options.url.split(',').map((s) => s.trim()),
    name: options.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    reconnectJitter: 100,
    waitOnFirstConnect: true,
    // Every request would otherwise build an Error up front just to keep a stack trace for a possible timeout:
    // a quarter of the relay's CPU when publishing (measured with --cpu-prof), for traces nobody reads.
    noAsyncTraces: true,
  });
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect' || status.type === 'reconnect' || status.type === 'error') {
        options.logger?.warn({ nats: status.type, server: 'server' in status ? status.server : undefined }, `nats ${status.type}`);
      }
    }
  })().catch(() => undefined);
  return nc;
}

function stripUndefined(files: NatsTlsFiles): NatsTlsFiles {
  return Object.fromEntries(Object.entries(files).filter(([, v]) => v !== undefined));
}
