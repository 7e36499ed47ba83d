import { readFileSync } from 'node:fs';
import { credsAuthenticator } from '@nats-io/nats-core';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '@outbox-relay/runtime';

/**
 * Connects to NATS and keeps reconnecting forever: while NATS is away the outbox simply holds events
 * (invariant 2), so giving up would only turn an outage into an outage plus a crash loop.
 */
export async function connectNats(options: { url: string; name: string; credsFile?: string; logger?: Logger }): Promise<NatsConnection> {
  const nc = await connect({
    // Read once at connect; the file is a mounted secret (NATS_CREDS_FILE).
    ...(options.credsFile ? { authenticator: credsAuthenticator(readFileSync(options.credsFile)) } : {}),
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
